// The chat playground (/playground/chat): a conversation with one model, or the same messages
// to two or three models side by side (compare mode), streamed with ConverseStream.
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import type { CatalogModel } from '../../api/types';
import { Alert, Button, TextArea } from '../../components';
import { useT } from '../../i18n';
import { Markdown } from '../../lib/markdown';
import { ApiRequestDialog, type RequestTarget } from './ApiRequestDialog';
import {
  buildConverseBody,
  DEFAULT_SETTINGS,
  errorMessage,
  isAbort,
  streamConverse,
  validateSettings,
  type ChatMessage,
  type InferenceSettings,
} from './converse';
import {
  isSubmitEnter,
  ModelPrice,
  ModelSelect,
  modelLabel,
  PlaygroundPage,
  ReplyStats,
  SettingsPanel,
  useInitialModel,
} from './shared';
import { playgroundStrings } from './strings';

export interface Reply {
  modelId: string;
  text: string;
  status: 'streaming' | 'done' | 'stopped' | 'error';
  error?: string;
  usage?: { inputTokens: number; outputTokens: number; totalTokens: number };
  latencyMs?: number;
  stopReason?: string;
}

interface Exchange {
  id: number;
  user: string;
  /** By pane key. */
  replies: Record<string, Reply>;
}

interface Pane {
  key: string;
  modelId: string;
}

let nextId = 1;
const newKey = () => `p${nextId++}`;

/** The history a pane's model sees: its own completed exchanges (a failed or empty reply
 *  drops its user message too, so roles keep alternating). */
function historyFor(exchanges: Exchange[], paneKey: string): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const ex of exchanges) {
    const r = ex.replies[paneKey];
    if (!r || r.status === 'error' || r.status === 'streaming' || r.text === '') continue;
    out.push({ role: 'user', text: ex.user }, { role: 'assistant', text: r.text });
  }
  return out;
}

export default function ChatPage() {
  return <PlaygroundPage page="chat" playground={ChatPlayground} />;
}

