import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError } from '../../api/client';
import { Alert, Button, buttonClass, Loading, TextField } from '../../components';
import { useT } from '../../i18n';
import { post } from '../../api/client';
import { Link, useNavigate, useSearchParams } from '../../router';
import { paths } from '../../routes';
import { useSession } from '../../session';
import { errorKey, loadMembersConfig, providerStartUrl, type MembersConfig } from './members';
import { signinStrings } from './strings';
import './signin.css';
import { SigninFrame } from './SigninFrame';

const LAST_ACCOUNT = 'basalt.lastAccount';
const LAST_USER = 'basalt.lastUser';

/** Only same-origin page paths are followed after sign-in. */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return paths.catalog;
  if (next === '/' || next.startsWith(paths.signin)) return paths.catalog;
  return next;
}

function remembered(key: string): string {
  try {
    return localStorage.getItem(key) ?? '';
  } catch {
    return '';
  }
}

export default function SignInPage() {
  const t = useT(signinStrings);
  const { state, signIn, refresh } = useSession();
  const navigate = useNavigate();
  const params = useSearchParams();
  const next = safeNext(params.get('next'));
  const rawNext = params.get('next');
  const memberNext = rawNext && safeNext(rawNext) === rawNext ? rawNext : null;
  const callbackError = params.get('error');

  const [members, setMembers] = useState<MembersConfig | null>(null);
  const [email, setEmail] = useState('');
  const [memberPassword, setMemberPassword] = useState('');
  const [memberBusy, setMemberBusy] = useState(false);
  const [memberError, setMemberError] = useState<ApiError | null>(null);
  const [memberMissing, setMemberMissing] = useState<Record<string, boolean>>({});

  useEffect(() => {
    let live = true;
    void loadMembersConfig().then((c) => {
      if (live) setMembers(c);
    });
    return () => {
      live = false;
    };
  }, []);

  const [account, setAccount] = useState(() => remembered(LAST_ACCOUNT));
  const [userName, setUserName] = useState(() => remembered(LAST_USER));
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [missing, setMissing] = useState<Record<string, boolean>>({});
  const [retryAt, setRetryAt] = useState<number | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const firstField = useRef<HTMLInputElement>(null);
  const passwordField = useRef<HTMLInputElement>(null);

  useEffect(() => {
    document.title = `${t('title')} · Basalt`;
  }, [t]);

  // Already signed in (or just signed in): go where the user was going.
  useEffect(() => {
    if (state.status === 'signedIn') navigate(next, { replace: true });
  }, [state.status, next, navigate]);

  useEffect(() => {
    if (state.status !== 'signedOut') return;
    if (account && userName) passwordField.current?.focus();
    else firstField.current?.focus();
  }, [state.status]);

  // With member e-mail sign-in offered and no console user remembered, start there.
  useEffect(() => {
    if (state.status === 'signedOut' && members?.signup && !account && !userName) {
      document.getElementById('member-email')?.focus();
    }
    // Only when the members' options arrive or the form first shows.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [members, state.status]);

  // Count down a throttling lockout.
  useEffect(() => {
    if (retryAt === null) return;
    const id = window.setInterval(() => {
      setNow(Date.now());
      if (Date.now() >= retryAt) window.clearInterval(id);
    }, 1000);
    return () => window.clearInterval(id);
  }, [retryAt]);

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const m = { account: !account.trim(), userName: !userName.trim(), password: !password };
    setMissing(m);
    if (m.account || m.userName || m.password) {
      (m.account ? firstField.current : m.userName ? document.getElementById('signin-user') : passwordField.current)?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await signIn(account.trim(), userName.trim(), password);
      try {
        localStorage.setItem(LAST_ACCOUNT, account.trim());
        localStorage.setItem(LAST_USER, userName.trim());
      } catch {
        /* storage unavailable */
      }
    } catch (err) {
      const apiErr = err instanceof ApiError ? err : new ApiError(0, '', String(err));
      setError(apiErr);
      setRetryAt(apiErr.status === 429 && apiErr.retryAfter !== null ? Date.now() + apiErr.retryAfter * 1000 : null);
      setNow(Date.now());
      setPassword('');
      passwordField.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  const onMemberSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const m = { email: !email.trim(), password: !memberPassword };
    setMemberMissing(m);
    if (m.email || m.password) {
      document.getElementById(m.email ? 'member-email' : 'member-password')?.focus();
      return;
    }
    setMemberBusy(true);
    setMemberError(null);
    try {
      await post('/members/signin', { email: email.trim(), password: memberPassword }, { noAuthRedirect: true });
      await refresh();
    } catch (err) {
      setMemberError(err instanceof ApiError ? err : new ApiError(0, '', String(err)));
      setMemberPassword('');
      document.getElementById('member-password')?.focus();
    } finally {
      setMemberBusy(false);
    }
  };

  if (state.status === 'loading' || state.status === 'signedIn') {
    return (
      <div className="fullpage-center">
        <Loading />
      </div>
    );
  }

  const secondsLeft = retryAt !== null ? Math.max(0, Math.ceil((retryAt - now) / 1000)) : null;

  return (
    <SigninFrame footer={t('footer')}>
      <h1 className="signin-title">{t('heading')}</h1>
      {callbackError && (
        <Alert tone="error" title={t('errorTitle')} className="signin-error">
          <p data-testid="signin-callback-error">{t(errorKey(callbackError))}</p>
        </Alert>
      )}
      {members && (members.providers.length > 0 || members.signup) && (
        <section className="signin-members" aria-labelledby="signin-members-heading">
          <h2 id="signin-members-heading" className="signin-subtitle">
            {t('membersHeading')}
          </h2>
          {members.providers.length > 0 && (
            <ul className="signin-providers">
              {members.providers.map((p) => (
                <li key={p.id}>
                  <a className={`${buttonClass('normal')} signin-provider`} href={providerStartUrl(p.id, memberNext)}>
                    {t('withProvider', { label: p.label })}
                  </a>
                </li>
              ))}
            </ul>
          )}
          {members.signup && (
            <>
              {members.providers.length > 0 && <p className="signin-or muted">{t('or')}</p>}
              <p className="muted">{t('memberIntro')}</p>
              {memberError && (
                <Alert tone="error" title={t('failedTitle')} className="signin-error">
                  <p>{memberError.message}</p>
                </Alert>
              )}
              <form className="stack" onSubmit={onMemberSubmit} noValidate aria-label={t('memberSubmit')}>
                <TextField
                  id="member-email"
                  label={t('email')}
                  type="email"
                  name="email"
                  autoComplete="email"
                  autoCapitalize="off"
                  spellCheck={false}
                  value={email}
                  required
                  error={memberMissing.email ? t('required', { field: t('email') }) : undefined}
                  onChange={(e) => setEmail(e.target.value)}
                />
                <TextField
                  id="member-password"
                  label={t('password')}
                  type="password"
                  name="member-password"
                  autoComplete="current-password"
                  value={memberPassword}
                  required
                  error={memberMissing.password ? t('required', { field: t('password') }) : undefined}
                  onChange={(e) => setMemberPassword(e.target.value)}
                />
                <Button type="submit" variant="primary" loading={memberBusy} className="signin-submit">
                  {memberBusy ? t('signingIn') : t('memberSubmit')}
                </Button>
              </form>
              <p className="signin-note">
                {t('noAccount')}{' '}
                <Link to={memberNext ? `/signup?next=${encodeURIComponent(memberNext)}` : '/signup'}>
                  {t('createAccount')}
                </Link>
              </p>
            </>
          )}
          <h2 className="signin-subtitle signin-console-heading">{t('consoleHeading')}</h2>
        </section>
      )}
      <p className="muted">{t('intro')}</p>
      {error && (
        <Alert tone="error" title={t('failedTitle')} className="signin-error">
          <p>{error.message}</p>
          {secondsLeft !== null && (
            <p className="signin-retry">
              {secondsLeft > 0 ? t('throttledRetry', { seconds: secondsLeft }) : t('throttledNow')}
            </p>
          )}
        </Alert>
      )}
      <form className="stack" onSubmit={onSubmit} noValidate>
        <TextField
          ref={firstField}
          id="signin-account"
          label={t('account')}
          hint={t('accountHint')}
          name="account"
          autoComplete="organization"
          autoCapitalize="off"
          spellCheck={false}
          value={account}
          required
          error={missing.account ? t('required', { field: t('account') }) : undefined}
          onChange={(e) => setAccount(e.target.value)}
        />
        <TextField
          id="signin-user"
          label={t('userName')}
          name="username"
          autoComplete="username"
          autoCapitalize="off"
          spellCheck={false}
          value={userName}
          required
          error={missing.userName ? t('required', { field: t('userName') }) : undefined}
          onChange={(e) => setUserName(e.target.value)}
        />
        <TextField
          ref={passwordField}
          id="signin-password"
          label={t('password')}
          type="password"
          name="password"
          autoComplete="current-password"
          value={password}
          required
          error={missing.password ? t('required', { field: t('password') }) : undefined}
          onChange={(e) => setPassword(e.target.value)}
        />
        <Button type="submit" variant="primary" loading={busy} className="signin-submit">
          {busy ? t('signingIn') : t('submit')}
        </Button>
      </form>
      <p className="signin-note muted">{t('firstTime')}</p>
    </SigninFrame>
  );
}
