import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Page, Route } from '@playwright/test';
import { test, expect, shot, checkA11y, signInWith, BasaltServer, MODELS_DIR, TEST_CATALOG, type Credentials } from './fixtures';

// Usage, API keys, users, models and settings against the real server: usage that grows by
// exactly the calls made, an access key made in the UI and used from boto3 (then deactivated
// and deleted, and refused), a user made in the UI who signs in, the models page, and axe on
// every page.

const STORIES = 'tinystories.stories-260k-v1:0';
const WAITING = 'meta.llama3-2-1b-instruct-v1:0';

async function csrf(page: Page): Promise<string> {
  const r = await page.request.get('/console/api/session');
  expect(r.ok()).toBeTruthy();
  return (await r.json()).csrfToken;
}

/** A Converse call through the console API with the page's session; returns its usage. */
async function converse(page: Page, token: string, text: string, model = STORIES) {
  const r = await page.request.post(`/console/api/model/${encodeURIComponent(model)}/converse`, {
    headers: { 'X-CSRF-Token': token, 'Content-Type': 'application/json' },
    data: { messages: [{ role: 'user', content: [{ text }] }], inferenceConfig: { maxTokens: 12 } },
  });
  expect(r.status(), await r.text()).toBe(200);
  const body = await r.json();
  return body.usage as { inputTokens: number; outputTokens: number };
}

const num = (s: string | null) => Number((s ?? '').replace(/[^\d]/g, ''));

async function totals(page: Page) {
  return {
    requests: num(await page.getByTestId('total-requests').textContent()),
    input: num(await page.getByTestId('total-input').textContent()),
    output: num(await page.getByTestId('total-output').textContent()),
  };
}

interface Boto {
  ok: boolean;
  outputTokens?: number;
  code?: string;
  message?: string;
}

/** Converse on stories260K with boto3 (python3 of the forky root): an access key, or a
 *  Bedrock API key through AWS_BEARER_TOKEN_BEDROCK. */
