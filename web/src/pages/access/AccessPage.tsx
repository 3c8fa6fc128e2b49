import { useMemo, useState } from 'react';
import { ApiError } from '../../api/client';
import type { CatalogModel } from '../../api/types';
import { useApi } from '../../api/useApi';
import {
  Alert,
  Badge,
  Button,
  Card,
  EmptyState,
  LoadFailedAlert,
  Loading,
  NoticeAlert,
  PageHeader,
  SearchField,
  Table,
  type Column,
  type Notice,
} from '../../components';
import { useT } from '../../i18n';
import { Link } from '../../router';
import { paths } from '../../routes';
import { useRequiredSession } from '../../session';
import { AccessBadge, decide, fetchCatalog, fetchQueue, getUseCase, requestable, type QueueEntry, type UseCaseForm } from './access';
import { accessStrings } from './strings';
import { UseCaseDialog } from './UseCaseDialog';
import { useRequestAccess } from './useRequestAccess';
import { RequestResults } from './Results';
import './access.css';

export default function AccessPage() {
  const t = useT(accessStrings);
  const session = useRequiredSession();
  const catalog = useApi((s) => fetchCatalog(s), []);
  const useCase = useApi(() => getUseCase(), []);
  const [query, setQuery] = useState('');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [editUseCase, setEditUseCase] = useState(false);
  const [savedNote, setSavedNote] = useState(false);
  const req = useRequestAccess(() => {
    setSelected(new Set());
    void catalog.reload();
    void useCase.reload();
  });

  const models = useMemo(() => catalog.data?.models ?? [], [catalog.data]);
  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    if (!q) return models;
    return models.filter((m) =>
      [m.modelName, m.modelId, m.providerName].some((s) => s.toLowerCase().includes(q)),
    );
  }, [models, query]);
  const selectable = shown.filter(requestable);
  const chosen = models.filter((m) => selected.has(m.modelId) && requestable(m));
  const allChecked = selectable.length > 0 && selectable.every((m) => selected.has(m.modelId));
  const hasAnthropic = models.some((m) => m.useCaseRequired);

  const toggle = (id: string, on: boolean) =>
    setSelected((s) => {
      const n = new Set(s);
      if (on) n.add(id);
      else n.delete(id);
      return n;
    });

  const columns: Column<CatalogModel>[] = [
    {
      key: 'select',
      header: t('colSelect'),
      hideHeader: true,
      width: '44px',
      cell: (m) =>
        requestable(m) ? (
          <input
            type="checkbox"
            className="checkbox"
            aria-label={t('selectModel', { name: m.modelName || m.modelId })}
            checked={selected.has(m.modelId)}
            onChange={(e) => toggle(m.modelId, e.target.checked)}
          />
        ) : null,
    },
    {
      key: 'model',
      header: t('colModel'),
      cell: (m) => (
        <div className="access-model">
          <Link to={paths.model(m.modelId)} className="access-model-name">
            {m.modelName || m.modelId}
          </Link>
          <code className="access-model-id">{m.modelId}</code>
        </div>
      ),
    },
    { key: 'provider', header: t('colProvider'), cell: (m) => m.providerName },
    {
      key: 'status',
      header: t('colStatus'),
      cell: (m) => (
        <div className="row">
          <AccessBadge status={m.access} />
          {!m.served && <Badge tone="warning">{t('weightsMissing')}</Badge>}
        </div>
      ),
    },
    {
      key: 'action',
      header: t('colAction'),
      cell: (m) =>
        requestable(m) ? (
          <Button
            size="sm"
            onClick={() => void req.request([m])}
            loading={req.active.includes(m.modelId)}
            aria-label={t('requestAccessFor', { name: m.modelName || m.modelId })}
          >
            {t('requestAccess')}
          </Button>
        ) : m.access === 'IN_PROGRESS' ? (
          <span className="muted">{t('waiting')}</span>
        ) : m.access === 'DENIED' ? (
          <span className="muted">{t('contactAdmin')}</span>
        ) : null,
    },
  ];

  return (
    <>
      <PageHeader
        title={t('title')}
        description={t('description')}
        actions={
          <Button
            variant="primary"
            disabled={chosen.length === 0 && !req.busy}
            loading={req.busy && chosen.length > 0}
            onClick={() => void req.request(chosen)}
          >
            {t('requestSelected', { count: chosen.length })}
          </Button>
        }
      />
      <div className="stack">
        <RequestResults results={req.results} onDismiss={req.clearResults} />
        {session.can.approveAccess && <ApprovalQueue onChanged={() => void catalog.reload()} />}
        {hasAnthropic && (
          <Card
            title={t('useCaseTitle')}
            actions={
              <Button size="sm" onClick={() => setEditUseCase(true)} disabled={useCase.loading}>
                {useCase.data ? t('useCaseEdit') : t('useCaseSubmit')}
              </Button>
            }
          >
            {savedNote && (
              <Alert tone="success" onDismiss={() => setSavedNote(false)}>
                {t('useCaseSaved')}
              </Alert>
            )}
            <p className="muted" style={{ margin: 0 }}>
              {useCase.loading ? '…' : useCase.data ? t('useCaseSubmitted') : t('useCaseNotSubmitted')}
            </p>
          </Card>
        )}
        {catalog.error && !catalog.data ? (
          <LoadFailedAlert title={t('loadFailed')} error={catalog.error} onRetry={() => void catalog.reload()} retryLabel="↻" />
        ) : catalog.loading && !catalog.data ? (
          <Loading />
        ) : models.length === 0 ? (
          <Card>
            <EmptyState title={t('emptyTitle')}>{t('emptyBody')}</EmptyState>
          </Card>
        ) : (
          <>
            <div className="access-toolbar">
              <SearchField
                label={t('search')}
                placeholder={t('searchPlaceholder')}
                value={query}
                onChange={setQuery}
                className="access-search"
              />
              <label className="access-selectall">
                <input
                  type="checkbox"
                  className="checkbox"
                  checked={allChecked}
                  disabled={selectable.length === 0}
                  onChange={(e) =>
                    setSelected((s) => {
                      const n = new Set(s);
                      for (const m of selectable) {
                        if (e.target.checked) n.add(m.modelId);
                        else n.delete(m.modelId);
                      }
                      return n;
                    })
                  }
                />
                {t('selectAll')}
              </label>
            </div>
            <Table
              caption={t('tableCaption')}
              columns={columns}
              rows={shown}
              rowKey={(m) => m.modelId}
              empty={t('noMatch')}
              rowClassName={(m) => (selected.has(m.modelId) ? 'row-selected' : undefined)}
            />
          </>
        )}
      </div>
      {req.dialog}
      <UseCaseDialog
        open={editUseCase}
        initial={(useCase.data as UseCaseForm | null | undefined) ?? null}
        submitLabel={t('useCaseSubmit')}
        onClose={() => setEditUseCase(false)}
        onSaved={() => {
          setEditUseCase(false);
          setSavedNote(true);
          void useCase.reload();
        }}
      />
    </>
  );
}

