// HTTP/2 half of bench/load_soak.py: CLIENTS concurrent loops through
// @aws-sdk/client-bedrock-runtime (default NodeHttp2Handler: h2c with prior knowledge) for
// SECONDS seconds, at most MAX_REQUESTS per loop, rotating InvokeModel, its stream, Converse
// and ConverseStream. Prints one JSON line per request on stdout, then {"done": true}.
// Env: AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, MODEL_ID,
// CLIENTS, SECONDS, MAX_REQUESTS; optional OPS (comma-separated subset), MAX_TOKENS (fixed
// instead of 1..32), STOP_ON_ERROR=1 (a loop ends at its first failure) and STARTED=1 (a
// {"started": requestId, "t": ms since epoch} line when a stream's response arrives).
// NODE_MODULES_DIR: the folder whose node_modules hold the SDK (tests/integration/node).
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_MODULES_DIR ?? process.cwd(), "x.js"));
const {
  BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand, InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} = require("@aws-sdk/client-bedrock-runtime");

const MODEL = process.env.MODEL_ID ?? "meta.llama3-8b-instruct-v1:0";
const CLIENTS = Number(process.env.CLIENTS ?? 4);
const SECONDS = Number(process.env.SECONDS ?? 60);
const MAX_REQUESTS = Number(process.env.MAX_REQUESTS ?? 100000);
const REQUEST_TIMEOUT_MS = Number(process.env.REQUEST_TIMEOUT_MS ?? 60000);
const enc = new TextEncoder();
const dec = new TextDecoder();
const OPS = process.env.OPS ? process.env.OPS.split(",")
  : ["InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream"];
const FIXED_MAX_TOKENS = process.env.MAX_TOKENS ? Number(process.env.MAX_TOKENS) : 0;
const STOP_ON_ERROR = process.env.STOP_ON_ERROR === "1";
const STARTED = process.env.STARTED === "1";
const messages = [{ role: "user", content: [{ text: "Once upon a time" }] }];

function emit(obj) { process.stdout.write(JSON.stringify(obj) + "\n"); }

async function one(client, op, maxTokens) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  const opts = { abortSignal: abort.signal };
  try {
    if (op === "InvokeModel") {
      const r = await client.send(new InvokeModelCommand({
        modelId: MODEL, contentType: "application/json", accept: "application/json",
        body: enc.encode(JSON.stringify({ prompt: "Once upon a time", max_gen_len: maxTokens })),
      }), opts);
      const body = JSON.parse(dec.decode(r.body));
      return { rid: r.$metadata.requestId, out: body.generation_token_count };
    }
    if (op === "InvokeModelWithResponseStream") {
      const r = await client.send(new InvokeModelWithResponseStreamCommand({
        modelId: MODEL, contentType: "application/json",
        body: enc.encode(JSON.stringify({ prompt: "Once upon a time", max_gen_len: maxTokens })),
      }), opts);
      if (STARTED) emit({ started: r.$metadata.requestId, t: Date.now() });
      let out;
      for await (const ev of r.body) {
        if (!ev.chunk) throw Object.assign(new Error("non-chunk event " + Object.keys(ev)[0]),
                                           { name: Object.keys(ev)[0] });
        const c = JSON.parse(dec.decode(ev.chunk.bytes));
        const m = c["amazon-bedrock-invocationMetrics"];
        if (m) out = m.outputTokenCount;
      }
      return { rid: r.$metadata.requestId, out };
    }
    if (op === "Converse") {
      const r = await client.send(new ConverseCommand({
        modelId: MODEL, messages, inferenceConfig: { maxTokens },
      }), opts);
      return { rid: r.$metadata.requestId, out: r.usage.outputTokens };
    }
    const r = await client.send(new ConverseStreamCommand({
      modelId: MODEL, messages, inferenceConfig: { maxTokens },
    }), opts);
    if (STARTED) emit({ started: r.$metadata.requestId, t: Date.now() });
    let out;
    for await (const ev of r.stream) {
      if (ev.metadata) out = ev.metadata.usage.outputTokens;
    }
    return { rid: r.$metadata.requestId, out };
  } finally {
    clearTimeout(timer);
  }
}

async function loop(id, deadline) {
  const client = new BedrockRuntimeClient({ maxAttempts: 1 });
  for (let i = 0; i < MAX_REQUESTS && Date.now() < deadline; ++i) {
    const op = OPS[(id + i) % OPS.length];
    const maxTokens = FIXED_MAX_TOKENS || 1 + ((id * 7 + i * 5) % 32);
    const t0 = performance.now();
    try {
      const { rid, out } = await one(client, op, maxTokens);
      emit({ proto: "h2", op, ok: true, rid, out, ms: performance.now() - t0 });
    } catch (e) {
      // Modelled Bedrock errors carry $fault and $metadata from a parsed error response.
      emit({
        proto: "h2", op, ok: false, ms: performance.now() - t0,
        error: e.name ?? "Error", modelled: e.$fault !== undefined && e.$metadata !== undefined,
        status: e.$metadata?.httpStatusCode, rid: e.$metadata?.requestId,
        message: String(e.message ?? e).slice(0, 200),
      });
      if (STOP_ON_ERROR) break;
    }
  }
  client.destroy();
}

const deadline = Date.now() + SECONDS * 1000;
await Promise.all(Array.from({ length: CLIENTS }, (_, i) => loop(i, deadline)));
emit({ done: true });
