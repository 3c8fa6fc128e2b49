import { useEffect, useRef, useState } from 'react';
import { ApiError, get, post } from '../../api/client';
import type { Catalog } from '../../api/types';
import { useApi } from '../../api/useApi';
import {
  Alert,
  Badge,
  Button,
  buttonClass,
  Card,
  EmptyState,
  LoadFailedAlert,
  Loading,
  NotAllowedPage,
  NoticeAlert,
  PageHeader,
  Table,
  type Column,
  type Notice,
} from '../../components';
import { useLang, useT } from '../../i18n';
import { Link } from '../../router';
import { playgroundPath } from '../../routes';
import { useRequiredSession } from '../../session';
import { modelsStrings } from './strings';
import '../usage/usage.css';
import '../keys/keys.css';
import './models.css';

export interface Pull {
  state: 'running' | 'done' | 'failed' | string;
  bytes: number;
  totalBytes: number;
  error: string | null;
  sha256: string | null;
}

export interface ServedModel {
  modelId: string;
  modelName?: string;
  providerName?: string;
  weights: string;
  served: boolean;
  sourceRepo: string;
  sourceFile: string;
  pull: Pull | null;
}

interface ModelsReply {
  models: ServedModel[];
  modelsDir?: string;
  hub?: string;
}

const POLL_MS = 500;

/** Bytes per second per model, smoothed over the polls of a running pull. */
function useSpeeds(models: ServedModel[] | undefined) {
  const last = useRef(new Map<string, { bytes: number; at: number; speed: number }>());
  const [speeds, setSpeeds] = useState<Record<string, number>>({});
  useEffect(() => {
    if (!models) return;
    const now = performance.now();
    const next: Record<string, number> = {};
    for (const m of models) {
      const p = m.pull;
      if (!p || p.state !== 'running') {
        last.current.delete(m.modelId);
        continue;
      }
      const prev = last.current.get(m.modelId);
      let speed = prev?.speed ?? 0;
      if (prev && now > prev.at && p.bytes >= prev.bytes) {
        const inst = ((p.bytes - prev.bytes) * 1000) / (now - prev.at);
        speed = prev.speed > 0 ? prev.speed * 0.6 + inst * 0.4 : inst;
      }
      last.current.set(m.modelId, { bytes: p.bytes, at: now, speed });
      next[m.modelId] = speed;
    }
    setSpeeds(next);
  }, [models]);
  return speeds;
}

