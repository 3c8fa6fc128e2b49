// Self-service sign-up for members (docs/apps.md, "Members"): e-mail, optional name and a
// password; the server makes the member's own space and signs them in.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, post } from '../../api/client';
import { Alert, Button, Loading, TextField } from '../../components';
import { useT } from '../../i18n';
import { Link, useNavigate, useSearchParams } from '../../router';
import { paths } from '../../routes';
import { useSession } from '../../session';
import { loadMembersConfig, type MembersConfig } from './members';
import { safeNext } from './SignInPage';
import { signinStrings } from './strings';
import './signin.css';
import { SigninFrame } from './SigninFrame';

const EMAIL = /^[^\s@"(),:;<>[\]\\]+@[^\s@"(),:;<>[\]\\]+\.[^\s@"(),:;<>[\]\\]+$/;

export default function SignUpPage() {
  const t = useT(signinStrings);
  const { state, refresh } = useSession();
  const navigate = useNavigate();
  const params = useSearchParams();
  const rawNext = params.get('next');
  const next = rawNext && safeNext(rawNext) === rawNext ? rawNext : '/apps';

  const [config, setConfig] = useState<MembersConfig | null>(null);
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [problems, setProblems] = useState<Record<string, string>>({});
  const emailField = useRef<HTMLInputElement>(null);

  useEffect(() => {
    document.title = `${t('signupTitle')} · Basalt`;
  }, [t]);

  useEffect(() => {
    let live = true;
    void loadMembersConfig().then((c) => {
      if (live) setConfig(c);
    });
    return () => {
      live = false;
    };
  }, []);

  useEffect(() => {
    if (state.status === 'signedIn') navigate(next, { replace: true });
  }, [state.status, next, navigate]);

  useEffect(() => {
    if (config?.signup) emailField.current?.focus();
  }, [config]);

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const p: Record<string, string> = {};
    if (!email.trim()) p.email = t('required', { field: t('email') });
    else if (!EMAIL.test(email.trim())) p.email = t('emailInvalid');
    if (!password) p.password = t('required', { field: t('newPassword') });
    else if ([...password].length < 8) p.password = t('passwordShort');
    if (!p.password && confirm !== password) p.confirm = t('passwordsDiffer');
    setProblems(p);
    const first = ['email', 'password', 'confirm'].find((k) => p[k]);
    if (first) {
      document.getElementById(`signup-${first}`)?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, string> = { email: email.trim(), password };
      if (name.trim()) body.name = name.trim();
      await post('/members/signup', body, { noAuthRedirect: true });
      await refresh();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, '', String(err)));
      document.getElementById('signup-error')?.focus();
    } finally {
      setBusy(false);
    }
  };

  if (state.status === 'loading' || state.status === 'signedIn' || config === null) {
    return (
      <div className="fullpage-center">
        <Loading />
      </div>
    );
  }

  const signinLink = rawNext ? `${paths.signin}?next=${encodeURIComponent(next)}` : paths.signin;

  return (
    <SigninFrame footer={t('footer')}>
      <h1 className="signin-title">{t('signupTitle')}</h1>
      {!config.signup ? (
        <Alert tone="info" title={t('signupTitle')}>
          <p>{t('signupOff')}</p>
        </Alert>
      ) : (
        <>
          <p className="muted">{t('signupIntro')}</p>
          {error && (
            <div id="signup-error" tabIndex={-1}>
              <Alert tone="error" title={t('signupFailed')} className="signin-error">
                <p>{error.message}</p>
              </Alert>
            </div>
          )}
          <form className="stack" onSubmit={onSubmit} noValidate>
            <TextField
              ref={emailField}
              id="signup-email"
              label={t('email')}
              type="email"
              name="email"
              autoComplete="email"
              autoCapitalize="off"
              spellCheck={false}
              value={email}
              required
              error={problems.email}
              onChange={(e) => setEmail(e.target.value)}
            />
            <TextField
              id="signup-name"
              label={t('name')}
              hint={t('nameHint')}
              name="name"
              autoComplete="name"
              maxLength={64}
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
            <TextField
              id="signup-password"
              label={t('newPassword')}
              hint={t('passwordHint')}
              type="password"
              name="new-password"
              autoComplete="new-password"
              value={password}
              required
              error={problems.password}
              onChange={(e) => setPassword(e.target.value)}
            />
            <TextField
              id="signup-confirm"
              label={t('confirmPassword')}
              type="password"
              name="confirm-password"
              autoComplete="new-password"
              value={confirm}
              required
              error={problems.confirm}
              onChange={(e) => setConfirm(e.target.value)}
            />
            <Button type="submit" variant="primary" loading={busy} className="signin-submit">
              {busy ? t('signingUp') : t('signupSubmit')}
            </Button>
          </form>
        </>
      )}
      <p className="signin-note">
        {t('haveAccount')} <Link to={signinLink}>{t('signInInstead')}</Link>
      </p>
    </SigninFrame>
  );
}