function ApprovalQueue({ onChanged }: { onChanged: () => void }) {
  const t = useT(accessStrings);
  const queue = useApi((s) => fetchQueue(s), []);
  const [busyKey, setBusyKey] = useState<string | null>(null);
  const [note, setNote] = useState<Notice>(null);
  const key = (e: QueueEntry) => `${e.AccountId}/${e.ModelId}`;
  const act = async (e: QueueEntry, state: 'GRANTED' | 'DENIED') => {
    setBusyKey(key(e));
    setNote(null);
    const vars = { model: e.ModelId, account: e.AccountName || e.AccountId };
    try {
      await decide(e, state);
      setNote({ tone: 'success', text: t(state === 'GRANTED' ? 'approved' : 'denied', vars) });
      await queue.reload();
      onChanged();
    } catch (err) {
      setNote({ tone: 'error', text: err instanceof ApiError ? err.message : String(err) });
    } finally {
      setBusyKey(null);
    }
  };
  const rows = queue.data ?? [];
  // Without manual approval nothing ever waits: the section shows only when something does.
  if (!queue.error && rows.length === 0 && !note) return null;
  // Callers who may not list other accounts' requests have no queue to see.
  if (queue.error?.status === 403) return null;
  const columns: Column<QueueEntry>[] = [
    {
      key: 'account',
      header: t('colAccount'),
      cell: (e) => (
        <div className="access-model">
          <span>{e.AccountName}</span>
          <code className="access-model-id">{e.AccountId}</code>
        </div>
      ),
    },
    { key: 'model', header: t('colModel'), cell: (e) => <code>{e.ModelId}</code> },
    {
      key: 'action',
      header: t('colAction'),
      cell: (e) => {
        const vars = { model: e.ModelId, account: e.AccountName || e.AccountId };
        return (
          <div className="row">
            <Button size="sm" variant="primary" loading={busyKey === key(e)} disabled={busyKey !== null} aria-label={t('approveFor', vars)} onClick={() => void act(e, 'GRANTED')}>
              {t('approve')}
            </Button>
            <Button size="sm" variant="danger" disabled={busyKey !== null} aria-label={t('denyFor', vars)} onClick={() => void act(e, 'DENIED')}>
              {t('deny')}
            </Button>
          </div>
        );
      },
    },
  ];
  return (
    <section className="access-queue" aria-labelledby="queue-title">
      <h2 id="queue-title" className="section-title">
        {t('queueTitle')}
        {rows.length > 0 && <Badge tone="warning">{rows.length}</Badge>}
      </h2>
      <p className="muted">{t('queueIntro')}</p>
      <NoticeAlert notice={note} onDismiss={() => setNote(null)} />
      {queue.error ? (
        <Alert tone="error" title={t('queueLoadFailed')}>
          {queue.error.message}
        </Alert>
      ) : queue.loading && !queue.data ? (
        <Loading />
      ) : rows.length === 0 ? (
        <p className="access-queue-empty">{t('queueEmpty')}</p>
      ) : (
        <Table caption={t('queueCaption')} columns={columns} rows={rows} rowKey={key} />
      )}
    </section>
  );
}