export default function ModelsPage() {
  const t = useT(modelsStrings);
  const session = useRequiredSession();
  const { locale } = useLang();
  const list = useApi((s) => get<ModelsReply>('/basalt/models', { signal: s }), []);
  // Which playground suits a model (image models go to the image playground).
  const catalog = useApi((s) => get<Catalog>('/basalt/catalog', { signal: s }), []);
  const imageModels = new Set(
    (catalog.data?.models ?? []).filter((c) => c.outputModalities.includes('IMAGE')).map((c) => c.modelId),
  );
  const [notice, setNotice] = useState<Notice>(null);
  const [starting, setStarting] = useState<string | null>(null);
  const models = list.data?.models;
  const speeds = useSpeeds(models);
  const running = (models ?? []).some((m) => m.pull?.state === 'running');
  const prevStates = useRef(new Map<string, string>());

  // Poll every 500 ms while a pull runs.
  useEffect(() => {
    if (!running) return;
    const id = window.setTimeout(() => void list.reload(), POLL_MS);
    return () => window.clearTimeout(id);
  }, [running, list.data, list.error]);

  // A pull that finished since the last answer: say so.
  useEffect(() => {
    if (!models) return;
    for (const m of models) {
      const before = prevStates.current.get(m.modelId);
      const now = m.pull?.state ?? '';
      if (before === 'running' && now === 'done')
        setNotice({ tone: 'success', text: t('pulledDone', { model: m.modelId }) });
      if (before === 'running' && now === 'failed' && m.pull?.error)
        setNotice({ tone: 'error', text: m.pull.error });
      prevStates.current.set(m.modelId, now);
    }
  }, [models, t]);

  const bytes = (n: number) => {
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    let v = n;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return `${new Intl.NumberFormat(locale, { maximumFractionDigits: i === 0 ? 0 : 1 }).format(v)} ${units[i]}`;
  };
  const duration = (s: number) => {
    if (s < 60) return new Intl.NumberFormat(locale, { style: 'unit', unit: 'second', maximumFractionDigits: 0 }).format(Math.max(1, s));
    if (s < 3600) return new Intl.NumberFormat(locale, { style: 'unit', unit: 'minute', maximumFractionDigits: 0 }).format(s / 60);
    return new Intl.NumberFormat(locale, { style: 'unit', unit: 'hour', maximumFractionDigits: 1 }).format(s / 3600);
  };

  const pull = async (m: ServedModel) => {
    setStarting(m.modelId);
    setNotice(null);
    try {
      await post<{ modelId: string; pull: Pull }>('/basalt/models/pull', { modelId: m.modelId });
      setNotice({ tone: 'info', text: t('pullStarted', { model: m.modelId }) });
    } catch (e) {
      setNotice({ tone: 'error', text: e instanceof ApiError ? e.message : String(e) });
    } finally {
      setStarting(null);
      await list.reload();
    }
  };

  if (!session.can.manageModels) {
    return (
      <NotAllowedPage title={t('title')} heading={t('notAllowedTitle')}>
        {t('notAllowedBody')}
      </NotAllowedPage>
    );
  }

  const status = (m: ServedModel) => {
    const p = m.pull;
    if (m.served) return <Badge tone="success">{t('served')}</Badge>;
    if (p?.state === 'running')
      return <Badge tone="info">{p.totalBytes > 0 && p.bytes >= p.totalBytes ? t('verifying') : t('downloading')}</Badge>;
    if (p?.state === 'failed') return <Badge tone="error">{t('failed')}</Badge>;
    return <Badge tone="warning">{t('waiting')}</Badge>;
  };

  const columns: Column<ServedModel>[] = [
    {
      key: 'model',
      header: t('colModel'),
      width: '27%',
      cell: (m) => (
        <div className="models-name">
          <strong>{m.modelName || m.modelId}</strong>
          <code>{m.modelId}</code>
          {m.providerName && <span className="muted">{m.providerName}</span>}
        </div>
      ),
    },
    {
      key: 'weights',
      header: t('colWeights'),
      cell: (m) => (
        <div className="models-weights">
          <code>{m.weights}</code>
          {m.sourceRepo && m.sourceFile ? (
            <span className="muted">
              {m.sourceRepo}/{m.sourceFile}
            </span>
          ) : null}
        </div>
      ),
    },
    {
      key: 'status',
      header: t('colStatus'),
      cell: (m) => (
        <div className="models-status">
          {status(m)}
          {m.pull && !m.served && m.pull.state === 'running' && (
            <Progress model={m.modelId} pull={m.pull} speed={speeds[m.modelId] ?? 0} bytes={bytes} duration={duration} />
          )}
          {m.pull?.state === 'failed' && m.pull.error && <span className="models-error">{m.pull.error}</span>}
          {m.pull?.state === 'done' && m.pull.sha256 && (
            <span className="models-sha">
              {t('sha256')} <code>{m.pull.sha256}</code>
            </span>
          )}
        </div>
      ),
    },
    {
      key: 'action',
      header: t('colAction'),
      align: 'right',
      cell: (m) => {
        if (m.served)
          return (
            <Link
              to={playgroundPath(imageModels.has(m.modelId) ? 'image' : 'chat', m.modelId)}
              className={buttonClass('normal', 'sm')}
              aria-label={t('tryItLabel', { model: m.modelId })}
            >
              {t('tryIt')}
            </Link>
          );
        if (m.pull?.state === 'running') return null;
        if (!m.sourceRepo || !m.sourceFile)
          return (
            <span className="muted models-nosource">
              {t('noSource')}: {t('noSourceHelp', { weights: m.weights, dir: list.data?.modelsDir || '--models-dir' })}
            </span>
          );
        const failed = m.pull?.state === 'failed';
        return (
          <Button
            size="sm"
            variant="primary"
            loading={starting === m.modelId}
            aria-label={t(failed ? 'retryLabel' : 'pullLabel', { model: m.modelId })}
            onClick={() => void pull(m)}
          >
            {failed ? t('retry') : t('pull')}
          </Button>
        );
      },
    },
  ];

  const served = (models ?? []).filter((m) => m.served).length;
  const waiting = (models ?? []).length - served;
  // Waiting models first, then served ones, each by id.
  const rows = [...(models ?? [])].sort((a, b) =>
    a.served !== b.served ? (a.served ? 1 : -1) : a.modelId < b.modelId ? -1 : 1,
  );

  return (
    <>
      <PageHeader title={t('title')} description={t('description')} />
      <div className="stack">
        {list.data && (
          <dl className="key-connection models-facts">
            <div>
              <dt>{t('modelsDir')}</dt>
              <dd>
                <code>{list.data.modelsDir || '—'}</code>
              </dd>
            </div>
            <div>
              <dt>{t('hub')}</dt>
              <dd>
                <code>{list.data.hub || '—'}</code>
              </dd>
            </div>
            <div>
              <dt>{t('colStatus')}</dt>
              <dd className="row">
                <Badge tone="success">{t('summaryServed', { count: served })}</Badge>
                {waiting > 0 && <Badge tone="warning">{t('summaryWaiting', { count: waiting })}</Badge>}
              </dd>
            </div>
          </dl>
        )}
        <NoticeAlert notice={notice} onDismiss={() => setNotice(null)} />
        {list.error && !list.data ? (
          <LoadFailedAlert title={t('loadFailed')} error={list.error} onRetry={() => void list.reload()} />
        ) : !list.data ? (
          <Loading />
        ) : rows.length === 0 ? (
          <Card>
            <EmptyState title={t('emptyTitle')}>{t('emptyBody')}</EmptyState>
          </Card>
        ) : (
          <>
            {waiting === 0 && (
              <Alert tone="success" live={false} title={t('allServedTitle')}>
                {t('allServedBody')}
              </Alert>
            )}
            <Table caption={t('caption')} columns={columns} rows={rows} rowKey={(m) => m.modelId} />
            {waiting > 0 && <p className="muted models-note">{t('resumable')}</p>}
          </>
        )}
      </div>
    </>
  );
}

