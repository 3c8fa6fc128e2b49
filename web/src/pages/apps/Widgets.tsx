// The widgets of an app as a runner sees them: user input, static text, document upload, text
// and image generation (streamed into place, with status, error, tokens and cost) and chatbot.
import { useEffect, useId, useLayoutEffect, useRef, useState, type DragEvent, type KeyboardEvent, type ReactNode } from 'react';
import { Alert, Badge, Button, Spinner, type Tone } from '../../components';
import { useFormat, useT } from '../../i18n';
import { Markdown } from '../../lib/markdown';
import { isSubmitEnter } from '../playground/shared';
import { appStrings } from './strings';
import type { DocumentInfo, RunUsage, Widget, WidgetRunStatus } from './types';

export interface WidgetOutput {
  status: 'idle' | WidgetRunStatus;
  text: string;
  images: string[];
  error?: { type: string; message: string };
  usage?: RunUsage;
}

export const IDLE: WidgetOutput = { status: 'idle', text: '', images: [] };

export interface DocState {
  doc?: DocumentInfo;
  uploading?: string;
  error?: string;
}

export interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
  status?: 'streaming' | 'done' | 'stopped' | 'error';
  error?: string;
  usage?: RunUsage;
}

const STATUS_TONE: Record<WidgetOutput['status'], Tone> = {
  idle: 'neutral',
  queued: 'neutral',
  running: 'info',
  succeeded: 'success',
  failed: 'error',
  stopped: 'warning',
  superseded: 'neutral',
};

export function StatusBadge({ status }: { status: WidgetOutput['status'] }) {
  const t = useT(appStrings);
  return (
    <span className="app-status" data-status={status}>
      {status === 'running' && <Spinner size="sm" decorative />}
      <Badge tone={STATUS_TONE[status]}>{t(`status.${status}`)}</Badge>
    </span>
  );
}

export function UsageLine({ usage }: { usage?: RunUsage }) {
  const t = useT(appStrings);
  const f = useFormat();
  if (!usage) return null;
  return (
    <p className="app-usage">
      {t('tokens', { input: f.number(usage.inputTokens ?? 0), output: f.number(usage.outputTokens ?? 0) })}
      {usage.images ? ` · ${t('imagesCount', { n: f.number(usage.images) })}` : ''}
      {' · '}
      {t('cost', { cost: f.usd(usage.cost ?? 0) })}
    </p>
  );
}

/** The frame of one widget: its title (the heading), a status, and the body. */
export function WidgetFrame({
  widget,
  status,
  children,
  headingId,
  actions,
}: {
  widget: Widget;
  status?: WidgetOutput['status'];
  children: ReactNode;
  headingId: string;
  actions?: ReactNode;
}) {
  const t = useT(appStrings);
  // Output that may scroll is reachable with the keyboard (a focusable region).
  const scrolls = widget.type === 'static-text' || widget.type === 'text-generation' || widget.type === 'image-generation';
  return (
    <>
      <div className="app-widget-head">
        <h2 id={headingId} className="app-widget-title">
          {widget.title}
        </h2>
        <span className="app-widget-type">{t(`type.${widget.type}`)}</span>
        {status && <StatusBadge status={status} />}
        {actions}
      </div>
      <div className="app-widget-body" tabIndex={scrolls ? 0 : undefined}>
        {children}
      </div>
    </>
  );
}

/** How long typing must pause before an input's new value runs its dependents. */
export const INPUT_PAUSE_MS = 1500;

