// The model page's request samples are real code: the CLI sample is run by bash against a
// stub `aws`, the boto3 sample by python3 against a stub boto3, the JS sample is parsed by
// node. `npm run test:unit`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CatalogModel } from '../src/api/types.ts';
import { cliSample, jsSample, pythonSample, shQuote } from '../src/pages/catalog/samples.ts';

const model = (id: string, output = 'TEXT'): CatalogModel => ({
  modelId: id,
  modelArn: `arn:aws:bedrock:us-east-1::foundation-model/${id}`,
  modelName: id,
  providerName: 'Test',
  inputModalities: ['TEXT'],
  outputModalities: [output],
  contextLength: 512,
  responseStreamingSupported: true,
  price: null,
  regions: ['us-east-1'],
  served: true,
  access: 'GRANTED',
  useCaseRequired: false,
  agreementRequired: false,
});

const cases = [
  { model: model('anthropic.claude-3-haiku-20240307-v1:0'), prompt: 'Hello! What can you do?' },
  { model: model('test.llama-2-tiny-random-v1:0'), prompt: `안녕하세요! "따옴표"와 'it's' \\ $HOME` },
];
const endpoint = 'http://127.0.0.1:8080';
const region = 'us-east-1';

function withDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'samples-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('shQuote quotes what the shell would change', () => {
  assert.equal(shQuote('us-east-1'), 'us-east-1');
  assert.equal(shQuote('a b'), "'a b'");
  assert.equal(shQuote("it's"), `'it'\\''s'`);
});

test('the AWS CLI sample passes the right arguments to `aws bedrock-runtime converse`', () => {
  for (const c of cases) {
    const script = cliSample({ model: c.model, endpoint, region, prompt: c.prompt });
    const argv = JSON.parse(
      execFileSync('bash', ['-c', `aws() { node -e 'console.log(JSON.stringify(process.argv.slice(1)))' -- "$@"; }\n${script}`], {
        encoding: 'utf8',
      }),
    ) as string[];
    assert.deepEqual(argv.slice(0, 2), ['bedrock-runtime', 'converse']);
    const arg = (name: string) => argv[argv.indexOf(name) + 1];
    assert.equal(arg('--endpoint-url'), endpoint);
    assert.equal(arg('--region'), region);
    assert.equal(arg('--model-id'), c.model.modelId);
    assert.deepEqual(JSON.parse(arg('--messages')), [{ role: 'user', content: [{ text: c.prompt }] }]);
    assert.deepEqual(JSON.parse(arg('--inference-config')), { maxTokens: 256, temperature: 0.7 });
  }
});

test('the boto3 sample calls client.converse with the model, endpoint and region', () => {
  for (const c of cases) {
    const code = pythonSample({ model: c.model, endpoint, region, prompt: c.prompt });
    const out = withDir((dir) => {
      writeFileSync(
        join(dir, 'boto3.py'),
        [
          'import json',
          'class _C:',
          '    def __init__(self, **kw): print(json.dumps({"client": kw}))',
          '    def converse(self, **kw):',
          '        print(json.dumps({"converse": kw}))',
          '        return {"output": {"message": {"content": [{"text": "ok"}]}}, "usage": {}}',
          'def client(service, **kw): return _C(service=service, **kw)',
        ].join('\n'),
      );
      writeFileSync(join(dir, 'sample.py'), code);
      return execFileSync('python3', ['sample.py'], { cwd: dir, encoding: 'utf8' });
    });
    const [client, converse] = out.trim().split('\n').slice(0, 2).map((l) => JSON.parse(l));
    assert.deepEqual(client.client, { service: 'bedrock-runtime', region_name: region, endpoint_url: endpoint });
    assert.equal(converse.converse.modelId, c.model.modelId);
    assert.deepEqual(converse.converse.messages, [{ role: 'user', content: [{ text: c.prompt }] }]);
  }
});

test('the JavaScript SDK v3 sample is a valid module naming the model and endpoint', () => {
  for (const c of cases) {
    const code = jsSample({ model: c.model, endpoint, region, prompt: c.prompt });
    withDir((dir) => {
      writeFileSync(join(dir, 'sample.mjs'), code);
      execFileSync('node', ['--check', join(dir, 'sample.mjs')]);
    });
    assert.match(code, /new ConverseCommand\(/);
    assert.ok(code.includes(`modelId: ${JSON.stringify(c.model.modelId)}`));
    assert.ok(code.includes(`endpoint: ${JSON.stringify(endpoint)}`));
    assert.ok(code.includes(`text: ${JSON.stringify(c.prompt)}`));
  }
});

test('image models get InvokeModel samples with a Titan body', () => {
  const m = model('amazon.titan-image-generator-v2:0', 'IMAGE');
  const script = cliSample({ model: m, endpoint, region, prompt: 'a lighthouse' });
  const argv = JSON.parse(
    execFileSync('bash', ['-c', `aws() { node -e 'console.log(JSON.stringify(process.argv.slice(1)))' -- "$@"; }\n${script}`], {
      encoding: 'utf8',
    }),
  ) as string[];
  assert.deepEqual(argv.slice(0, 2), ['bedrock-runtime', 'invoke-model']);
  const body = JSON.parse(argv[argv.indexOf('--body') + 1]);
  assert.equal(body.taskType, 'TEXT_IMAGE');
  assert.equal(body.textToImageParams.text, 'a lighthouse');
  withDir((dir) => {
    writeFileSync(join(dir, 's.py'), pythonSample({ model: m, endpoint, region, prompt: 'x' }));
    execFileSync('python3', ['-m', 'py_compile', join(dir, 's.py')]);
    writeFileSync(join(dir, 's.mjs'), jsSample({ model: m, endpoint, region, prompt: 'x' }));
    execFileSync('node', ['--check', join(dir, 's.mjs')]);
  });
});