function boto3Converse(url: string, creds: { key: string; secret: string } | { bearer: string }): Boto {
  const code = `
import json, os, boto3
from botocore.config import Config
from botocore.exceptions import ClientError
kw = {}
if 'KEY' in os.environ:
    kw = dict(aws_access_key_id=os.environ['KEY'], aws_secret_access_key=os.environ['SECRET'])
c = boto3.client('bedrock-runtime', endpoint_url=os.environ['URL'], region_name='us-east-1',
                 config=Config(retries={'max_attempts': 1}), **kw)
try:
    out = c.converse(modelId=os.environ['MODEL'],
                     messages=[{'role': 'user', 'content': [{'text': 'Once upon a time'}]}],
                     inferenceConfig={'maxTokens': 8})
    print(json.dumps({'ok': True, 'outputTokens': out['usage']['outputTokens']}))
except ClientError as e:
    print(json.dumps({'ok': False, 'code': e.response['Error']['Code'], 'message': e.response['Error']['Message']}))
`;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('AWS_')) env[k] = v;
  Object.assign(env, { URL: url, MODEL: STORIES, AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' });
  if ('key' in creds) Object.assign(env, { KEY: creds.key, SECRET: creds.secret });
  else env.AWS_BEARER_TOKEN_BEDROCK = creds.bearer;
  const r = spawnSync('python3', ['-c', code], { env, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('usage grows by exactly the calls made, with charts, table and CSV', async ({ page, server, signIn }) => {
  await signIn();
  await page.goto('/usage');
  await expect(page.getByRole('heading', { level: 1, name: 'Usage' })).toBeVisible();
  await expect(page.getByText('Showing all users of the account')).toBeVisible();
  await expect(page.getByTestId('total-requests')).toBeVisible();
  const before = await totals(page);

  const token = await csrf(page);
  const a = await converse(page, token, 'Once upon a time');
  const b = await converse(page, token, 'The little dog');
  await page.getByRole('button', { name: 'Refresh' }).click();
  await expect.poll(async () => (await totals(page)).requests).toBe(before.requests + 2);
  const after = await totals(page);
  expect(after.input).toBe(before.input + a.inputTokens + b.inputTokens);
  expect(after.output).toBe(before.output + a.outputTokens + b.outputTokens);
  // The table's total row says the same.
  const totalRow = page.getByTestId('usage-total-row');
  await expect(totalRow.locator('td').nth(0)).toHaveText(String(after.requests));
  await expect(page.getByTestId('usage-details').getByRole('row').filter({ hasText: STORIES }).first()).toBeVisible();
  // Administrators also see the period per user, by name.
  await expect(page.getByTestId('usage-by-user')).toContainText(server.admin.userName);

  // Charts are labelled images with a summary; the table fallback shows the same numbers.
  await expect(page.getByRole('img', { name: 'Tokens by day' })).toBeVisible();
  await expect(page.getByRole('img', { name: 'Tokens by model' })).toBeVisible();
  await page.getByRole('button', { name: 'View as table' }).nth(1).click();
  await expect(page.getByRole('table', { name: 'Tokens by model' }).getByRole('row').filter({ hasText: STORIES })).toBeVisible();

  // Source filter: the calls came from the console.
  await page.getByLabel('Source').selectOption('console');
  await expect.poll(async () => (await totals(page)).requests).toBeGreaterThanOrEqual(2);
  await page.getByLabel('Source').selectOption('app');
  await expect(page.getByText('No usage in this period')).toBeVisible();
  await shot(page, 'usage-empty-source');
  await page.getByLabel('Source').selectOption('');
  await expect.poll(async () => (await totals(page)).requests).toBe(after.requests);

  await page.getByRole('radio', { name: 'Cost' }).check();
  await expect(page.getByRole('img', { name: 'Cost by day (USD)' })).toBeVisible();
  await page.getByRole('radio', { name: 'Tokens' }).check();
  await shot(page, 'usage');
  await checkA11y(page, 'usage');

  // CSV: the server's summary export.
  await page.getByRole('button', { name: 'Download CSV' }).click();
  const download = page.waitForEvent('download');
  await page.getByRole('menuitem', { name: 'Summary by day and model' }).click();
  const file = await (await download).path();
  const csv = fs.readFileSync(file!, 'utf8').trim().split('\n');
  expect(csv[0]).toBe('day,model,requests,input_tokens,output_tokens,images,cost');
  const requestsInCsv = csv.slice(1).reduce((n, line) => n + Number(line.split(',')[2]), 0);
  expect(requestsInCsv).toBe(after.requests);

  // Custom range refused like the form says.
  await page.getByRole('radio', { name: 'Custom range' }).check();
  await page.getByLabel('From', { exact: true }).fill('2026-12-31');
  await page.getByLabel('To', { exact: true }).fill('2026-01-01');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page.getByText('The last day must not be before the first day.')).toBeVisible();

  // Korean.
  await page.getByRole('radio', { name: 'Last 7 days' }).check();
  await page.evaluate(() => localStorage.setItem('basalt.lang', 'ko'));
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: '사용량' })).toBeVisible();
  await expect(page.getByRole('img', { name: '일별 토큰' })).toBeVisible();
  await shot(page, 'usage-ko');
  await checkA11y(page, 'usage (ko)');
  await page.evaluate(() => localStorage.setItem('basalt.lang', 'en'));
});