export function UserInputBody({
  widget,
  value,
  onChange,
  onCommit,
  labelId,
}: {
  widget: Widget;
  value: string;
  onChange: (v: string) => void;
  onCommit: () => void;
  labelId: string;
}) {
  const t = useT(appStrings);
  const hint = useId();
  // A pause in typing applies the value too.
  const commit = useRef(onCommit);
  commit.current = onCommit;
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const timer = window.setTimeout(() => commit.current(), INPUT_PAUSE_MS);
    return () => window.clearTimeout(timer);
  }, [value]);
  return (
    <>
      <textarea
        className="input textarea app-input"
        aria-labelledby={labelId}
        aria-describedby={hint}
        title={t('inputHint')}
        placeholder={widget.placeholder}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        onBlur={onCommit}
        onKeyDown={(e) => {
          if (isSubmitEnter(e)) {
            e.preventDefault();
            onCommit();
          }
        }}
      />
      <p id={hint} className="visually-hidden">
        {t('inputHint')}
      </p>
    </>
  );
}

function formatBytes(n: number, f: ReturnType<typeof useFormat>): string {
  if (n < 1024) return `${f.number(n)} B`;
  if (n < 1024 * 1024) return `${f.number(n / 1024, { maximumFractionDigits: 1 })} KB`;
  return `${f.number(n / 1024 / 1024, { maximumFractionDigits: 1 })} MB`;
}

const ACCEPT = '.txt,.md,.markdown,.pdf,text/plain,text/markdown,application/pdf';

export function DocumentBody({
  widget,
  state,
  onFile,
  onClear,
  labelId,
}: {
  widget: Widget;
  state: DocState;
  onFile: (f: File) => void;
  onClear: () => void;
  labelId: string;
}) {
  const t = useT(appStrings);
  const f = useFormat();
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const hint = useId();
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    const file = e.dataTransfer.files?.[0];
    if (file) onFile(file);
  };
  return (
    <div
      className={`app-drop ${over ? 'app-drop-over' : ''}`}
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      {state.doc ? (
        <div className="app-doc">
          <p className="app-doc-info">
            {t('documentInfo', { name: state.doc.name, size: formatBytes(state.doc.bytes, f), chars: f.number(state.doc.chars) })}
          </p>
          <details className="app-doc-preview">
            <summary>{t('documentPreview')}</summary>
            <pre>{state.doc.preview}</pre>
          </details>
        </div>
      ) : (
        <p id={hint} className="app-drop-hint">
          {t('dropHere')}
        </p>
      )}
      {state.uploading && (
        <p className="app-doc-uploading" role="status">
          <Spinner size="sm" decorative /> {t('uploading', { name: state.uploading })}
        </p>
      )}
      {state.error && (
        <Alert tone="error" title={t('uploadFailed')}>
          {state.error}
        </Alert>
      )}
      <div className="app-doc-actions">
        <input
          ref={input}
          type="file"
          accept={ACCEPT}
          className="visually-hidden"
          tabIndex={-1}
          aria-hidden="true"
          onChange={(e) => {
            const file = e.target.files?.[0];
            if (file) onFile(file);
            e.target.value = '';
          }}
        />
        <Button
          size="sm"
          onClick={() => input.current?.click()}
          disabled={!!state.uploading}
          aria-describedby={state.doc ? undefined : hint}
          aria-label={`${t('chooseFile')}: ${widget.title}`}
          id={`${labelId}-choose`}
        >
          {t('chooseFile')}
        </Button>
        {state.doc && (
          <Button size="sm" variant="link" onClick={onClear}>
            {t('uploadRemove')}
          </Button>
        )}
      </div>
    </div>
  );
}

export function TextGenerationBody({ out }: { out: WidgetOutput }) {
  const t = useT(appStrings);
  return (
    <div className="app-output" aria-live="off" aria-busy={out.status === 'running'}>
      {out.text ? (
        <Markdown text={out.text} className={`md app-md ${out.status === 'running' ? 'pg-streaming' : ''}`} />
      ) : out.status === 'idle' ? (
        <p className="app-muted">{t('notRunYet')}</p>
      ) : out.status === 'running' || out.status === 'queued' ? (
        <p className="app-muted">{t(`status.${out.status}`)}</p>
      ) : null}
      {out.error && (
        <Alert tone="error" title={t('widgetError')} live={false}>
          {out.error.message}
        </Alert>
      )}
      <UsageLine usage={out.usage} />
    </div>
  );
}

