import { lazy, Suspense, useEffect, useRef, type ComponentType, type LazyExoticComponent, type ReactNode } from 'react';
import { Alert, Button, buttonClass, EmptyState, Icon, LanguageMenu, Loading, MenuButton } from './components';
import { useT } from './i18n';
import { common } from './i18n/strings';
import { Link, useLocation, useNavigate } from './router';
import { matchRoute, paths, type Route } from './routes';
import { isAdmin, signInPath, useSession } from './session';
import SignInPage from './pages/signin/SignInPage';
import CatalogPage from './pages/catalog/CatalogPage';

// Pages other than the first ones load on demand, so the first page stays small.
const ModelPage = lazy(() => import('./pages/catalog/ModelPage'));
const AccessPage = lazy(() => import('./pages/access/AccessPage'));
const ChatPage = lazy(() => import('./pages/playground/ChatPage'));
const TextPage = lazy(() => import('./pages/playground/TextPage'));
const ImagePage = lazy(() => import('./pages/playground/ImagePage'));
const UsagePage = lazy(() => import('./pages/usage/UsagePage'));
const KeysPage = lazy(() => import('./pages/keys/KeysPage'));
const UsersPage = lazy(() => import('./pages/users/UsersPage'));
const ModelsPage = lazy(() => import('./pages/models/ModelsPage'));
const SettingsPage = lazy(() => import('./pages/settings/SettingsPage'));
const AppPage = lazy(() => import('./pages/apps/AppPage'));
const AppsPage = lazy(() => import('./pages/backstage/AppsPage'));
const DiscoverPage = lazy(() => import('./pages/backstage/DiscoverPage'));
const BackstagePage = lazy(() => import('./pages/backstage/BackstagePage'));
const SignUpPage = lazy(() => import('./pages/signin/SignUpPage'));

type PageComponent = ComponentType | LazyExoticComponent<ComponentType>;

const PAGES: Partial<Record<Route['name'], PageComponent>> = {
  catalog: CatalogPage,
  access: AccessPage,
  chat: ChatPage,
  text: TextPage,
  image: ImagePage,
  usage: UsagePage,
  keys: KeysPage,
  users: UsersPage,
  models: ModelsPage,
  settings: SettingsPage,
  apps: AppsPage,
  discover: DiscoverPage,
  backstage: BackstagePage,
};

export function App() {
  const { state } = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  const route = matchRoute(location.pathname);
  const t = useT(common);

  // Redirects: "/" goes to the catalog; signed-out users go to /signin?next=...; a signed-in
  // user on /signin goes on to where they were going.
  useEffect(() => {
    if (state.status === 'signedOut' && route.name !== 'signin' && route.name !== 'signup')
      navigate(signInPath(), { replace: true });
    else if (state.status === 'signedIn' && route.name === 'home') navigate(paths.catalog, { replace: true });
  }, [state.status, route.name, navigate]);

  if (route.name === 'signin') return <SignInPage />;
  if (route.name === 'signup')
    return (
      <Suspense fallback={<Loading />}>
        <SignUpPage />
      </Suspense>
    );
  if (state.status === 'loading' || (state.status === 'signedIn' && route.name === 'home'))
    return (
      <div className="fullpage-center">
        <Loading />
      </div>
    );
  if (state.status === 'error')
    return (
      <div className="fullpage-center">
        <Alert tone="error" title={t('sessionErrorTitle')} action={<Button onClick={() => window.location.reload()}>{t('retry')}</Button>}>
          {state.error.message}
        </Alert>
      </div>
    );
  if (state.status === 'signedOut') return null;

  let page: ReactNode;
  if (route.name === 'model') page = <ModelPage key={route.id} id={route.id} />;
  else if (route.name === 'app') page = <AppPage key={route.id} appId={route.id} />;
  else if (route.name === 'shared') page = <AppPage key={route.token} shareToken={route.token} />;
  else {
    const Page = PAGES[route.name];
    page = Page ? <Page /> : <NotFound />;
  }
  return (
    <Shell route={route}>
      <Suspense fallback={<Loading />}>{page}</Suspense>
    </Shell>
  );
}

