import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
  type ReactNode,
} from 'react';
import { ApiError, api, setCsrfToken, setUnauthorizedHandler } from './api/client';
import type { Session } from './api/types';
import { navigateTo } from './router';
import { paths } from './routes';

// The session context: GET /console/api/session on start; sign in and out.

export type SessionState =
  | { status: 'loading' }
  | { status: 'signedOut' }
  | { status: 'error'; error: ApiError }
  | { status: 'signedIn'; session: Session };

interface SessionContextValue {
  state: SessionState;
  /** The signed-in session, or null. */
  session: Session | null;
  signIn: (account: string, userName: string, password: string) => Promise<Session>;
  signOut: () => Promise<void>;
  refresh: () => Promise<void>;
}

const SessionContext = createContext<SessionContextValue | null>(null);

/** Where a signed-out user is sent: /signin?next=<where they were going>. */
export function signInPath(): string {
  const { pathname, search } = window.location;
  if (pathname === paths.signin) return paths.signin + search;
  const next = pathname + search;
  return next === '/' ? paths.signin : `${paths.signin}?next=${encodeURIComponent(next)}`;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ status: 'loading' });

  const apply = useCallback((s: Session | null) => {
    setCsrfToken(s?.csrfToken ?? null);
    setState(s ? { status: 'signedIn', session: s } : { status: 'signedOut' });
  }, []);

  const refresh = useCallback(async () => {
    try {
      const s = await api<Session>('/session', { noAuthRedirect: true });
      apply(s);
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) apply(null);
      else setState({ status: 'error', error: e as ApiError });
    }
  }, [apply]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      const to = signInPath();
      apply(null);
      navigateTo(to, { replace: true });
    });
    return () => setUnauthorizedHandler(null);
  }, [apply]);

  const signIn = useCallback(
    async (account: string, userName: string, password: string) => {
      const s = await api<Session>('/session', {
        method: 'POST',
        body: { account, userName, password },
        noAuthRedirect: true,
      });
      apply(s);
      return s;
    },
    [apply],
  );

  const signOut = useCallback(async () => {
    try {
      await api('/session', { method: 'DELETE', noAuthRedirect: true });
    } catch {
      /* the session may be gone already */
    }
    apply(null);
    navigateTo(paths.signin, { replace: true });
  }, [apply]);

  const value = useMemo(
    () => ({
      state,
      session: state.status === 'signedIn' ? state.session : null,
      signIn,
      signOut,
      refresh,
    }),
    [state, signIn, signOut, refresh],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const v = useContext(SessionContext);
  if (!v) throw new Error('useSession outside SessionProvider');
  return v;
}

/** The signed-in session; only for pages rendered inside the signed-in shell. */
export function useRequiredSession(): Session {
  const { session } = useSession();
  if (!session) throw new Error('no session');
  return session;
}

/** True for users the console treats as administrators (user and model management). */
export function isAdmin(s: Session | null): boolean {
  return !!s && (s.can.manageUsers || s.can.manageModels || s.can.approveAccess);
}