export function ImageGenerationBody({ widget, out }: { widget: Widget; out: WidgetOutput }) {
  const t = useT(appStrings);
  return (
    <div className="app-output" aria-busy={out.status === 'running'}>
      {out.images.length > 0 ? (
        <div className="app-images">
          {out.images.map((b64, i) => (
            <img key={i} src={`data:image/png;base64,${b64}`} alt={t('imageAlt', { title: widget.title, n: i + 1 })} />
          ))}
        </div>
      ) : out.status === 'idle' ? (
        <p className="app-muted">{t('notRunYet')}</p>
      ) : out.status === 'running' || out.status === 'queued' ? (
        <div className="app-image-wait">
          <Spinner size="lg" decorative />
        </div>
      ) : null}
      {out.error && (
        <Alert tone="error" title={t('widgetError')} live={false}>
          {out.error.message}
        </Alert>
      )}
      <UsageLine usage={out.usage} />
    </div>
  );
}

export function ChatbotBody({
  widget,
  turns,
  onSend,
  onStop,
}: {
  widget: Widget;
  turns: ChatTurn[];
  onSend: (text: string) => void;
  onStop: () => void;
}) {
  const t = useT(appStrings);
  const [draft, setDraft] = useState('');
  const log = useRef<HTMLDivElement>(null);
  const busy = turns.some((x) => x.status === 'streaming');
  useLayoutEffect(() => {
    const el = log.current;
    if (el) el.scrollTop = el.scrollHeight;
  });
  const send = () => {
    if (busy || draft.trim() === '') return;
    onSend(draft);
    setDraft('');
  };
  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    // Enter sends, Shift+Enter is a new line, and nothing is sent while an IME composes.
    if (isSubmitEnter(e)) {
      e.preventDefault();
      send();
    }
  };
  return (
    <div className="app-chat">
      <div ref={log} className="app-chat-log" role="log" aria-label={widget.title} aria-busy={busy} tabIndex={0}>
        {turns.length === 0 ? (
          <p className="app-muted">{t('chatEmpty')}</p>
        ) : (
          turns.map((m, i) => (
            <div key={i} className={`pg-msg pg-msg-${m.role}`} data-status={m.status}>
              <div className="pg-msg-role">{m.role === 'user' ? t('you') : t('assistant')}</div>
              <div className="pg-msg-body">
                {m.role === 'user' ? (
                  <div className="pg-user-text">{m.content}</div>
                ) : m.content === '' && m.status === 'streaming' ? (
                  <span className="pg-typing">{t('status.running')}</span>
                ) : (
                  <Markdown text={m.content} className={`md ${m.status === 'streaming' ? 'pg-streaming' : ''}`} />
                )}
                {m.status === 'error' && (
                  <Alert tone="error" title={t('chatFailed')} live={false}>
                    {m.error}
                  </Alert>
                )}
                {m.status === 'stopped' && <p className="app-muted">{t('status.stopped')}</p>}
                {m.role === 'assistant' && <UsageLine usage={m.usage} />}
              </div>
            </div>
          ))
        )}
      </div>
      <form
        className="app-chat-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (busy) onStop();
          else send();
        }}
      >
        <textarea
          className="input textarea app-chat-input"
          aria-label={t('chatMessage', { title: widget.title })}
          placeholder={t('chatPlaceholder')}
          rows={2}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={onKey}
        />
        {busy ? (
          <Button type="submit" variant="danger" size="sm">
            ■ {t('stop')}
          </Button>
        ) : (
          <Button type="submit" variant="primary" size="sm" disabled={draft.trim() === ''}>
            {t('send')}
          </Button>
        )}
      </form>
    </div>
  );
}

/** Focuses an element once, after it mounts (for dialogs and panels that open on demand). */
export function useFocusOnMount<T extends HTMLElement>(when: boolean) {
  const ref = useRef<T>(null);
  useEffect(() => {
    if (when) ref.current?.focus();
  }, [when]);
  return ref;
}
