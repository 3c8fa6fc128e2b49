// Image generation through @aws-sdk/client-bedrock-runtime (HTTP/2 by default), against the
// server test_images.py starts (a tiny random SD-Turbo-shaped model behind the Titan Image
// Generator and Stability ids).
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
const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function titan(text, config) {
  return enc.encode(JSON.stringify({
    taskType: "TEXT_IMAGE", textToImageParams: { text }, imageGenerationConfig: config,
  }));
}

test("Titan Image Generator over HTTP/2: a PNG, the same bytes for the same seed", async () => {
  const call = async (seed) => {
    const r = await client.send(new InvokeModelCommand({
      modelId: "amazon.titan-image-generator-v1", contentType: "application/json",
      accept: "application/json", body: titan("a red fox", { numberOfImages: 1, seed }),
    }));
    const body = JSON.parse(dec.decode(r.body));
    assert.equal(body.error, null);
    assert.equal(body.images.length, 1);
    return Buffer.from(body.images[0], "base64");
  };
  const a = await call(21);
  assert.deepEqual([...a.subarray(0, 8)], PNG);
  assert.ok(a.equals(await call(21)), "same seed, same bytes");
  assert.ok(!a.equals(await call(22)), "another seed, another image");
});

test("Stability SDXL body over HTTP/2", async () => {
  const r = await client.send(new InvokeModelCommand({
    modelId: "stability.stable-diffusion-xl-v1",
    body: enc.encode(JSON.stringify({ text_prompts: [{ text: "a boat" }], seed: 5, samples: 2 })),
  }));
  const body = JSON.parse(dec.decode(r.body));
  assert.equal(body.result, "success");
  assert.deepEqual(body.artifacts.map((a) => a.seed), [5, 6]);
  assert.deepEqual([...Buffer.from(body.artifacts[0].base64, "base64").subarray(0, 8)], PNG);
});

test("Bad sizes and streaming are modelled ValidationExceptions", async () => {
  await assert.rejects(
    client.send(new InvokeModelCommand({
      modelId: "amazon.titan-image-generator-v2:0",
      body: titan("a", { width: 1000, height: 1000 }),
    })),
    (e) => e instanceof ValidationException && e.message.includes("is not a supported image size"),
  );
  await assert.rejects(
    client.send(new InvokeModelWithResponseStreamCommand({
      modelId: "amazon.titan-image-generator-v1", body: titan("a", { seed: 1 }),
    })),
    (e) => e instanceof ValidationException && e.message === "The model is unsupported for streaming",
  );
});
