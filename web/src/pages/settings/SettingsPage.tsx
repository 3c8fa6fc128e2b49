import { useId, useState } from 'react';
import { ApiError, put } from '../../api/client';
import { Button, Card, NoticeAlert, PageHeader, TextField, type Notice } from '../../components';
import { LANGS, useFormat, useLang, useT, type Lang } from '../../i18n';
import { common } from '../../i18n/strings';
import { useRequiredSession } from '../../session';
import { passwordProblem } from '../keys/admin';
import { settingsStrings } from './strings';
import '../usage/usage.css';
import '../users/users.css';
import './settings.css';

export default function SettingsPage() {
  const t = useT(settingsStrings);
  const tc = useT(common);
  const fmt = useFormat();
  const session = useRequiredSession();
  const { lang, setLang } = useLang();
  const langName = useId();
  return (
    <>
      <PageHeader title={t('title')} description={t('description')} />
      <div className="settings-grid">
        <Card title={t('profile')}>
          <dl className="detail-list">
            <dt>{t('userName')}</dt>
            <dd>
              <strong>{session.user.UserName}</strong>
            </dd>
            <dt>{t('account')}</dt>
            <dd>
              {session.user.AccountName} <span className="muted">({session.user.AccountId})</span>
            </dd>
            <dt>{t('arn')}</dt>
            <dd>
              <code className="settings-arn">{session.user.Arn}</code>
            </dd>
            <dt>{t('region')}</dt>
            <dd>
              <code>{session.region}</code>
            </dd>
            <dt>{t('sessionEnds')}</dt>
            <dd>{fmt.dateTime(session.expiresAt)}</dd>
          </dl>
        </Card>
        <Card title={t('languageTitle')}>
          <fieldset className="checks">
            <legend className="field-label">{t('languageLegend')}</legend>
            <p className="field-hint">{t('languageHelp')}</p>
            {LANGS.map((l: Lang) => (
              <label key={l} className="check" lang={l}>
                <input type="radio" name={langName} value={l} checked={lang === l} onChange={() => setLang(l)} />
                {l === 'ko' ? tc('langKo') : tc('langEn')}
              </label>
            ))}
          </fieldset>
        </Card>
        <PasswordCard />
      </div>
    </>
  );
}

function PasswordCard() {
  const t = useT(settingsStrings);
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<{ current?: string; next?: string; confirm?: string }>({});
  const [result, setResult] = useState<Notice>(null);
  const [busy, setBusy] = useState(false);

  const submit = async () => {
    const e: typeof errors = {};
    if (!current) e.current = t('currentRequired');
    const p = passwordProblem(next);
    if (p) e.next = p;
    else if (next !== confirm) e.confirm = t('passwordsDiffer');
    setErrors(e);
    setResult(null);
    if (Object.keys(e).length) return;
    setBusy(true);
    try {
      await put('/session/password', { currentPassword: current, newPassword: next });
      setCurrent('');
      setNext('');
      setConfirm('');
      setResult({ tone: 'success', text: t('changed') });
    } catch (err) {
      const msg = err instanceof ApiError ? err.message : String(err);
      if (err instanceof ApiError && /current password/i.test(msg)) setErrors({ current: msg });
      else setResult({ tone: 'error', text: msg });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title={t('passwordTitle')} className="settings-password">
      <form
        className="stack settings-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <p className="muted" style={{ margin: 0 }}>
          {t('passwordHelp')}
        </p>
        <TextField
          label={t('currentPassword')}
          type="password"
          autoComplete="current-password"
          value={current}
          onChange={(e) => setCurrent(e.target.value)}
          error={errors.current}
        />
        <TextField
          label={t('newPassword')}
          type="password"
          autoComplete="new-password"
          hint={t('passwordHint')}
          value={next}
          onChange={(e) => setNext(e.target.value)}
          error={errors.next}
        />
        <TextField
          label={t('confirmPassword')}
          type="password"
          autoComplete="new-password"
          value={confirm}
          onChange={(e) => setConfirm(e.target.value)}
          error={errors.confirm}
        />
        <NoticeAlert notice={result} onDismiss={() => setResult(null)} />
        <div>
          <Button type="submit" variant="primary" loading={busy}>
            {t('change')}
          </Button>
        </div>
      </form>
    </Card>
  );
}
