// The app page's calls (docs/apps.md): load and save an app, its versions, documents, runs and
// chats streamed as server-sent events, and stop.
import { apiFetch, ApiError, get, post, put, seg } from '../../api/client';
import type { App, AppDefinition, AppVersion, DocumentInfo, RunEvent } from './types';

/** Where an app is reached: the owner's /apps/<id> or a shared link's /shared/<token>. */
export type AppRef = { appId: string } | { shareToken: string };

export const appBase = (ref: AppRef) =>
  'appId' in ref ? `/basalt/apps/${seg(ref.appId)}` : `/basalt/shared/${seg(ref.shareToken)}`;

export const loadApp = (ref: AppRef, signal?: AbortSignal) => get<{ app: App }>(appBase(ref), { signal }).then((r) => r.app);

export const saveApp = (appId: string, definition: AppDefinition, baseVersion: number) =>
  put<{ app: App }>(`/basalt/apps/${seg(appId)}`, { definition, baseVersion }).then((r) => r.app);

export const listVersions = (appId: string) =>
  get<{ versions: AppVersion[] }>(`/basalt/apps/${seg(appId)}/versions`).then((r) => r.versions ?? []);

/** A new version equal to `version`; `baseVersion` is the version shown (409 when stale). */
export const restoreVersion = (appId: string, version: number, baseVersion: number) =>
  post<{ app: App }>(`/basalt/apps/${seg(appId)}/versions/${version}/restore`, { baseVersion }).then((r) => r.app);

export const regenerateApp = (appId: string, description: string, baseVersion: number) =>
  post<{ app: App }>('/basalt/apps/generate', { appId, description, baseVersion }).then((r) => r.app);

export const stopRun = (runId: string) => post<unknown>(`/basalt/apps/runs/${seg(runId)}/stop`);

/** The media types POST /documents takes. */
export const DOCUMENT_TYPES: ReadonlySet<string> = new Set(['text/plain', 'text/markdown', 'application/pdf']);

/** The media type a document upload is sent with: the file's own, else by its extension. */
export function documentMediaType(file: { name: string; type: string }): string {
  if (file.type === 'text/plain' || file.type === 'text/markdown' || file.type === 'application/pdf') return file.type;
  const ext = file.name.toLowerCase().split('.').pop() ?? '';
  if (ext === 'md' || ext === 'markdown') return 'text/markdown';
  if (ext === 'pdf') return 'application/pdf';
  if (ext === 'txt' || ext === 'text') return 'text/plain';
  return file.type || 'application/octet-stream';
}

export const uploadDocument = (file: File, signal?: AbortSignal) =>
  apiFetch(`/basalt/documents?name=${encodeURIComponent(file.name)}`, {
    method: 'POST',
    rawBody: file,
    contentType: documentMediaType(file),
    signal,
  })
    .then((r) => r.json() as Promise<{ document: DocumentInfo }>)
    .then((r) => r.document);

/** Splits a text/event-stream into events; feed() returns the complete ones so far. */
export class SseParser {
  private buf = '';
  feed(chunk: string): { event: string; data: string }[] {
    this.buf += chunk.replace(/\r\n?/g, '\n');
    const out: { event: string; data: string }[] = [];
    let end: number;
    while ((end = this.buf.indexOf('\n\n')) >= 0) {
      const block = this.buf.slice(0, end);
      this.buf = this.buf.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue; // a comment (keep-alive)
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length) out.push({ event, data: data.join('\n') });
    }
    return out;
  }
}

/** One SSE event as a RunEvent (the event name from `event:`, the fields from the JSON). */
export function toRunEvent(event: string, data: string): RunEvent | null {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(data) as Record<string, unknown>;
  } catch {
    return null;
  }
  const name = event === 'message' && typeof j.event === 'string' ? j.event : event;
  if (name === 'error') return { event: 'error', type: String(j.type ?? j.__type ?? 'Error'), message: String(j.message ?? '') };
  return { ...j, event: name } as RunEvent;
}

/** POSTs a run or chat with stream: true and calls onEvent for each event as it arrives. */
async function streamEvents(path: string, body: unknown, signal: AbortSignal, onEvent: (e: RunEvent) => void): Promise<void> {
  const res = await apiFetch(path, {
    method: 'POST',
    body,
    signal,
    headers: { Accept: 'text/event-stream' },
  });
  if (!res.body) throw new ApiError(0, 'NetworkError', 'The response has no body.');
  const ct = res.headers.get('Content-Type') ?? '';
  if (!ct.includes('text/event-stream')) {
    // A server that answered in one piece: replay its outputs as events.
    const j = (await res.json()) as { runId?: string; outputs?: Record<string, { status: string; text?: string; images?: string[]; error?: { type: string; message: string }; usage?: never }>; usage?: never };
    onEvent({ event: 'run', runId: j.runId ?? '' });
    for (const [widgetId, o] of Object.entries(j.outputs ?? {})) {
      if (o.text) onEvent({ event: 'delta', widgetId, text: o.text });
      if (o.images?.length) onEvent({ event: 'image', widgetId, images: o.images });
      onEvent({ event: 'widget-end', widgetId, status: o.status as never, usage: o.usage, error: o.error });
    }
    onEvent({ event: 'done', runId: j.runId ?? '', status: 'succeeded', usage: j.usage });
    return;
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    for (const ev of parser.feed(value)) {
      const e = toRunEvent(ev.event, ev.data);
      if (e) onEvent(e);
    }
  }
}

export type RunInputs = Record<string, string | { documentId: string }>;

export const streamRun = (
  ref: AppRef,
  req: { inputs: RunInputs; widgets?: string[] },
  signal: AbortSignal,
  onEvent: (e: RunEvent) => void,
) => streamEvents(`${appBase(ref)}/runs`, { ...req, stream: true }, signal, onEvent);

export const streamChat = (
  ref: AppRef,
  req: { widgetId: string; inputs: RunInputs; messages: { role: 'user' | 'assistant'; content: string }[] },
  signal: AbortSignal,
  onEvent: (e: RunEvent) => void,
) => streamEvents(`${appBase(ref)}/chat`, { ...req, stream: true }, signal, onEvent);

/** Which widget a server validation message is about: a title it quotes, else widgets[i]. */
export function widgetOfMessage(message: string, def: AppDefinition): string | null {
  const idx = /widgets\[(\d+)\]/.exec(message);
  if (idx && def.widgets[Number(idx[1])]) return def.widgets[Number(idx[1])].id;
  // Longest title first, so "Topic summary" wins over "Topic".
  const byLength = [...def.widgets].sort((a, b) => b.title.length - a.title.length);
  for (const w of byLength) if (message.includes(`'${w.title}'`) || message.includes(`"${w.title}"`)) return w.id;
  return null;
}
