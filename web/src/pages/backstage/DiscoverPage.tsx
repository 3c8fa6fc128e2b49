import { useApi } from '../../api/useApi';
import { Badge, buttonClass, Card, EmptyState, LoadFailedAlert, Loading, PageHeader } from '../../components';
import { useT } from '../../i18n';
import { Link } from '../../router';
import { paths } from '../../routes';
import { appsApi, shareTokenOf, widgetCount, type AppInfo } from './appsApi';
import { RemixButton } from './RemixButton';
import { backstageStrings } from './strings';
import './backstage.css';

/** Discover (/discover): public, listed apps (the seeded samples among them); open one to run
 *  it with your own credits, or remix it into your account. */
export default function DiscoverPage() {
  const t = useT(backstageStrings);
  const apps = useApi((s) => appsApi.discover(s), []);
  const list = apps.data ?? [];

  let body;
  if (!apps.data && apps.loading) body = <Loading />;
  else if (apps.error && !apps.data)
    body = <LoadFailedAlert title={t('discoverLoadFailed')} error={apps.error} onRetry={() => void apps.reload()} />;
  else if (list.length === 0)
    body = (
      <Card>
        <EmptyState title={t('discoverEmptyTitle')}>{t('discoverEmptyBody')}</EmptyState>
      </Card>
    );
  else
    body = (
      <ul className="app-grid" aria-label={t('discoverCaption')}>
        {list.map((a) => (
          <DiscoverCard key={a.appId} app={a} />
        ))}
      </ul>
    );

  return (
    <>
      <PageHeader title={t('discoverTitle')} description={t('discoverDescription')} />
      {body}
    </>
  );
}

/** Hangul in the title or description: the card is marked as Korean (lang="ko") for screen
 *  readers and fonts. */
export function appLang(app: Pick<AppInfo, 'title' | 'description'>): 'ko' | undefined {
  return /[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]/.test(`${app.title} ${app.description}`) ? 'ko' : undefined;
}

function DiscoverCard({ app }: { app: AppInfo }) {
  const t = useT(backstageStrings);
  const token = shareTokenOf(app);
  const to = token ? paths.shared(token) : app.isOwner ? paths.app(app.appId) : undefined;
  const titleId = `discover-${app.appId.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const lang = appLang(app);
  const n = widgetCount(app);
  return (
    <li className="card app-card" aria-labelledby={titleId}>
      {app.isOwner && (
        <div className="app-card-badges">
          <Badge tone="info">{t('yours')}</Badge>
        </div>
      )}
      <h2 className="app-card-title" id={titleId} lang={lang}>
        {to ? <Link to={to}>{app.title}</Link> : app.title}
      </h2>
      <p className={`app-card-desc ${app.description ? '' : 'muted'}`} lang={app.description ? lang : undefined}>
        {app.description || t('noDescription')}
      </p>
      {app.remixedFrom && <p className="app-card-remix muted">{t('remixedFrom', { title: app.remixedFrom.title })}</p>}
      <p className="app-card-meta muted">{n === 1 ? t('oneWidget') : t('widgets', { count: n })}</p>
      <div className="app-card-actions">
        {to && (
          <Link to={to} className={buttonClass('primary', 'sm')} aria-label={t('openLabel', { title: app.title })}>
            {t('open')}
          </Link>
        )}
        <RemixButton app={app} shareToken={token} size="sm" />
      </div>
    </li>
  );
}
