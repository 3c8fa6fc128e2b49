// Unit tests for the event-stream decoder: `npm run test:unit` (node:test via tsx).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 as zlibCrc32 } from 'node:zlib';
import {
  converseEvents,
  crc32,
  decodeEventStream,
  encodeConverseEvent,
  encodeConverseException,
  encodeMessage,
  EventStreamDecoder,
  EventStreamError,
  toConverseEvent,
} from '../src/lib/eventstream.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function u32(n: number) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

/** Builds a frame by hand from raw header bytes, with node's zlib CRC (independent of ours). */
function rawFrame(headers: Uint8Array, payload: Uint8Array): Uint8Array {
  const total = 12 + headers.length + payload.length + 4;
  const prelude8 = concat(u32(total), u32(headers.length));
  const head = concat(prelude8, u32(zlibCrc32(prelude8) >>> 0), headers, payload);
  return concat(head, u32(zlibCrc32(head) >>> 0));
}

function strHeader(name: string, value: string) {
  const n = enc.encode(name);
  const v = enc.encode(value);
  return concat(new Uint8Array([n.length]), n, new Uint8Array([7, v.length >> 8, v.length & 0xff]), v);
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]);
      else controller.close();
    },
  });
}

test('crc32 matches the CRC-32/IEEE check value and zlib', () => {
  assert.equal(crc32(enc.encode('123456789')), 0xcbf43926);
  const data = enc.encode('안녕하세요, event stream! '.repeat(50));
  assert.equal(crc32(data), zlibCrc32(data) >>> 0);
});

test('decodes the worked example of bedrock-api.md section C (prelude 000000e6 0000004b 23b8750e)', () => {
  const inner = '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}';
  const payload = JSON.stringify({ bytes: Buffer.from(inner).toString('base64'), p: 'abcdefgh' });
  const headers = concat(
    strHeader(':event-type', 'chunk'),
    strHeader(':content-type', 'application/json'),
    strHeader(':message-type', 'event'),
  );
  assert.equal(headers.length, 0x4b);
  const frame = rawFrame(headers, enc.encode(payload));
  assert.deepEqual(Array.from(frame.subarray(0, 12)), [0, 0, 0, 0xe6, 0, 0, 0, 0x4b, 0x23, 0xb8, 0x75, 0x0e]);
  // Our encoder writes the same bytes.
  assert.deepEqual(
    encodeMessage({ ':event-type': 'chunk', ':content-type': 'application/json', ':message-type': 'event' }, payload),
    frame,
  );
  const msgs = new EventStreamDecoder().push(frame);
  assert.equal(msgs.length, 1);
  assert.deepEqual(msgs[0].headers, {
    ':event-type': 'chunk',
    ':content-type': 'application/json',
    ':message-type': 'event',
  });
  assert.equal(dec.decode(msgs[0].payload), payload);
});

test('decodes every header value type', () => {
  const h = (name: string, type: number, value: number[]) =>
    concat(new Uint8Array([name.length]), enc.encode(name), new Uint8Array([type, ...value]));
  const headers = concat(
    h('t', 0, []),
    h('f', 1, []),
    h('b', 2, [0xff]),
    h('s', 3, [0x80, 0x00]),
    h('i', 4, [0xff, 0xff, 0xff, 0xfe]),
    h('l', 5, [0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01]),
    h('y', 6, [0x00, 0x03, 1, 2, 3]),
    h('z', 7, [0x00, 0x06, ...enc.encode('한글')]),
    h('ts', 8, [0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00]),
    h('u', 9, [...Array(16).keys()]),
  );
  const [m] = new EventStreamDecoder().push(rawFrame(headers, new Uint8Array()));
  assert.equal(m.headers.t, true);
  assert.equal(m.headers.f, false);
  assert.equal(m.headers.b, -1);
  assert.equal(m.headers.s, -32768);
  assert.equal(m.headers.i, -2);
  assert.equal(m.headers.l, 0x0000010000000001n);
  assert.deepEqual(m.headers.y, new Uint8Array([1, 2, 3]));
  assert.equal(m.headers.z, '한글');
  assert.deepEqual(m.headers.ts, new Date(0x018bcfe56800));
  assert.equal(m.headers.u, '00010203-0405-0607-0809-0a0b0c0d0e0f');
  assert.equal(m.payload.length, 0);
});