function Progress({
  model,
  pull,
  speed,
  bytes,
  duration,
}: {
  model: string;
  pull: Pull;
  speed: number;
  bytes: (n: number) => string;
  duration: (s: number) => string;
}) {
  const t = useT(modelsStrings);
  const known = pull.totalBytes > 0;
  const pct = known ? Math.min(100, (pull.bytes / pull.totalBytes) * 100) : 0;
  const text = known
    ? t('progressBytes', { bytes: bytes(pull.bytes), total: bytes(pull.totalBytes) })
    : t('progressBytesUnknown', { bytes: bytes(pull.bytes) });
  const eta = known && speed > 0 ? (pull.totalBytes - pull.bytes) / speed : null;
  return (
    <div className="pull-progress" data-testid={`pull-progress-${model}`}>
      <div
        className={`progress ${known ? '' : 'progress-indeterminate'}`}
        role="progressbar"
        aria-label={t('progressLabel', { model })}
        aria-valuemin={0}
        aria-valuemax={known ? 100 : undefined}
        aria-valuenow={known ? Math.round(pct) : undefined}
        aria-valuetext={text}
      >
        <div className="progress-fill" style={{ width: known ? `${pct}%` : undefined }} />
      </div>
      <div className="pull-stats">
        <span>{text}</span>
        {speed > 0 && <span>{t('speed', { speed: bytes(speed) })}</span>}
        {eta !== null && eta > 0 && <span>{t('eta', { eta: duration(eta) })}</span>}
      </div>
    </div>
  );
}