test('an access key made in the console works from boto3 until deactivated or deleted', async ({ page, server, signIn }) => {
  await signIn();
  await page.goto('/keys');
  await expect(page.getByRole('heading', { level: 1, name: 'API keys' })).toBeVisible();
  await page.getByRole('button', { name: 'Create access key' }).click();
  const dialog = page.getByRole('dialog', { name: 'Access key created' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByText('This is the only time the secret can be viewed')).toBeVisible();
  const key = await dialog.getByTestId('new-access-key-id').inputValue();
  const secret = await dialog.getByTestId('new-secret-access-key').inputValue();
  expect(key).toMatch(/^AKIA/);
  expect(secret.length).toBeGreaterThanOrEqual(20);
  await expect(dialog.getByTestId('credentials-snippet')).toContainText(`aws_access_key_id = ${key}`);
  await expect(dialog.getByTestId('credentials-snippet')).toContainText(`aws_secret_access_key = ${secret}`);
  await shot(page, 'keys-access-key-created');
  await checkA11y(page, 'access key created dialog');
  await dialog.getByRole('button', { name: 'Done' }).click();
  await expect(dialog).toBeHidden();
  // The secret is not shown again.
  await expect(page.getByText(secret)).toHaveCount(0);

  const ok = boto3Converse(server.url, { key, secret });
  expect(ok.ok, JSON.stringify(ok)).toBe(true);
  expect(ok.outputTokens).toBeGreaterThan(0);

  const row = page.getByRole('row').filter({ hasText: key });
  await row.getByRole('button', { name: `Deactivate ${key}` }).click();
  await expect(row).toContainText('Inactive');
  const refused = boto3Converse(server.url, { key, secret });
  expect(refused).toMatchObject({ ok: false, code: 'UnrecognizedClientException' });

  await row.getByRole('button', { name: `Activate ${key}` }).click();
  await expect(row).toContainText('Active');
  expect(boto3Converse(server.url, { key, secret }).ok).toBe(true);

  await row.getByRole('button', { name: `Delete ${key}` }).click();
  const confirm = page.getByRole('dialog', { name: 'Delete access key?' });
  await expect(confirm).toContainText(key);
  await shot(page, 'keys-delete-confirm');
  await confirm.getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByText(`Deleted ${key}.`)).toBeVisible();
  await expect(page.getByRole('row').filter({ hasText: key })).toHaveCount(0);
  const gone = boto3Converse(server.url, { key, secret });
  expect(gone).toMatchObject({ ok: false, code: 'UnrecognizedClientException' });
});

test('a long-term API key with an expiry works as AWS_BEARER_TOKEN_BEDROCK', async ({ page, server, signIn }) => {
  await signIn();
  await page.goto('/keys');
  const createButton = page.getByRole('button', { name: 'Create API key' });
  // Keyboard: Enter opens the dialog, Escape closes it and focus comes back.
  await createButton.focus();
  await page.keyboard.press('Enter');
  const create = page.getByRole('dialog', { name: 'Create a long-term API key' });
  await expect(create).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(create).toBeHidden();
  await expect(createButton).toBeFocused();
  await createButton.click();
  await create.getByLabel('Expires').selectOption('custom');
  await create.getByLabel('Days until it expires').fill('0');
  await create.getByRole('button', { name: 'Create' }).click();
  await expect(create.getByText('expiresInSeconds must be a positive integer')).toBeVisible();
  await create.getByLabel('Days until it expires').fill('3');
  await create.getByLabel('Days until it expires').press('Enter');
  const shown = page.getByRole('dialog', { name: 'API key created' });
  await expect(shown).toBeVisible();
  const id = await shown.getByTestId('new-api-key-id').inputValue();
  const tokenValue = await shown.getByTestId('new-api-key-token').inputValue();
  await expect(shown.getByTestId('bearer-snippet')).toContainText(`export AWS_BEARER_TOKEN_BEDROCK=${tokenValue}`);
  await expect(shown.getByText(/^Expires /)).toBeVisible();
  await shot(page, 'keys-api-key-created');
  await shown.getByRole('button', { name: 'Done' }).click();
  const row = page.getByRole('row').filter({ hasText: id });
  await expect(row).toContainText('Active');
  expect(boto3Converse(server.url, { bearer: tokenValue }).ok).toBe(true);
  await shot(page, 'keys');
  await checkA11y(page, 'keys');

  await row.getByRole('button', { name: `Delete ${id}` }).click();
  await page.getByRole('dialog', { name: 'Delete API key?' }).getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByRole('row').filter({ hasText: id })).toHaveCount(0);
  expect(boto3Converse(server.url, { bearer: tokenValue }).ok).toBe(false);
});