function ChatPlayground({ models }: { models: CatalogModel[] }) {
  const t = useT(playgroundStrings);
  const initial = useInitialModel(models);
  const [panes, setPanes] = useState<Pane[]>(() => [{ key: newKey(), modelId: initial }]);
  const [exchanges, setExchanges] = useState<Exchange[]>([]);
  const [settings, setSettings] = useState<InferenceSettings>(DEFAULT_SETTINGS);
  const [draft, setDraft] = useState('');
  const [formError, setFormError] = useState<string | null>(null);
  const [showApi, setShowApi] = useState(false);
  const controllers = useRef(new Map<string, AbortController>());
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const compare = panes.length > 1;
  const busy = exchanges.some((ex) => Object.values(ex.replies).some((r) => r.status === 'streaming'));

  useEffect(() => {
    const map = controllers.current;
    return () => map.forEach((c) => c.abort());
  }, []);

  const updateReply = useCallback((exId: number, paneKey: string, fn: (r: Reply) => Reply) => {
    setExchanges((prev) =>
      prev.map((ex) =>
        ex.id === exId && ex.replies[paneKey] ? { ...ex, replies: { ...ex.replies, [paneKey]: fn(ex.replies[paneKey]) } } : ex,
      ),
    );
  }, []);

  const send = (text: string) => {
    if (busy) return;
    if (Object.keys(validateSettings(settings)).length) {
      setFormError(t('fixSettings'));
      return;
    }
    if (text.trim() === '') return;
    const active = panes.filter((p) => p.modelId);
    if (active.length === 0) return;
    setFormError(null);
    const exId = nextId++;
    const replies: Record<string, Reply> = {};
    for (const p of active) replies[p.key] = { modelId: p.modelId, text: '', status: 'streaming' };
    const history = exchanges;
    setExchanges((prev) => [...prev, { id: exId, user: text, replies }]);
    setDraft('');
    for (const p of active) {
      const body = buildConverseBody([...historyFor(history, p.key), { role: 'user', text }], settings);
      const ctl = new AbortController();
      controllers.current.set(p.key, ctl);
      // Each delta goes to the page as soon as its event is decoded.
      streamConverse(p.modelId, body, ctl.signal, (delta) => updateReply(exId, p.key, (r) => ({ ...r, text: r.text + delta })))
        .then((res) =>
          updateReply(exId, p.key, (r) => ({
            ...r,
            status: 'done',
            usage: res.usage,
            latencyMs: res.latencyMs,
            stopReason: res.stopReason,
          })),
        )
        .catch((e: unknown) =>
          updateReply(exId, p.key, (r) => (isAbort(e) ? { ...r, status: 'stopped' } : { ...r, status: 'error', error: errorMessage(e) })),
        )
        .finally(() => {
          if (controllers.current.get(p.key) === ctl) controllers.current.delete(p.key);
        });
    }
  };

  const stop = () => {
    controllers.current.forEach((c) => c.abort());
  };

  const reset = () => {
    stop();
    setExchanges([]);
    setFormError(null);
    inputRef.current?.focus();
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (busy) stop();
    else send(draft);
  };

  const setPaneModel = (key: string, modelId: string) => setPanes((ps) => ps.map((p) => (p.key === key ? { ...p, modelId } : p)));

  const toggleCompare = () => {
    if (busy) return;
    if (compare) {
      setPanes((ps) => [ps[0]]);
    } else {
      const other = models.find((m) => m.modelId !== panes[0].modelId) ?? models[0];
      setPanes((ps) => [ps[0], { key: newKey(), modelId: other.modelId }]);
    }
  };

  const addPane = () => {
    if (panes.length >= 3) return;
    const used = new Set(panes.map((p) => p.modelId));
    const next = models.find((m) => !used.has(m.modelId)) ?? models[0];
    setPanes((ps) => [...ps, { key: newKey(), modelId: next.modelId }]);
  };

  const apiTargets: RequestTarget[] = useMemo(() => {
    if (!showApi) return [];
    const pending = draft.trim() ? draft : t('message');
    return panes
      .filter((p) => p.modelId)
      .map((p) => ({
        modelId: p.modelId,
        body: buildConverseBody([...historyFor(exchanges, p.key), { role: 'user', text: pending }], settings),
      }));
  }, [showApi, panes, exchanges, settings, draft, t]);

  const settingsInvalid = Object.keys(validateSettings(settings)).length > 0;

  return (
    <>
      <div className="pg-toolbar" role="toolbar" aria-label={t('chatTitle')}>
        <Button onClick={toggleCompare} disabled={busy} aria-pressed={compare}>
          {t('compare')}
        </Button>
        <Button onClick={() => setShowApi(true)}>{t('viewApiRequest')}</Button>
        <Button onClick={reset} aria-label={t('resetLabel')} disabled={exchanges.length === 0 && !busy}>
          {t('reset')}
        </Button>
      </div>
      <div className="pg-layout">
        <div className="pg-main">
          {compare && (
            <div className="pg-compare-bar">
              <p className="pg-compare-hint">{t('compareHint')}</p>
              {panes.length < 3 && (
                <Button size="sm" onClick={addPane} disabled={busy}>
                  + {t('addModel')}
                </Button>
              )}
            </div>
          )}
          <div className={`pg-panes pg-panes-${panes.length}`}>
            {panes.map((p, n) => {
              const model = models.find((m) => m.modelId === p.modelId);
              const name = model ? modelLabel(model) : p.modelId;
              return (
                <section key={p.key} className="pg-pane card" aria-label={t('conversationWith', { model: name })}>
                  <div className="pg-pane-head">
                    <ModelSelect
                      models={models}
                      value={p.modelId}
                      label={compare ? t('modelN', { n: n + 1 }) : t('model')}
                      disabled={busy}
                      onChange={(id) => setPaneModel(p.key, id)}
                    />
                    {compare && panes.length > 2 && (
                      <Button
                        variant="icon"
                        disabled={busy}
                        aria-label={t('removeModel', { model: name })}
                        onClick={() => setPanes((ps) => ps.filter((x) => x.key !== p.key))}
                      >
                        ×
                      </Button>
                    )}
                  </div>
                  <ModelPrice model={model} />
                  <Conversation exchanges={exchanges} paneKey={p.key} models={models} />
                </section>
              );
            })}
          </div>
          <form className="pg-composer card" onSubmit={onSubmit}>
            {formError && settingsInvalid && (
              <Alert tone="error" onDismiss={() => setFormError(null)}>
                {formError}
              </Alert>
            )}
            <div className="pg-composer-row">
              <TextArea
                ref={inputRef}
                label={t('message')}
                hideLabel
                rows={3}
                placeholder={t('messagePlaceholder')}
                value={draft}
                fieldClassName="pg-composer-field"
                onChange={(e) => setDraft(e.target.value)}
                onKeyDown={(e) => {
                  if (isSubmitEnter(e)) {
                    e.preventDefault();
                    send(draft);
                  }
                }}
              />
              {busy ? (
                <Button type="submit" variant="danger" className="pg-send">
                  ■ {t('stop')}
                </Button>
              ) : (
                <Button type="submit" variant="primary" className="pg-send" disabled={draft.trim() === ''}>
                  {t('send')}
                </Button>
              )}
            </div>
          </form>
        </div>
        <aside className="pg-side">
          <SettingsPanel settings={settings} onChange={setSettings} showSystem disabled={busy} />
        </aside>
      </div>
      <ApiRequestDialog open={showApi} onClose={() => setShowApi(false)} targets={apiTargets} models={models} />
    </>
  );
}

