import { useRef, useState } from 'react';
import { ApiError } from '../../api/client';
import { useApi } from '../../api/useApi';
import {
  Badge,
  Button,
  buttonClass,
  Card,
  EmptyState,
  LoadFailedAlert,
  Loading,
  NoticeAlert,
  PageHeader,
  type Notice,
} from '../../components';
import { useFormat, useT } from '../../i18n';
import { Link, useNavigate } from '../../router';
import { paths } from '../../routes';
import { ConfirmDialog } from '../keys/ConfirmDialog';
import { appsApi, widgetCount, type AppInfo } from './appsApi';
import { GenerateDialog } from './GenerateDialog';
import { ShareDialog } from './ShareDialog';
import { backstageStrings } from './strings';
import './backstage.css';

/** My apps (/apps): the user's apps as cards, Generate, Blank app, Share and Delete. */
export default function AppsPage() {
  const t = useT(backstageStrings);
  const navigate = useNavigate();
  const apps = useApi((s) => appsApi.list(s), []);
  const [generateOpen, setGenerateOpen] = useState(false);
  const [creating, setCreating] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  // The app in the Share dialog stays set after it closes, so the dialog can hand focus back.
  const [sharing, setSharing] = useState<AppInfo | null>(null);
  const [shareOpen, setShareOpen] = useState(false);
  const [deleting, setDeleting] = useState<AppInfo | null>(null);
  const generateRef = useRef<HTMLButtonElement>(null);

  const blank = async () => {
    setCreating(true);
    setNotice(null);
    try {
      const app = await appsApi.create();
      navigate(paths.app(app.appId));
    } catch (e) {
      setCreating(false);
      setNotice({ tone: 'error', text: e instanceof ApiError ? e.message : String(e) });
    }
  };

  const actions = (
    <>
      <Button ref={generateRef} variant="primary" onClick={() => setGenerateOpen(true)}>
        {t('generate')}
      </Button>
      <Button loading={creating} onClick={() => void blank()}>
        {t('blank')}
      </Button>
    </>
  );

  const list = apps.data ?? [];
  let body;
  if (!apps.data && apps.loading) body = <Loading />;
  else if (apps.error && !apps.data)
    body = <LoadFailedAlert title={t('loadFailed')} error={apps.error} onRetry={() => void apps.reload()} />;
  else if (list.length === 0)
    body = (
      <Card>
        <EmptyState
          title={t('emptyTitle')}
          action={
            <div className="row apps-empty-actions">
              <Button variant="primary" onClick={() => setGenerateOpen(true)}>
                {t('emptyAction')}
              </Button>
              <Button variant="link" onClick={() => void blank()} loading={creating}>
                {t('emptyBlank')}
              </Button>
            </div>
          }
        >
          {t('emptyBody')}
        </EmptyState>
      </Card>
    );
  else
    body = (
      <ul className="app-grid" aria-label={t('appsCaption')}>
        {list.map((a) => (
          <AppCard key={a.appId} app={a} onShare={() => {
              setSharing(a);
              setShareOpen(true);
            }} onDelete={() => setDeleting(a)} />
        ))}
      </ul>
    );

  return (
    <>
      <PageHeader title={t('appsTitle')} description={t('appsDescription')} actions={actions} />
      <div className="stack">
        <NoticeAlert notice={notice} onDismiss={() => setNotice(null)} />
        {body}
      </div>
      <GenerateDialog
        open={generateOpen}
        onClose={() => setGenerateOpen(false)}
        onGenerated={(app) => {
          setGenerateOpen(false);
          navigate(paths.app(app.appId));
        }}
      />
      {sharing && (
        <ShareDialog
          app={sharing}
          open={shareOpen}
          onClose={() => {
            setShareOpen(false);
            void apps.reload();
          }}
          onChange={(a) => setSharing(a)}
        />
      )}
      <ConfirmDialog
        open={deleting !== null}
        title={t('deleteTitle', { title: deleting?.title ?? '' })}
        confirmLabel={t('deleteConfirm')}
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          const d = deleting!;
          await appsApi.remove(d.appId);
          setNotice({ tone: 'success', text: t('deleted', { title: d.title }) });
          await apps.reload();
          // The card's Delete button is gone: focus goes to the page's first action instead.
          window.setTimeout(() => generateRef.current?.focus(), 50);
        }}
      >
        {t('deleteBody')}
      </ConfirmDialog>
    </>
  );
}

function AppCard({ app, onShare, onDelete }: { app: AppInfo; onShare: () => void; onDelete: () => void }) {
  const t = useT(backstageStrings);
  const fmt = useFormat();
  const n = widgetCount(app);
  const titleId = `app-${app.appId.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return (
    <li className="card app-card" aria-labelledby={titleId}>
      <div className="app-card-badges">
        {app.visibility === 'public' ? (
          <Badge tone="success">{t('sharedBadge')}</Badge>
        ) : (
          <Badge>{t('privateBadge')}</Badge>
        )}
        {app.visibility === 'public' && app.listed && <Badge tone="info">{t('listedBadge')}</Badge>}
      </div>
      <h2 className="app-card-title" id={titleId}>
        <Link to={paths.app(app.appId)}>{app.title || app.appId}</Link>
      </h2>
      <p className={`app-card-desc ${app.description ? '' : 'muted'}`}>{app.description || t('noDescription')}</p>
      {app.remixedFrom && (
        <p className="app-card-remix muted">{t('remixedFrom', { title: app.remixedFrom.title })}</p>
      )}
      <p className="app-card-meta muted">
        {n === 1 ? t('oneWidget') : t('widgets', { count: n })} ·{' '}
        <time dateTime={app.updatedAt}>{t('updated', { when: fmt.dateTime(app.updatedAt) })}</time>
      </p>
      <div className="app-card-actions">
        <Link to={paths.app(app.appId)} className={buttonClass('primary', 'sm')} aria-label={t('openLabel', { title: app.title })}>
          {t('open')}
        </Link>
        <Button size="sm" onClick={onShare} aria-label={t('shareLabel', { title: app.title })}>
          {t('shareButton')}
        </Button>
        <span className="spacer" />
        <Button size="sm" variant="danger" onClick={onDelete} aria-label={t('deleteLabel', { title: app.title })}>
          {t('delete')}
        </Button>
      </div>
    </li>
  );
}