test('an administrator creates a user with a password, who signs in and changes it', async ({ page, browser, server, signIn }) => {
  await signIn();
  await page.goto('/users');
  await expect(page.getByRole('heading', { level: 1, name: 'Users' })).toBeVisible();
  await page.getByRole('button', { name: 'Create user' }).first().click();
  const dialog = page.getByRole('dialog', { name: 'Create user' });
  // What the API would refuse is refused here, with its words.
  await dialog.getByRole('button', { name: 'Create user' }).click();
  await expect(dialog.getByText("Value null at 'name' failed to satisfy constraint")).toBeVisible();
  await dialog.getByLabel('User name').fill('carol');
  await dialog.getByLabel('Password', { exact: true }).fill('short');
  await dialog.getByRole('button', { name: 'Create user' }).click();
  await expect(dialog.getByText('Password should have a minimum length of 8 characters.')).toBeVisible();
  const password = 'Carol-console-42';
  await dialog.getByLabel('Password', { exact: true }).fill(password);
  await dialog.getByLabel('Confirm password').fill(password);
  await expect(dialog.getByRole('checkbox', { name: /AmazonBedrockFullAccess/ })).toBeChecked();
  await shot(page, 'users-create');
  await checkA11y(page, 'create user dialog');
  await dialog.getByRole('button', { name: 'Create user' }).click();
  await expect(page.getByText('Created user carol.')).toBeVisible();
  const row = page.getByRole('row').filter({ hasText: 'carol' });
  await expect(row).toContainText('Password set');
  await expect(row).toContainText('AmazonBedrockFullAccess');
  await shot(page, 'users');
  await checkA11y(page, 'users');

  // A second user with the same name: the API's message.
  await page.getByRole('button', { name: 'Create user' }).first().click();
  await dialog.getByLabel('User name').fill('carol');
  await dialog.getByLabel('No console access').check();
  await dialog.getByRole('button', { name: 'Create user' }).click();
  await expect(dialog.getByRole('alert')).toContainText("user 'carol' already exists");
  await dialog.getByRole('button', { name: 'Cancel' }).click();

  // The user's page: attach and detach a policy, a generated password shown once.
  await row.getByRole('link', { name: 'carol' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'carol' })).toBeVisible();
  await page.getByLabel('Attach a policy').selectOption('AmazonBedrockReadOnly');
  await page.getByRole('button', { name: 'Attach', exact: true }).click();
  await expect(page.getByText('Attached AmazonBedrockReadOnly to carol.')).toBeVisible();
  await page.getByRole('button', { name: 'Detach AmazonBedrockReadOnly' }).click();
  await page.getByRole('dialog', { name: 'Detach policy?' }).getByRole('button', { name: 'Detach' }).click();
  await expect(page.getByText('Detached AmazonBedrockReadOnly from carol.')).toBeVisible();
  await expect(page.getByRole('table', { name: 'Policies attached to carol' }).getByRole('row')).toHaveCount(2);
  await shot(page, 'user-detail');
  await checkA11y(page, 'user page');

  // carol signs in with the password set at creation.
  const ctx = await browser.newContext({ locale: 'en-US' });
  const carolPage = await ctx.newPage();
  const carol: Credentials = { account: server.admin.account, userName: 'carol', password };
  await signInWith(carolPage, carol);
  await expect(carolPage).toHaveURL(/\/catalog/);
  await expect(carolPage.getByRole('link', { name: 'Users' })).toHaveCount(0);
  await carolPage.goto('/usage');
  await expect(carolPage.getByText('Showing your own calls')).toBeVisible();
  await carolPage.goto('/keys');
  await expect(carolPage.getByText('You cannot manage keys')).toBeVisible();
  await checkA11y(carolPage, 'keys (not allowed)');

  // Settings: change the password (mismatch and a wrong current one refused first).
  await carolPage.goto('/settings');
  await expect(carolPage.getByRole('heading', { level: 1, name: 'Settings' })).toBeVisible();
  const next = 'Carol-changed-77';
  await carolPage.getByLabel('Current password').fill('not-my-password');
  await carolPage.getByLabel('New password', { exact: true }).fill(next);
  await carolPage.getByLabel('Confirm new password').fill(next + 'x');
  await carolPage.getByRole('button', { name: 'Change password' }).click();
  await expect(carolPage.getByText('The new passwords do not match.')).toBeVisible();
  await carolPage.getByLabel('Confirm new password').fill(next);
  await carolPage.getByRole('button', { name: 'Change password' }).click();
  await expect(carolPage.getByText('The current password is incorrect.')).toBeVisible();
  await carolPage.getByLabel('Current password').fill(password);
  await carolPage.getByLabel('Confirm new password').press('Enter');
  await expect(carolPage.getByText('Your password was changed.')).toBeVisible();
  await shot(carolPage, 'settings');
  await checkA11y(carolPage, 'settings');
  await ctx.close();

  const ctx2 = await browser.newContext({ locale: 'en-US' });
  const again = await ctx2.newPage();
  await signInWith(again, { ...carol, password: next });
  await expect(again).toHaveURL(/\/catalog/);
  await ctx2.close();

  // A generated password is shown once and works.
  await page.getByRole('button', { name: 'Generate password' }).click();
  const gen = page.getByRole('dialog', { name: 'Password generated' });
  const generated = await gen.getByTestId('generated-password').inputValue();
  expect(generated.length).toBeGreaterThanOrEqual(16);
  await shot(page, 'user-generated-password');
  await gen.getByRole('button', { name: 'Done' }).click();
  const ctx3 = await browser.newContext({ locale: 'en-US' });
  const third = await ctx3.newPage();
  await signInWith(third, { ...carol, password: generated });
  await expect(third).toHaveURL(/\/catalog/);
  await ctx3.close();
});

