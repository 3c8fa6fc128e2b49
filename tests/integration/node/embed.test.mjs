// Embeddings through @aws-sdk/client-bedrock-runtime (HTTP/2 by default), against the server
// test_embeddings.py starts (a random BERT behind the Titan and Cohere embedding ids).
// Env: AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BedrockRuntimeClient, InvokeModelCommand, InvokeModelWithResponseStreamCommand,
  ValidationException,
} from "@aws-sdk/client-bedrock-runtime";

const client = new BedrockRuntimeClient({});
const enc = new TextEncoder();
const dec = new TextDecoder();

test("Titan V2 embedding over HTTP/2", async () => {
  const r = await client.send(new InvokeModelCommand({
    modelId: "amazon.titan-embed-text-v2:0", contentType: "application/json",
    body: enc.encode(JSON.stringify({ inputText: "the water search query", dimensions: 256 })),
  }));
  const body = JSON.parse(dec.decode(r.body));
  assert.equal(body.embedding.length, 256);
  const norm = Math.sqrt(body.embedding.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-5, `norm ${norm}`);
  assert.equal(body.inputTextTokenCount, 6);
  assert.deepEqual(body.embeddingsByType.float, body.embedding);
});

test("Cohere embeddings over HTTP/2", async () => {
  const r = await client.send(new InvokeModelCommand({
    modelId: "cohere.embed-english-v3",
    body: enc.encode(JSON.stringify({ texts: ["a b", "water"], input_type: "search_query",
                                      embedding_types: ["int8"] })),
  }));
  const body = JSON.parse(dec.decode(r.body));
  assert.equal(body.response_type, "embeddings_by_type");
  assert.equal(body.embeddings.int8.length, 2);
});

test("Streaming an embedding model is a modelled ValidationException", async () => {
  await assert.rejects(
    client.send(new InvokeModelWithResponseStreamCommand({
      modelId: "cohere.embed-english-v3",
      body: enc.encode(JSON.stringify({ texts: ["a"], input_type: "search_query" })),
    })),
    (e) => e instanceof ValidationException && e.message === "The model is unsupported for streaming",
  );
});
