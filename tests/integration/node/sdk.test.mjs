// The Bedrock runtime through @aws-sdk/client-bedrock-runtime with its default handler
// (NodeHttp2Handler: h2c with prior knowledge on an http:// endpoint).
// Env: AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand, CountTokensCommand,
  InvokeModelCommand, InvokeModelWithResponseStreamCommand, ValidationException,
} from "@aws-sdk/client-bedrock-runtime";
import { BedrockClient, ListFoundationModelsCommand } from "@aws-sdk/client-bedrock";

const client = new BedrockRuntimeClient({});
const enc = new TextEncoder();
const dec = new TextDecoder();
const prompt = { prompt: "\n\nHuman: Once upon a time\n\nAssistant:", max_tokens_to_sample: 48, temperature: 0 };

test("InvokeModel over HTTP/2", async () => {
  const r = await client.send(new InvokeModelCommand({
    modelId: "anthropic.claude-v2", contentType: "application/json", accept: "application/json",
    body: enc.encode(JSON.stringify(prompt)),
  }));
  const body = JSON.parse(dec.decode(r.body));
  assert.match(body.completion, /Lily/);
  assert.equal(r.contentType, "application/json");
  assert.equal(r.$metadata.httpStatusCode, 200);
  assert.equal(r.$metadata.requestId.length, 36);
});

test("InvokeModelWithResponseStream over HTTP/2", async () => {
  const r = await client.send(new InvokeModelWithResponseStreamCommand({
    modelId: "anthropic.claude-v2", contentType: "application/json",
    body: enc.encode(JSON.stringify(prompt)),
  }));
  let text = "";
  let last;
  for await (const event of r.body) {
    assert.ok(event.chunk, JSON.stringify(event));
    last = JSON.parse(dec.decode(event.chunk.bytes));
    text += last.completion;
  }
  assert.match(text, /Lily/);
  assert.ok(last["amazon-bedrock-invocationMetrics"].outputTokenCount > 0);
});

test("Converse over HTTP/2", async () => {
  const r = await client.send(new ConverseCommand({
    modelId: "anthropic.claude-v2",
    messages: [{ role: "user", content: [{ text: "Once upon a time" }] }],
    inferenceConfig: { maxTokens: 48, temperature: 0 },
  }));
  assert.match(r.output.message.content[0].text, /Lily/);
  assert.equal(r.usage.totalTokens, r.usage.inputTokens + r.usage.outputTokens);
});

test("ConverseStream over HTTP/2", async () => {
  const r = await client.send(new ConverseStreamCommand({
    modelId: "anthropic.claude-v2",
    messages: [{ role: "user", content: [{ text: "Once upon a time" }] }],
    inferenceConfig: { maxTokens: 48, temperature: 0 },
  }));
  let text = "";
  const kinds = [];
  let usage;
  for await (const event of r.stream) {
    kinds.push(Object.keys(event)[0]);
    if (event.contentBlockDelta) text += event.contentBlockDelta.delta.text;
    if (event.metadata) usage = event.metadata.usage;
  }
  assert.match(text, /Lily/);
  assert.equal(kinds[0], "messageStart");
  assert.deepEqual(kinds.slice(-2), ["messageStop", "metadata"]);
  assert.ok(usage.outputTokens > 0);
});

test("CountTokens over HTTP/2", async () => {
  const r = await client.send(new CountTokensCommand({
    modelId: "anthropic.claude-v2",
    input: { converse: { messages: [{ role: "user", content: [{ text: "Once upon a time" }] }] } },
  }));
  assert.ok(r.inputTokens > 0);
});

test("Unknown model is a modelled ValidationException", async () => {
  await assert.rejects(
    client.send(new ConverseCommand({
      modelId: "nope.nope", messages: [{ role: "user", content: [{ text: "x" }] }],
    })),
    (err) => err instanceof ValidationException &&
      err.message === "The provided model identifier is invalid." && err.$fault === "client");
});

test("Concurrent streams on HTTP/2", async () => {
  const runs = Array.from({ length: 8 }, async () => {
    const r = await client.send(new ConverseStreamCommand({
      modelId: "meta.llama3-8b-instruct-v1:0",
      messages: [{ role: "user", content: [{ text: "Once upon a time" }] }],
      inferenceConfig: { maxTokens: 16, temperature: 0 },
    }));
    let out = 0;
    for await (const e of r.stream) if (e.metadata) out = e.metadata.usage.outputTokens;
    return out;
  });
  const outs = await Promise.all(runs);
  for (const n of outs) assert.ok(n > 0 && n <= 16);
});

test("Control plane client lists the catalog", async () => {
  const bedrock = new BedrockClient({});
  const r = await bedrock.send(new ListFoundationModelsCommand({ byProvider: "Anthropic" }));
  assert.ok(r.modelSummaries.some((m) => m.modelId === "anthropic.claude-v2"));
  assert.ok(r.modelSummaries.every((m) => m.providerName === "Anthropic"));
});

test("The runtime client over HTTP/1.1 (NodeHttpHandler) signs with host", async () => {
  const { NodeHttpHandler } = await import("@smithy/node-http-handler");
  const h1 = new BedrockRuntimeClient({ requestHandler: new NodeHttpHandler() });
  const r = await h1.send(new ConverseStreamCommand({
    modelId: "anthropic.claude-v2",
    messages: [{ role: "user", content: [{ text: "Once upon a time" }] }],
    inferenceConfig: { maxTokens: 48, temperature: 0 },
  }));
  let text = "";
  for await (const e of r.stream) if (e.contentBlockDelta) text += e.contentBlockDelta.delta.text;
  assert.match(text, /Lily/);
});

test("Bad secret is InvalidSignatureException", async () => {
  const bad = new BedrockRuntimeClient({
    credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: "x".repeat(40) },
    maxAttempts: 1,
  });
  await assert.rejects(
    bad.send(new ConverseCommand({
      modelId: "anthropic.claude-v2", messages: [{ role: "user", content: [{ text: "x" }] }],
    })),
    (err) => err.name === "InvalidSignatureException" && err.$metadata.httpStatusCode === 403);
});