test('the models page lists served models and the one waiting for weights', async ({ page, signIn }) => {
  await signIn();
  await page.goto('/models');
  await expect(page.getByRole('heading', { level: 1, name: 'Models' })).toBeVisible();
  const waiting = page.getByRole('row').filter({ hasText: WAITING });
  await expect(waiting).toContainText('Waiting for weights');
  // The test catalog names no download source for it: what to do instead.
  await expect(waiting).toContainText('No download source');
  await expect(page.getByRole('row').filter({ hasText: STORIES })).toContainText('Available');
  await shot(page, 'models');
  await checkA11y(page, 'models');
});

test('a pull shows live progress, then the model available (routed answers)', async ({ page, signIn }) => {
  await signIn();
  const total = 50_000_000;
  let polls = 0;
  let started = false;
  const model = (pull: object | null, served: boolean) => ({
    modelId: 'test.pulled-v1:0',
    modelName: 'Pulled stories',
    providerName: 'Test',
    weights: 'pulled-stories.gguf',
    served,
    sourceRepo: 'test/tiny',
    sourceFile: 'pulled-stories.gguf',
    pull,
  });
  await page.route('**/console/api/basalt/models', async (route: Route) => {
    let m;
    if (!started) m = model(null, false);
    else {
      polls++;
      const bytes = Math.min(total, polls * 6_000_000);
      m =
        polls < 10
          ? model({ state: 'running', bytes, totalBytes: total, error: null, sha256: null }, false)
          : model({ state: 'done', bytes: total, totalBytes: total, error: null, sha256: 'ab'.repeat(32) }, true);
    }
    await route.fulfill({ json: { models: [m], modelsDir: '/tmp/models', hub: 'http://hub.test' } });
  });
  await page.route('**/console/api/basalt/models/pull', async (route: Route) => {
    expect(route.request().postDataJSON()).toEqual({ modelId: 'test.pulled-v1:0' });
    started = true;
    await route.fulfill({
      status: 202,
      json: { modelId: 'test.pulled-v1:0', pull: { state: 'running', bytes: 0, totalBytes: total, error: null, sha256: null } },
    });
  });
  await page.goto('/models');
  await page.getByRole('button', { name: 'Pull the weights of test.pulled-v1:0' }).click();
  const bar = page.getByRole('progressbar', { name: 'Download of test.pulled-v1:0' });
  await expect(bar).toBeVisible();
  const seen = new Set<string>();
  await expect
    .poll(async () => {
      const v = await bar.getAttribute('aria-valuenow').catch(() => null);
      if (v) seen.add(v);
      return seen.size;
    }, { intervals: [200] })
    .toBeGreaterThanOrEqual(3);
  await expect(page.getByTestId('pull-progress-test.pulled-v1:0')).toContainText(/MB of 47\.7 MB/);
  await shot(page, 'models-pulling');
  await checkA11y(page, 'models (pulling)');
  await expect(page.getByText('test.pulled-v1:0 is available. Its weights were downloaded and checked.')).toBeVisible();
  await expect(page.getByRole('row').filter({ hasText: 'test.pulled-v1:0' })).toContainText('Available');
  await expect(page.getByRole('row').filter({ hasText: 'test.pulled-v1:0' })).toContainText('ab'.repeat(32));
  await shot(page, 'models-pulled');
});

