// Decoder (and a small encoder, for tests and benchmarks) for the AWS event-stream framing,
// `application/vnd.amazon.eventstream`, as used by Bedrock's ConverseStream and
// InvokeModelWithResponseStream. Reference: shared/docs/bedrock-api.md, section C.
//
// Each message: total length (u32 BE), headers length (u32 BE), CRC-32 of those 8 bytes,
// headers, payload, CRC-32 of everything before it. The decoder is incremental: bytes are
// pushed as they arrive from the network and every complete message is returned at once, so
// a chunk split across network reads (or several messages in one read) is handled.

export type HeaderValue = boolean | number | bigint | string | Uint8Array | Date;

export interface EventStreamMessage {
  headers: Record<string, HeaderValue>;
  payload: Uint8Array;
}

export class EventStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventStreamError';
  }
}

// ---- CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib's crc32 ----

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ---- limits (botocore's) ----

const PRELUDE_LENGTH = 12;
const MIN_MESSAGE_LENGTH = 16;
const MAX_HEADERS_LENGTH = 128 * 1024;
const MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024;

const utf8 = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

function decodeHeaders(view: DataView, bytes: Uint8Array, start: number, end: number) {
  const headers: Record<string, HeaderValue> = {};
  let p = start;
  const need = (n: number) => {
    if (p + n > end) throw new EventStreamError('Event stream header is truncated.');
  };
  while (p < end) {
    need(1);
    const nameLength = bytes[p++];
    need(nameLength + 1);
    const name = utf8.decode(bytes.subarray(p, p + nameLength));
    p += nameLength;
    const type = bytes[p++];
    let value: HeaderValue;
    switch (type) {
      case 0:
        value = true;
        break;
      case 1:
        value = false;
        break;
      case 2:
        need(1);
        value = view.getInt8(p);
        p += 1;
        break;
      case 3:
        need(2);
        value = view.getInt16(p);
        p += 2;
        break;
      case 4:
        need(4);
        value = view.getInt32(p);
        p += 4;
        break;
      case 5:
        need(8);
        value = view.getBigInt64(p);
        p += 8;
        break;
      case 6:
      case 7: {
        need(2);
        const n = view.getUint16(p);
        p += 2;
        need(n);
        const raw = bytes.subarray(p, p + n);
        value = type === 6 ? raw.slice() : utf8.decode(raw);
        p += n;
        break;
      }
      case 8:
        need(8);
        value = new Date(Number(view.getBigInt64(p)));
        p += 8;
        break;
      case 9: {
        need(16);
        const hex = Array.from(bytes.subarray(p, p + 16), (b) => b.toString(16).padStart(2, '0')).join('');
        value = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
        p += 16;
        break;
      }
      default:
        throw new EventStreamError(`Unknown event stream header value type ${type}.`);
    }
    headers[name] = value;
  }
  return headers;
}

/** Incremental decoder: push() bytes as they arrive; it returns every message now complete. */
export class EventStreamDecoder {
  private buf = new Uint8Array(4096);
  private start = 0; // first unread byte
  private end = 0; // one past the last byte

  /** Bytes received but not yet part of a complete message. */
  get pending(): number {
    return this.end - this.start;
  }

  push(chunk: Uint8Array): EventStreamMessage[] {
    this.append(chunk);
    const out: EventStreamMessage[] = [];
    for (;;) {
      const m = this.next();
      if (!m) break;
      out.push(m);
    }
    if (this.start === this.end) this.start = this.end = 0;
    return out;
  }

  /** Call at end of stream: throws when a partial message is left over. */
  finish(): void {
    if (this.pending > 0) {
      throw new EventStreamError(`The event stream ended inside a message (${this.pending} bytes left over).`);
    }
  }

  private append(chunk: Uint8Array) {
    if (this.end + chunk.length > this.buf.length) {
      const live = this.end - this.start;
      if (live + chunk.length <= this.buf.length && this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        let size = this.buf.length;
        while (size < live + chunk.length) size *= 2;
        const bigger = new Uint8Array(size);
        bigger.set(this.buf.subarray(this.start, this.end));
        this.buf = bigger;
      }
      this.start = 0;
      this.end = live;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  private next(): EventStreamMessage | null {
    const available = this.end - this.start;
    if (available < PRELUDE_LENGTH) return null;
    const bytes = this.buf;
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const s = this.start;
    const total = view.getUint32(s);
    const headersLength = view.getUint32(s + 4);
    const preludeCrc = view.getUint32(s + 8);
    // The prelude is checked as soon as it is here, so a corrupt length never makes us wait
    // for (or allocate) bytes that will never come.
    const computedPrelude = crc32(bytes, s, s + 8);
    if (computedPrelude !== preludeCrc) {
      throw new EventStreamError(
        `Prelude checksum mismatch: expected ${hex32(preludeCrc)}, computed ${hex32(computedPrelude)}.`,
      );
    }
    if (total < MIN_MESSAGE_LENGTH) throw new EventStreamError(`Event stream message too short (${total} bytes).`);
    if (headersLength > MAX_HEADERS_LENGTH) throw new EventStreamError(`Event stream headers too long (${headersLength} bytes).`);
    const payloadLength = total - headersLength - MIN_MESSAGE_LENGTH;
    if (payloadLength < 0) throw new EventStreamError('Event stream headers are longer than the message.');
    if (payloadLength > MAX_PAYLOAD_LENGTH) throw new EventStreamError(`Event stream payload too long (${payloadLength} bytes).`);
    if (available < total) return null;
    const messageCrc = view.getUint32(s + total - 4);
    const computed = crc32(bytes, s, s + total - 4);
    if (computed !== messageCrc) {
      throw new EventStreamError(`Message checksum mismatch: expected ${hex32(messageCrc)}, computed ${hex32(computed)}.`);
    }
    const headers = decodeHeaders(view, bytes, s + PRELUDE_LENGTH, s + PRELUDE_LENGTH + headersLength);
    const payload = bytes.slice(s + PRELUDE_LENGTH + headersLength, s + total - 4);
    this.start += total;
    return { headers, payload };
  }
}

function hex32(n: number) {
  return '0x' + n.toString(16).padStart(8, '0');
}

/** Decodes a byte stream (a fetch Response body) as it arrives, yielding each message. */
export async function* decodeEventStream(body: ReadableStream<Uint8Array>): AsyncGenerator<EventStreamMessage> {
  const reader = body.getReader();
  const decoder = new EventStreamDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const m of decoder.push(value)) yield m;
    }
    decoder.finish();
  } finally {
    // Reached on normal end, on error and when the consumer stops early (return()): in the
    // last case cancelling the reader closes the connection so the server stops generating.
    reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

// ---- ConverseStream events ----

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

export type ConverseStreamEvent =
  | { type: 'messageStart'; role: string }
  | { type: 'contentBlockStart'; contentBlockIndex: number; start: unknown }
  | { type: 'contentBlockDelta'; contentBlockIndex: number; text?: string; delta: Record<string, unknown> }
  | { type: 'contentBlockStop'; contentBlockIndex: number }
  | { type: 'messageStop'; stopReason: string }
  | { type: 'metadata'; usage: TokenUsage; metrics: { latencyMs: number } }
  /** `:message-type: exception`: a modelled error, e.g. `modelStreamErrorException`. */
  | { type: 'exception'; exceptionType: string; message: string }
  /** `:message-type: error`: an unmodelled error, with `:error-code` and `:error-message`. */
  | { type: 'error'; errorCode: string; message: string }
  | { type: 'unknown'; eventType: string; payload: unknown };

function parseJson(payload: Uint8Array): Record<string, unknown> {
  if (payload.length === 0) return {};
  try {
    const v = JSON.parse(utf8.decode(payload));
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    throw new EventStreamError('An event stream message carries a payload that is not JSON.');
  }
}

/** Interprets one event-stream message as a ConverseStream event. */
export function toConverseEvent(m: EventStreamMessage): ConverseStreamEvent {
  const messageType = String(m.headers[':message-type'] ?? 'event');
  if (messageType === 'exception') {
    const body = parseJson(m.payload);
    const message = typeof body.message === 'string' ? body.message : typeof body.Message === 'string' ? body.Message : '';
    return { type: 'exception', exceptionType: String(m.headers[':exception-type'] ?? 'exception'), message };
  }
  if (messageType === 'error') {
    return {
      type: 'error',
      errorCode: String(m.headers[':error-code'] ?? 'error'),
      message: String(m.headers[':error-message'] ?? ''),
    };
  }
  const eventType = String(m.headers[':event-type'] ?? '');
  const body = parseJson(m.payload);
  switch (eventType) {
    case 'messageStart':
      return { type: 'messageStart', role: String(body.role ?? 'assistant') };
    case 'contentBlockStart':
      return { type: 'contentBlockStart', contentBlockIndex: Number(body.contentBlockIndex ?? 0), start: body.start };
    case 'contentBlockDelta': {
      const delta = (body.delta && typeof body.delta === 'object' ? body.delta : {}) as Record<string, unknown>;
      return {
        type: 'contentBlockDelta',
        contentBlockIndex: Number(body.contentBlockIndex ?? 0),
        text: typeof delta.text === 'string' ? delta.text : undefined,
        delta,
      };
    }
    case 'contentBlockStop':
      return { type: 'contentBlockStop', contentBlockIndex: Number(body.contentBlockIndex ?? 0) };
    case 'messageStop':
      return { type: 'messageStop', stopReason: String(body.stopReason ?? '') };
    case 'metadata': {
      const u = (body.usage ?? {}) as Partial<TokenUsage>;
      const metrics = (body.metrics ?? {}) as { latencyMs?: number };
      return {
        type: 'metadata',
        usage: {
          ...u,
          inputTokens: Number(u.inputTokens ?? 0),
          outputTokens: Number(u.outputTokens ?? 0),
          totalTokens: Number(u.totalTokens ?? Number(u.inputTokens ?? 0) + Number(u.outputTokens ?? 0)),
        },
        metrics: { latencyMs: Number(metrics.latencyMs ?? 0) },
      };
    }
    default:
      return { type: 'unknown', eventType, payload: body };
  }
}

/** Decodes a ConverseStream response body into events, as they arrive. */
export async function* converseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ConverseStreamEvent> {
  for await (const m of decodeEventStream(body)) yield toConverseEvent(m);
}

// ---- encoder (tests, Playwright fixtures, the latency benchmark) ----

/** Encodes one message; every header value here is a string (type 7), as Bedrock sends. */
export function encodeMessage(headers: Record<string, string>, payload: Uint8Array | string): Uint8Array {
  const body = typeof payload === 'string' ? utf8Encoder.encode(payload) : payload;
  const headerParts: number[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = utf8Encoder.encode(name);
    const v = utf8Encoder.encode(value);
    headerParts.push(n.length, ...n, 7, v.length >> 8, v.length & 0xff, ...v);
  }
  const headersLength = headerParts.length;
  const total = PRELUDE_LENGTH + headersLength + body.length + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, total);
  view.setUint32(4, headersLength);
  view.setUint32(8, crc32(out, 0, 8));
  out.set(headerParts, PRELUDE_LENGTH);
  out.set(body, PRELUDE_LENGTH + headersLength);
  view.setUint32(total - 4, crc32(out, 0, total - 4));
  return out;
}

/** Encodes one ConverseStream event (`:message-type: event`). */
export function encodeConverseEvent(eventType: string, body: unknown): Uint8Array {
  return encodeMessage(
    { ':event-type': eventType, ':content-type': 'application/json', ':message-type': 'event' },
    JSON.stringify(body),
  );
}

/** Encodes a modelled exception (`:message-type: exception`). */
export function encodeConverseException(exceptionType: string, message: string): Uint8Array {
  return encodeMessage(
    { ':exception-type': exceptionType, ':content-type': 'application/json', ':message-type': 'exception' },
    JSON.stringify({ message }),
  );
}