const conversation = () => [
  encodeConverseEvent('messageStart', { role: 'assistant', p: 'abc' }),
  encodeConverseEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Once upon' }, p: 'x' }),
  encodeConverseEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: ' a time, 토끼가' } }),
  encodeConverseEvent('contentBlockStop', { contentBlockIndex: 0 }),
  encodeConverseEvent('messageStop', { stopReason: 'end_turn' }),
  encodeConverseEvent('metadata', {
    usage: { inputTokens: 5, outputTokens: 7, totalTokens: 12 },
    metrics: { latencyMs: 42 },
  }),
];

test('split at every byte boundary, and one byte at a time, gives the same messages', () => {
  const whole = concat(...conversation());
  const expected = new EventStreamDecoder().push(whole);
  assert.equal(expected.length, 6);
  for (let cut = 0; cut <= whole.length; cut++) {
    const d = new EventStreamDecoder();
    const got = [...d.push(whole.subarray(0, cut)), ...d.push(whole.subarray(cut))];
    assert.deepEqual(got, expected, `cut at ${cut}`);
    d.finish();
  }
  const d = new EventStreamDecoder();
  const got = [];
  for (let i = 0; i < whole.length; i++) got.push(...d.push(whole.subarray(i, i + 1)));
  assert.deepEqual(got, expected);
  assert.equal(d.pending, 0);
});

test('a message is returned as soon as its last byte arrives', () => {
  const [a, b] = conversation();
  const d = new EventStreamDecoder();
  assert.equal(d.push(a.subarray(0, a.length - 1)).length, 0);
  const both = concat(a.subarray(a.length - 1), b.subarray(0, 5));
  assert.equal(d.push(both).length, 1);
  assert.equal(d.pending, 5);
  assert.equal(d.push(b.subarray(5)).length, 1);
});

test('large payloads grow the buffer', () => {
  const big = 'x'.repeat(100_000);
  const frame = encodeConverseEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: big } });
  const d = new EventStreamDecoder();
  const got = [];
  for (let i = 0; i < frame.length; i += 1000) got.push(...d.push(frame.subarray(i, i + 1000)));
  assert.equal(got.length, 1);
  const ev = toConverseEvent(got[0]);
  assert.equal(ev.type === 'contentBlockDelta' && ev.text, big);
});

test('a corrupted prelude CRC is refused before waiting for the body', () => {
  const frame = conversation()[1].slice();
  frame[9] ^= 0xff;
  const d = new EventStreamDecoder();
  assert.throws(() => d.push(frame.subarray(0, 12)), (e: unknown) => e instanceof EventStreamError && /Prelude checksum/.test(e.message));
});

test('a corrupted length is caught by the prelude CRC', () => {
  const frame = conversation()[1].slice();
  frame[3] ^= 0x01;
  assert.throws(() => new EventStreamDecoder().push(frame), /Prelude checksum mismatch/);
});

test('a corrupted payload or message CRC is refused', () => {
  const frame = conversation()[1].slice();
  frame[frame.length - 10] ^= 0x20; // inside the payload
  assert.throws(() => new EventStreamDecoder().push(frame), /Message checksum mismatch/);
  const frame2 = conversation()[1].slice();
  frame2[frame2.length - 1] ^= 0x01; // the CRC itself
  assert.throws(() => new EventStreamDecoder().push(frame2), /Message checksum mismatch/);
});

