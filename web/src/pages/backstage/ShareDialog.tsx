import { useEffect, useId, useRef, useState } from 'react';
import { ApiError } from '../../api/client';
import { Alert, Badge, Button, CopyButton, Dialog } from '../../components';
import { useT } from '../../i18n';
import { appsApi, shareLink, type AppInfo } from './appsApi';
import { backstageStrings } from './strings';
import './backstage.css';

/** Share an app: make it public (a link anyone signed in can open and run), copy the link,
 *  list it in Discover, or withdraw the link (PUT / DELETE /basalt/apps/{id}/share).
 *  `onChange` receives the app as the server returns it after each change. */
export function ShareDialog({
  app,
  open,
  onClose,
  onChange,
}: {
  app: AppInfo;
  open: boolean;
  onClose: () => void;
  onChange: (app: AppInfo) => void;
}) {
  const t = useT(backstageStrings);
  const [busy, setBusy] = useState<'share' | 'list' | 'withdraw' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  // Listed is chosen before the app is public too (it goes with "Make public").
  const [listed, setListed] = useState(app.listed);
  const linkRef = useRef<HTMLInputElement>(null);
  const makePublicRef = useRef<HTMLButtonElement>(null);
  const focusNext = useRef<'link' | 'makePublic' | null>(null);
  const linkId = useId();
  const listId = useId();
  const isPublic = app.visibility === 'public';
  const link = isPublic ? shareLink(app) : undefined;

  useEffect(() => {
    if (open) {
      setError(null);
      setStatus(null);
      setListed(app.listed);
    }
    // Reset only when the dialog opens.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open]);

  useEffect(() => setListed(app.listed), [app.listed]);

  // The control that was pressed disappears when the state flips: move focus to the one
  // that takes its place so that it stays in the dialog.
  useEffect(() => {
    if (focusNext.current === 'link') linkRef.current?.focus();
    else if (focusNext.current === 'makePublic') makePublicRef.current?.focus();
    focusNext.current = null;
  }, [isPublic]);

  const act = async (kind: 'share' | 'list' | 'withdraw', fn: () => Promise<AppInfo>, ok: string) => {
    setBusy(kind);
    setError(null);
    setStatus(null);
    try {
      const updated = await fn();
      if (kind === 'share') focusNext.current = 'link';
      if (kind === 'withdraw') focusNext.current = 'makePublic';
      onChange(updated);
      setStatus(ok);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
      if (kind === 'list') setListed(app.listed);
    } finally {
      setBusy(null);
    }
  };

  return (
    <Dialog
      open={open}
      onClose={() => {
        if (!busy) onClose();
      }}
      title={t('shareTitle', { title: app.title })}
      footer={<Button onClick={onClose} disabled={busy !== null}>{t('done')}</Button>}
    >
      <div className="stack share-dialog">
        <p className="share-state">
          {isPublic ? <Badge tone="success">{t('sharedBadge')}</Badge> : <Badge>{t('privateBadge')}</Badge>}{' '}
          {isPublic ? t('sharePublic') : t('sharePrivate')}
        </p>
        {isPublic && link && (
          <div className="field">
            <label htmlFor={linkId} className="field-label">
              {t('shareLink')}
            </label>
            <div className="share-link-row">
              <input
                id={linkId}
                ref={linkRef}
                className="input share-link"
                readOnly
                value={link}
                onFocus={(e) => e.currentTarget.select()}
              />
              <CopyButton text={link} label={t('copyLink')} size="md" />
            </div>
          </div>
        )}
        <label className="share-listed">
          <input
            id={listId}
            type="checkbox"
            className="checkbox"
            checked={listed}
            aria-describedby={`${listId}-hint`}
            disabled={busy !== null}
            onChange={(e) => {
              const next = e.target.checked;
              setListed(next);
              if (isPublic)
                void act('list', () => appsApi.share(app.appId, next), next ? t('listedNow') : t('unlistedNow'));
            }}
          />
          <span>
            {t('listInDiscover')}
            <span id={`${listId}-hint`} className="field-hint share-hint">
              {t('listInDiscoverHint')}
            </span>
          </span>
        </label>
        {isPublic ? (
          <div className="share-withdraw">
            <Button
              variant="danger"
              loading={busy === 'withdraw'}
              disabled={busy !== null && busy !== 'withdraw'}
              onClick={() => void act('withdraw', () => appsApi.unshare(app.appId), t('withdrawn'))}
            >
              {t('withdraw')}
            </Button>
            <span className="field-hint">{t('withdrawHint')}</span>
          </div>
        ) : (
          <div>
            <Button
              ref={makePublicRef}
              variant="primary"
              loading={busy === 'share'}
              disabled={busy !== null && busy !== 'share'}
              onClick={() => void act('share', () => appsApi.share(app.appId, listed), t('madePublic'))}
            >
              {t('makePublic')}
            </Button>
          </div>
        )}
        {error && <Alert tone="error">{error}</Alert>}
        {status && !error && (
          <Alert tone="success" live>
            {status}
          </Alert>
        )}
      </div>
    </Dialog>
  );
}

export default ShareDialog;