function NotFound() {
  const t = useT(common);
  useEffect(() => {
    document.title = `${t('notFoundTitle')} · Basalt`;
  }, [t]);
  return (
    <>
      <h1 className="visually-hidden">{t('notFoundTitle')}</h1>
      <EmptyState
        title={t('notFoundTitle')}
        action={
          <Link to={paths.catalog} className={buttonClass('primary')}>
            {t('goToCatalog')}
          </Link>
        }
      >
        {t('notFoundBody')}
      </EmptyState>
    </>
  );
}

function BrandMark() {
  return (
    <svg className="brand-mark" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
      <rect width="32" height="32" rx="6" fill="#ff9900" />
      <path d="M7 23 L13 11 L17 17 L20 13 L25 23 Z" fill="#16202e" />
    </svg>
  );
}

function Shell({ route, children }: { route: Route; children: ReactNode }) {
  const t = useT(common);
  const { session, signOut } = useSession();
  const navigate = useNavigate();
  const mainRef = useRef<HTMLElement>(null);
  const s = session!;
  const admin = isAdmin(s);

  // Move focus to the main area on page changes, as a screen reader user expects.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    mainRef.current?.focus({ preventScroll: true });
  }, [route.name]);

  const nav = (to: string, label: string, active: boolean) => (
    <li>
      <Link to={to} className="nav-link" aria-current={active ? 'page' : undefined}>
        {label}
      </Link>
    </li>
  );
  const r = route.name;

  return (
    <>
      <a className="skip-link" href="#main">
        {t('skipToContent')}
      </a>
      <header className="topbar">
        <Link to={paths.catalog} className="brand">
          <BrandMark />
          {t('productName')}
        </Link>
        <span className="topbar-region" aria-label={t('regionLabel', { region: s.region })}>
          {s.region}
        </span>
        <span className="spacer" />
        <LanguageMenu />
        <MenuButton
          className="topbar-user"
          ariaLabel={t('userMenu', { user: `${s.user.UserName} @ ${s.user.AccountName}` })}
          label={<><Icon name="user" /><span className="user-name">{s.user.UserName} @ {s.user.AccountName}</span></>}
          header={
            <>
              <div className="muted">{t('signedInAs')}</div>
              <div>
                <strong>{s.user.UserName}</strong>
              </div>
              <div className="muted">
                {t('account')}: {s.user.AccountName} ({s.user.AccountId})
              </div>
            </>
          }
          items={[
            { key: 'settings', label: t('settings'), onSelect: () => navigate(paths.settings) },
            { key: 'signout', label: t('signOut'), onSelect: () => void signOut() },
          ]}
        />
      </header>
      <div className="layout">
        <nav className="sidenav" aria-label={t('mainNav')}>
          <ul>
            {nav(paths.catalog, t('navCatalog'), r === 'catalog' || r === 'model')}
            {nav(paths.access, t('navAccess'), r === 'access')}
          </ul>
          <div className="nav-group-title" id="nav-playgrounds">
            {t('navPlaygrounds')}
          </div>
          <ul className="nav-sub" aria-labelledby="nav-playgrounds">
            {nav(paths.chat, t('navChat'), r === 'chat')}
            {nav(paths.text, t('navText'), r === 'text')}
            {nav(paths.image, t('navImage'), r === 'image')}
          </ul>
          <div className="nav-group-title" id="nav-apps">
            {t('navApps')}
          </div>
          <ul className="nav-sub" aria-labelledby="nav-apps">
            {nav(paths.apps, t('navMyApps'), r === 'apps' || r === 'app')}
            {nav(paths.discover, t('navDiscover'), r === 'discover' || r === 'shared')}
            {nav(paths.backstage, t('navBackstage'), r === 'backstage')}
          </ul>
          <ul>
            {nav(paths.usage, t('navUsage'), r === 'usage')}
            {nav(paths.keys, t('navKeys'), r === 'keys')}
          </ul>
          {admin && (
            <>
              <div className="nav-group-title" id="nav-admin">
                {t('navAdmin')}
              </div>
              <ul aria-labelledby="nav-admin">
                {s.can.manageUsers && nav(paths.users, t('navUsers'), r === 'users')}
                {s.can.manageModels && nav(paths.models, t('navModels'), r === 'models')}
              </ul>
            </>
          )}
        </nav>
        <main id="main" className="main" ref={mainRef} tabIndex={-1}>
          {children}
        </main>
      </div>
    </>
  );
}
