// Unit tests for the playgrounds' request logic: `npm run test:unit`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  boto3Code,
  buildConverseBody,
  checkNewStopSequence,
  cliCommand,
  DEFAULT_SETTINGS,
  pythonLiteral,
  replyCost,
  validateSettings,
} from '../src/pages/playground/converse.ts';
import { imageFileName, titanImageBody, validateImage } from '../src/pages/playground/image.ts';
import type { CatalogModel } from '../src/api/types.ts';

test('settings are validated with the API wording (src/api/converse.cc)', () => {
  assert.deepEqual(validateSettings(DEFAULT_SETTINGS), {});
  const e = validateSettings({ ...DEFAULT_SETTINGS, temperature: 1.5, topP: -0.1, maxTokens: '0' });
  assert.equal(
    e.temperature,
    "1 validation error detected: Value '1.5' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value less than or equal to 1",
  );
  assert.equal(
    e.topP,
    "1 validation error detected: Value '-0.1' at 'inferenceConfig.topP' failed to satisfy constraint: Member must have value greater than or equal to 0",
  );
  assert.equal(
    e.maxTokens,
    "1 validation error detected: Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1",
  );
  assert.match(validateSettings({ ...DEFAULT_SETTINGS, maxTokens: '2.5' }).maxTokens!, /must be of type integer/);
  assert.match(validateSettings({ ...DEFAULT_SETTINGS, system: '   ' }).system!, /SystemContentBlock object is blank/);
});

test('stop sequences: non-empty, 512 bytes each, 4096 in all (src/api/chat.h)', () => {
  assert.match(checkNewStopSequence([], '')!, /length greater than or equal to 1/);
  assert.equal(checkNewStopSequence([], 'END'), null);
  assert.equal(checkNewStopSequence([], 'x'.repeat(513)), 'Stop sequences are limited to 512 bytes each and 4096 bytes in all.');
  // Korean: 3 bytes a character in UTF-8
  assert.equal(checkNewStopSequence([], '끝'.repeat(171)), 'Stop sequences are limited to 512 bytes each and 4096 bytes in all.');
  assert.equal(checkNewStopSequence([], '끝'.repeat(170)), null);
  const eight = Array.from({ length: 8 }, (_, n) => String(n).repeat(512));
  assert.equal(checkNewStopSequence(eight.slice(0, 7), eight[7]), null);
  assert.match(checkNewStopSequence(eight, 'z')!, /4096 bytes in all/);
});

test('the Converse body carries the settings; the system prompt only when set', () => {
  const body = buildConverseBody(
    [
      { role: 'user', text: 'hi' },
      { role: 'assistant', text: 'hello' },
      { role: 'user', text: '안녕' },
    ],
    { system: 'Be brief.', temperature: 0.2, topP: 0.8, maxTokens: ' 64 ', stopSequences: ['END'] },
  );
  assert.deepEqual(body, {
    messages: [
      { role: 'user', content: [{ text: 'hi' }] },
      { role: 'assistant', content: [{ text: 'hello' }] },
      { role: 'user', content: [{ text: '안녕' }] },
    ],
    system: [{ text: 'Be brief.' }],
    inferenceConfig: { maxTokens: 64, temperature: 0.2, topP: 0.8, stopSequences: ['END'] },
  });
  assert.equal(buildConverseBody([{ role: 'user', text: 'x' }], DEFAULT_SETTINGS).system, undefined);
  assert.equal(buildConverseBody([{ role: 'user', text: 'x' }], DEFAULT_SETTINGS).inferenceConfig.stopSequences, undefined);
});

test('AWS CLI and boto3 forms', () => {
  const body = buildConverseBody([{ role: 'user', text: "it's" }], { ...DEFAULT_SETTINGS, system: 'S' });
  const cli = cliCommand('anthropic.claude-v2:1', body, 'us-east-1', 'http://127.0.0.1:8080');
  assert.equal(
    cli,
    [
      'aws bedrock-runtime converse',
      '  --region us-east-1',
      '  --endpoint-url http://127.0.0.1:8080',
      "  --model-id 'anthropic.claude-v2:1'",
      `  --messages '[{"role":"user","content":[{"text":"it'\\''s"}]}]'`,
      `  --system '[{"text":"S"}]'`,
      `  --inference-config '{"maxTokens":512,"temperature":0.7,"topP":0.9}'`,
    ].join(' \\\n'),
  );
  const py = boto3Code('m', body, 'us-east-1', 'http://h');
  assert.match(py, /client\.converse_stream\(/);
  assert.match(py, /endpoint_url="http:\/\/h"/);
  assert.equal(pythonLiteral({ a: true, b: null, c: [1, 'x'] }), '{\n    "a": True,\n    "b": None,\n    "c": [\n        1,\n        "x",\n    ],\n}');
});

test('reply cost from the catalog price', () => {
  const m = { price: { inputPer1kTokens: 0.001, outputPer1kTokens: 0.002, perImage: null } } as CatalogModel;
  assert.equal(replyCost(m, { inputTokens: 1000, outputTokens: 500, totalTokens: 1500 }), 0.002);
  assert.equal(replyCost({ price: null } as unknown as CatalogModel, { inputTokens: 1, outputTokens: 1, totalTokens: 2 }), null);
  assert.equal(replyCost(m, undefined), null);
});

test('Titan image body, validation and download names', () => {
  const s = { text: '달 위의 고양이', negativeText: '', size: '768x1152', count: '2', seed: '7', cfgScale: '8' };
  assert.deepEqual(validateImage(s), {});
  assert.deepEqual(titanImageBody(s), {
    taskType: 'TEXT_IMAGE',
    textToImageParams: { text: '달 위의 고양이' },
    imageGenerationConfig: { numberOfImages: 2, height: 1152, width: 768, cfgScale: 8, seed: 7 },
  });
  const bad = validateImage({ ...s, count: '6', seed: '-1', cfgScale: '11', text: 'x'.repeat(513) });
  assert.match(bad.count!, /numberOfImages' failed to satisfy constraint: Member must have value less than or equal to 5/);
  assert.match(bad.seed!, /greater than or equal to 0/);
  assert.match(bad.cfgScale!, /less than or equal to 10/);
  assert.match(bad.text!, /length less than or equal to 512/);
  assert.equal(imageFileName('달 위의 고양이, 유화 스타일!', 1), '달-위의-고양이-유화-스타일-1.png');
  assert.equal(imageFileName('../../etc/passwd', 2), 'etc-passwd-2.png');
  assert.equal(imageFileName('   ', 3), 'image-3.png');
});
