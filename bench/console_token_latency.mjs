#!/usr/bin/env node
// Console token latency: the time from a ConverseStream chunk's arrival on the wire to its
// text appearing in the chat playground's DOM, against the 50 ms budget.
//
// A local HTTP server serves the built console (web/dist) and a stand-in for the console API:
// /console/api/session and /console/api/basalt/catalog answer fixed JSON, and
// /console/api/model/<id>/converse-stream writes a hand-made event stream, one event per
// token ("w0 ", "w1 ", ...) at a steady pace, some events split across two writes, some
// several to a write, recording the time each event's last byte is written to the socket.
// Chromium (Playwright) opens /playground/chat, sends a message, and a MutationObserver in
// the page records when each token's text first appears in the reply. Both clocks are the
// same machine's (performance.timeOrigin + performance.now()).
//
// Usage (from the repository root, in the forky root, after `npm run build` in web/):
//   node bench/console_token_latency.mjs [--tokens 200] [--interval-ms 20] [--runs 3]
//                                        [--dist web/dist] [--budget-ms 50]
// Exits 1 when the p95 is over the budget.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const TOKENS = Number(opt('tokens', 200));
const INTERVAL = Number(opt('interval-ms', 20));
const RUNS = Number(opt('runs', 3));
const BUDGET = Number(opt('budget-ms', 50));
const DIST = path.resolve(repo, opt('dist', 'web/dist'));
const require = createRequire(path.join(repo, 'web', 'package.json'));
const { chromium } = require('@playwright/test');

if (!fs.existsSync(path.join(DIST, 'index.html'))) {
  console.error(`No built console at ${DIST}: run \`npm run build\` in web/ first.`);
  process.exit(2);
}

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- event-stream encoding (bedrock-api.md section C) ----
function frame(eventType, body) {
  const headers = [];
  for (const [k, v] of Object.entries({ ':event-type': eventType, ':content-type': 'application/json', ':message-type': 'event' })) {
    const kb = Buffer.from(k);
    const vb = Buffer.from(v);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(vb.length);
    headers.push(Buffer.from([kb.length]), kb, Buffer.from([7]), len, vb);
  }
  const h = Buffer.concat(headers);
  const payload = Buffer.from(JSON.stringify(body));
  const total = 12 + h.length + payload.length + 4;
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(total, 0);
  prelude.writeUInt32BE(h.length, 4);
  prelude.writeUInt32BE(zlib.crc32(prelude.subarray(0, 8)) >>> 0, 8);
  const head = Buffer.concat([prelude, h, payload]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(head) >>> 0);
  return Buffer.concat([head, crc]);
}

// ---- the stand-in server ----
const session = {
  user: { UserName: 'bench', UserId: 'u', AccountId: '000000000000', AccountName: 'bench', Arn: 'arn:aws:iam::000000000000:user/bench' },
  csrfToken: 'bench',
  expiresAt: '2099-01-01T00:00:00Z',
  region: 'us-east-1',
  endpoint: '',
  operator: false,
  can: { invoke: true, listModels: true, manageAccess: false, approveAccess: false, viewUsage: true, viewAccountUsage: false, manageOwnKeys: true, manageUsers: false, manageModels: false },
};
const catalog = {
  models: [
    {
      modelId: 'bench.model-v1:0', modelArn: 'arn:aws:bedrock:us-east-1::foundation-model/bench.model-v1:0', modelName: 'Bench',
      providerName: 'Bench', inputModalities: ['TEXT'], outputModalities: ['TEXT'], contextLength: 4096,
      responseStreamingSupported: true, price: { inputPer1kTokens: 0.001, outputPer1kTokens: 0.002, perImage: null },
      regions: ['us-east-1'], served: true, access: 'GRANTED', useCaseRequired: false, agreementRequired: false,
    },
  ],
};
const TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json' };