test('a real pull from a hub: live progress, SHA-256 checked, then served without a restart', async ({ browser }) => {
  test.setTimeout(120_000);
  const weights = fs.readFileSync(path.join(MODELS_DIR, 'stories260K.gguf'));
  const sha = createHash('sha256').update(weights).digest('hex');
  // A Hugging Face-style hub that sends the file slowly (about 3 s), honouring Range.
  const hub = http.createServer(async (req, res) => {
    if (!req.url?.startsWith('/test/tiny/resolve/main/')) {
      res.writeHead(404);
      res.end();
      return;
    }
    let start = 0;
    const range = req.headers.range;
    const headers: Record<string, string> = { 'X-Linked-ETag': `"${sha}"` };
    if (range?.startsWith('bytes=')) {
      start = Number(range.slice(6).split('-')[0]);
      headers['Content-Range'] = `bytes ${start}-${weights.length - 1}/${weights.length}`;
    }
    headers['Content-Length'] = String(weights.length - start);
    res.writeHead(start ? 206 : 200, headers);
    for (let i = start; i < weights.length && !res.destroyed; i += 16384) {
      if (!res.write(weights.subarray(i, i + 16384))) await new Promise((r) => res.once('drain', r));
      await new Promise((r) => setTimeout(r, 40));
    }
    res.end();
  });
  await new Promise<void>((r) => hub.listen(0, '127.0.0.1', r));
  const hubUrl = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'basalt-pull-'));
  const PULLED = 'test.pulled-v1:0';
  const catalog = {
    models: [
      ...TEST_CATALOG.models,
      {
        modelId: PULLED,
        providerName: 'Test',
        modelName: 'Pulled stories',
        weights: 'pulled-stories.gguf',
        contextLength: 256,
        source: { repo: 'test/tiny', file: 'pulled-stories.gguf', sha256: sha },
      },
    ],
  };
  const srv = await BasaltServer.start({ catalog, modelsDirs: [dir], args: ['--hub-url', hubUrl] });
  try {
    const ctx = await browser.newContext({ baseURL: srv.url, locale: 'en-US' });
    const page = await ctx.newPage();
    await signInWith(page, srv.admin);
    await expect(page).not.toHaveURL(/\/signin/);
    await page.goto('/models');
    const row = page.getByRole('row').filter({ hasText: PULLED });
    await expect(row).toContainText('Waiting for weights');
    await expect(row).toContainText('test/tiny/pulled-stories.gguf');
    await row.getByRole('button', { name: `Pull the weights of ${PULLED}` }).click();
    const bar = page.getByRole('progressbar', { name: `Download of ${PULLED}` });
    const seen = new Set<string>();
    await expect
      .poll(async () => {
        const v = await bar.getAttribute('aria-valuenow', { timeout: 200 }).catch(() => null);
        if (v) seen.add(v);
        return seen.size;
      }, { intervals: [150], timeout: 20_000 })
      .toBeGreaterThanOrEqual(2);
    await shot(page, 'models-pulling-real');
    await expect(page.getByText(`${PULLED} is available. Its weights were downloaded and checked.`)).toBeVisible({ timeout: 30_000 });
    await expect(row).toContainText('Available');
    await expect(row).toContainText(sha);
    await shot(page, 'models-pulled-real');
    expect(fs.readFileSync(path.join(dir, 'pulled-stories.gguf')).equals(weights)).toBe(true);
    // Served at once, without a restart.
    const usage = await converse(page, await csrf(page), 'Once upon a time', PULLED);
    expect(usage.outputTokens).toBeGreaterThan(0);
    await ctx.close();
  } finally {
    await srv.stop();
    hub.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