test('every single-bit flip anywhere in a message is detected', () => {
  const frame = conversation()[2];
  for (let i = 0; i < frame.length; i++) {
    const bad = frame.slice();
    bad[i] ^= 1 << (i % 8);
    assert.throws(() => new EventStreamDecoder().push(bad), EventStreamError, `byte ${i}`);
  }
});

test('bad lengths and headers are refused', () => {
  // total length below the 16-byte minimum (with a valid prelude CRC)
  const tiny = concat(u32(8), u32(0));
  assert.throws(() => new EventStreamDecoder().push(concat(tiny, u32(zlibCrc32(tiny) >>> 0))), /too short/);
  // headers longer than the message
  const over = concat(u32(20), u32(10));
  assert.throws(() => new EventStreamDecoder().push(concat(over, u32(zlibCrc32(over) >>> 0))), /longer than the message/);
  // a truncated header value
  assert.throws(
    () => new EventStreamDecoder().push(rawFrame(new Uint8Array([1, 0x61, 7, 0, 9, 0x61]), new Uint8Array())),
    /header is truncated/,
  );
  // an unknown header value type
  assert.throws(() => new EventStreamDecoder().push(rawFrame(new Uint8Array([1, 0x61, 42]), new Uint8Array())), /value type 42/);
});

test('a stream that ends inside a message is an error', async () => {
  const [a, b] = conversation();
  const events = [];
  await assert.rejects(async () => {
    for await (const m of decodeEventStream(streamOf([a, b.subarray(0, 20)]))) events.push(m);
  }, /ended inside a message/);
  assert.equal(events.length, 1);
});

test('converseEvents decodes a ConverseStream over a ReadableStream split in odd places', async () => {
  const whole = concat(...conversation());
  const chunks = [];
  for (let i = 0; i < whole.length; i += 7) chunks.push(whole.subarray(i, i + 7));
  const events = [];
  for await (const e of converseEvents(streamOf(chunks))) events.push(e);
  assert.deepEqual(
    events.map((e) => e.type),
    ['messageStart', 'contentBlockDelta', 'contentBlockDelta', 'contentBlockStop', 'messageStop', 'metadata'],
  );
  const text = events.map((e) => (e.type === 'contentBlockDelta' ? e.text : '')).join('');
  assert.equal(text, 'Once upon a time, 토끼가');
  assert.deepEqual(events[0], { type: 'messageStart', role: 'assistant' });
  assert.deepEqual(events[4], { type: 'messageStop', stopReason: 'end_turn' });
  assert.deepEqual(events[5], {
    type: 'metadata',
    usage: { inputTokens: 5, outputTokens: 7, totalTokens: 12 },
    metrics: { latencyMs: 42 },
  });
});

test('exceptions and unmodelled errors', () => {
  const [ex] = new EventStreamDecoder().push(encodeConverseException('modelStreamErrorException', 'The model stopped.'));
  assert.deepEqual(toConverseEvent(ex), {
    type: 'exception',
    exceptionType: 'modelStreamErrorException',
    message: 'The model stopped.',
  });
  const [err] = new EventStreamDecoder().push(
    encodeMessage({ ':message-type': 'error', ':error-code': 'InternalFailure', ':error-message': 'boom' }, ''),
  );
  assert.deepEqual(toConverseEvent(err), { type: 'error', errorCode: 'InternalFailure', message: 'boom' });
  const [unk] = new EventStreamDecoder().push(encodeConverseEvent('somethingNew', { a: 1 }));
  assert.deepEqual(toConverseEvent(unk), { type: 'unknown', eventType: 'somethingNew', payload: { a: 1 } });
});

test('stopping early cancels the underlying stream', async () => {
  let cancelled = false;
  const chunks = conversation();
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < chunks.length) c.enqueue(chunks[i++]);
    },
    cancel() {
      cancelled = true;
    },
  });
  for await (const e of converseEvents(body)) {
    if (e.type === 'contentBlockDelta') break;
  }
  assert.equal(cancelled, true);
});