function Conversation({ exchanges, paneKey, models }: { exchanges: Exchange[]; paneKey: string; models: CatalogModel[] }) {
  const t = useT(playgroundStrings);
  const ref = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const streaming = exchanges.some((ex) => ex.replies[paneKey]?.status === 'streaming');
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  });
  const mine = exchanges.filter((ex) => ex.replies[paneKey]);
  return (
    <div
      ref={ref}
      className="pg-conversation"
      role="log"
      aria-label={t('conversation')}
      aria-busy={streaming}
      tabIndex={0}
      onScroll={(e) => {
        const el = e.currentTarget;
        stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
      }}
    >
      {mine.length === 0 ? (
        <div className="pg-empty-chat">
          <h2 className="pg-empty-title">{t('emptyChatTitle')}</h2>
          <p>{t('emptyChatBody')}</p>
        </div>
      ) : (
        mine.map((ex) => (
          <ExchangeView
            key={ex.id}
            user={ex.user}
            reply={ex.replies[paneKey]}
            model={models.find((m) => m.modelId === ex.replies[paneKey].modelId)}
          />
        ))
      )}
    </div>
  );
}

const ExchangeView = memo(function ExchangeView({ user, reply, model }: { user: string; reply: Reply; model: CatalogModel | undefined }) {
  const t = useT(playgroundStrings);
  return (
    <>
      <div className="pg-msg pg-msg-user">
        <div className="pg-msg-role">{t('you')}</div>
        <div className="pg-msg-body pg-user-text">{user}</div>
      </div>
      <div className={`pg-msg pg-msg-assistant pg-status-${reply.status}`} data-status={reply.status}>
        <div className="pg-msg-role">{model ? model.modelName || model.modelId : t('assistant')}</div>
        <div className="pg-msg-body">
          {reply.text === '' && reply.status === 'streaming' ? (
            <span className="pg-typing" role="status">
              {t('generating')}
            </span>
          ) : (
            <Markdown text={reply.text} className={`md pg-reply ${reply.status === 'streaming' ? 'pg-streaming' : ''}`} />
          )}
          {reply.status === 'error' && (
            <Alert tone="error" title={t('replyFailed')}>
              {reply.error}
            </Alert>
          )}
          {reply.status === 'stopped' && <p className="pg-stopped">{t('stopped')}</p>}
          <ReplyStats model={model} usage={reply.usage} latencyMs={reply.latencyMs} stopReason={reply.stopReason} />
        </div>
      </div>
    </>
  );
});