let sendTimes = [];
async function streamReply(res) {
  res.writeHead(200, { 'Content-Type': 'application/vnd.amazon.eventstream' });
  res.flushHeaders();
  const write = (buf) => new Promise((r) => res.write(buf, r));
  await write(frame('messageStart', { role: 'assistant' }));
  sendTimes = [];
  for (let n = 0; n < TOKENS; ) {
    const kind = n % 10;
    if (kind === 3 && n + 2 < TOKENS) {
      // three events in one write (a burst, as after a stall)
      const bufs = [n, n + 1, n + 2].map((k) => frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: `w${k} ` } }));
      await write(Buffer.concat(bufs));
      const t = now();
      sendTimes.push(t, t, t);
      n += 3;
    } else if (kind === 7) {
      // one event split across two writes: it arrives with its second half
      const b = frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: `w${n} ` } });
      await write(b.subarray(0, 20));
      await sleep(5);
      await write(b.subarray(20));
      sendTimes.push(now());
      n += 1;
    } else {
      await write(frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: `w${n} ` } }));
      sendTimes.push(now());
      n += 1;
    }
    await sleep(INTERVAL);
  }
  await write(frame('contentBlockStop', { contentBlockIndex: 0 }));
  await write(frame('messageStop', { stopReason: 'end_turn' }));
  await write(frame('metadata', { usage: { inputTokens: 5, outputTokens: TOKENS, totalTokens: TOKENS + 5 }, metrics: { latencyMs: TOKENS * INTERVAL } }));
  res.end();
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const p = url.pathname;
  if (p === '/console/api/session') return res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(session));
  if (p === '/console/api/basalt/catalog') return res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(catalog));
  if (/^\/console\/api\/model\/[^/]+\/converse-stream$/.test(p) && req.method === 'POST') {
    req.resume();
    req.on('end', () => void streamReply(res));
    return;
  }
  if (p.startsWith('/console/api/')) return res.writeHead(404, { 'Content-Type': 'application/json', 'x-amzn-ErrorType': 'ResourceNotFoundException' }).end('{"message":"Not in the benchmark."}');
  const file = path.join(DIST, path.normalize(p).replace(/^(\.\.[/\\])+/, ''));
  if (p.startsWith('/assets/') && fs.existsSync(file) && fs.statSync(file).isFile()) {
    return res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(fs.readFileSync(file));
  }
  res.writeHead(200, { 'Content-Type': 'text/html' }).end(fs.readFileSync(path.join(DIST, 'index.html')));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

// ---- the browser ----
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
const all = [];
try {
  for (let run = 0; run < RUNS; run++) {
    await page.goto(`${base}/playground/chat`);
    const box = page.locator('.pg-composer textarea');
    await box.waitFor();
    await page.evaluate(() => {
      // Record when each "w<n>" first appears anywhere in the conversation.
      const w = window;
      w.__seen = [];
      let next = 0;
      const root = document.querySelector('.pg-conversation');
      const check = () => {
        const t = performance.timeOrigin + performance.now();
        const reply = root.querySelector('.pg-msg-assistant:last-child .pg-msg-body');
        if (!reply) return;
        const text = reply.textContent;
        while (text.includes(`w${next} `) || text.endsWith(`w${next}`)) {
          w.__seen[next] = t;
          next++;
        }
      };
      new MutationObserver(check).observe(root, { childList: true, subtree: true, characterData: true });
    });
    await box.fill('Tell me a long story.');
    await box.press('Enter');
    await page.locator('[data-status="done"]').waitFor({ timeout: TOKENS * INTERVAL * 5 + 30_000 });
    const seen = await page.evaluate(() => window.__seen);
    const lat = [];
    for (let n = 0; n < TOKENS; n++) {
      if (seen[n] === undefined || seen[n] === null) throw new Error(`token w${n} never appeared`);
      lat.push(seen[n] - sendTimes[n]);
    }
    all.push(...lat);
    const s = [...lat].sort((a, b) => a - b);
    console.log(`run ${run + 1}: ${TOKENS} tokens, median ${s[Math.floor(s.length / 2)].toFixed(1)} ms, p95 ${s[Math.floor(s.length * 0.95)].toFixed(1)} ms, max ${s[s.length - 1].toFixed(1)} ms`);
  }
} finally {
  await browser.close();
  server.close();
}
const s = all.sort((a, b) => a - b);
const pct = (q) => s[Math.min(s.length - 1, Math.floor(s.length * q))];
const median = pct(0.5);
const p95 = pct(0.95);
console.log(
  `wire -> DOM over ${s.length} tokens (${RUNS} runs, ${INTERVAL} ms apart): median ${median.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, ` +
    `p99 ${pct(0.99).toFixed(1)} ms, max ${s[s.length - 1].toFixed(1)} ms; budget ${BUDGET} ms: ${p95 <= BUDGET ? 'OK' : 'OVER'}`,
);
process.exit(p95 <= BUDGET ? 0 : 1);
