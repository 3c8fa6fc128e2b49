import type { Page, Route } from '@playwright/test';
import { test, expect, shot, checkA11y } from './fixtures';
import { encodeConverseEvent, encodeConverseException } from '../src/lib/eventstream.ts';

// The playgrounds against the real server (stories260K and llama-2-tiny-random), plus routed
// responses where the tiny models can't be made to say something (HTML in a reply, an
// in-stream exception, an image model).

const STORIES = 'tinystories.stories-260k-v1:0';
const TINY = 'test.llama-2-tiny-random-v1:0';

test.beforeEach(async ({ signIn }) => {
  await signIn();
});

const composer = (page: Page) => page.getByRole('textbox', { name: 'Message', exact: true });
const lastReply = (page: Page) => page.locator('.pg-msg-assistant').last();

/** Slows the browser's downloads so that a reply visibly streams (and can be stopped). */
async function throttle(page: Page, bytesPerSecond: number) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: bytesPerSecond,
    uploadThroughput: -1,
  });
  return cdp;
}

/** Answers converse-stream with a hand-made event stream. */
async function fulfillStream(route: Route, frames: Uint8Array[]) {
  const body = Buffer.concat(frames.map((f) => Buffer.from(f)));
  await route.fulfill({ status: 200, headers: { 'Content-Type': 'application/vnd.amazon.eventstream' }, body });
}

function replyFrames(text: string[]): Uint8Array[] {
  return [
    encodeConverseEvent('messageStart', { role: 'assistant' }),
    ...text.map((t) => encodeConverseEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: t } })),
    encodeConverseEvent('contentBlockStop', { contentBlockIndex: 0 }),
    encodeConverseEvent('messageStop', { stopReason: 'end_turn' }),
    encodeConverseEvent('metadata', { usage: { inputTokens: 9, outputTokens: 11, totalTokens: 20 }, metrics: { latencyMs: 12 } }),
  ];
}

test('chat: a reply streams in, rendered as Markdown, with tokens, latency and cost', async ({ page }) => {
  await page.goto(`/playground/chat?model=${encodeURIComponent(STORIES)}`);
  await expect(page.getByRole('heading', { level: 1, name: 'Chat playground' })).toBeVisible();
  await expect(page.getByLabel('Model', { exact: true })).toHaveValue(STORIES);
  // Only served models with access granted and text output: stories260K's seven ids and
  // llama-2-tiny-random (the entry without weights is not offered).
  await expect(page.getByLabel('Model', { exact: true }).locator('option')).toHaveCount(8);
  await expect(page.getByText('$0.001 input / $0.002 output per 1,000 tokens')).toBeVisible();
  await page.getByLabel('Maximum length').fill('60');

  // Slow enough that the 60-token stream lasts several seconds even when the machine is busy
  // (at 1,500 B/s a loaded CI run once saw the reply finish before Stop was checked).
  await throttle(page, 500);
  const request = page.waitForRequest((r) => r.url().endsWith('/converse-stream'));
  await composer(page).fill('Once upon a time');
  await composer(page).press('Enter');
  const body = (await request).postDataJSON();
  expect(body).toEqual({
    messages: [{ role: 'user', content: [{ text: 'Once upon a time' }] }],
    inferenceConfig: { maxTokens: 60, temperature: 0.7, topP: 0.9 },
  });
  await expect(composer(page)).toHaveValue('');
  // Text shows while the reply is still streaming, then grows.
  const reply = lastReply(page);
  await expect(reply).toHaveAttribute('data-status', 'streaming');
  await expect(page.getByRole('button', { name: 'Stop' })).toBeVisible();
  await expect(reply.locator('.pg-reply')).not.toBeEmpty();
  const early = (await reply.locator('.pg-reply').innerText()).length;
  await expect(reply).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  expect((await reply.locator('.pg-reply').innerText()).length).toBeGreaterThan(early);
  await expect(reply.getByText('Input tokens')).toBeVisible();
  await expect(reply.getByText('Output tokens')).toBeVisible();
  await expect(reply.getByText('Latency')).toBeVisible();
  await expect(reply.getByText('Cost')).toBeVisible();
  await expect(reply.locator('.pg-stats')).toContainText(/Cost:?\s*\$0\.000\d+/);
  await shot(page, 'playground-chat');
  await checkA11y(page, 'chat playground');

  // A second turn carries the history; Reset clears it.
  const second = page.waitForRequest((r) => r.url().endsWith('/converse-stream'));
  await composer(page).fill('And then?');
  await page.getByRole('button', { name: 'Send' }).click();
  const body2 = (await second).postDataJSON();
  expect(body2.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user']);
  await expect(lastReply(page)).toHaveAttribute('data-status', 'done', { timeout: 30_000 });
  await page.getByRole('button', { name: 'Reset the conversation' }).click();
  await expect(page.getByRole('heading', { name: 'Start a conversation' })).toBeVisible();
});

test('chat: Shift+Enter is a new line, Enter during IME composition does not send', async ({ page }) => {
  await page.goto('/playground/chat');
  const box = composer(page);
  await box.fill('첫 줄');
  await box.press('Shift+Enter');
  await box.pressSequentially('둘째 줄');
  await expect(box).toHaveValue('첫 줄\n둘째 줄');
  let sent = false;
  page.on('request', (r) => {
    if (r.url().endsWith('/converse-stream')) sent = true;
  });
  // What a Korean IME sends when Enter confirms a syllable: keydown with isComposing.
  await box.dispatchEvent('keydown', { key: 'Enter', code: 'Enter', isComposing: true, bubbles: true });
  await page.waitForTimeout(300);
  expect(sent).toBe(false);
  await expect(page.getByRole('heading', { name: 'Start a conversation' })).toBeVisible();
});

test('chat: Stop ends the reply where it is', async ({ page }) => {
  await page.goto(`/playground/chat?model=${encodeURIComponent(STORIES)}`);
  await page.getByLabel('Maximum length').fill('400');
  await throttle(page, 600);
  await composer(page).fill('Tell me a long story');
  await composer(page).press('Enter');
  const reply = lastReply(page);
  await expect(reply.locator('.pg-reply')).not.toBeEmpty({ timeout: 20_000 });
  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(reply).toHaveAttribute('data-status', 'stopped');
  await expect(reply.getByText('Stopped. The tokens generated so far are billed.')).toBeVisible();
  const frozen = await reply.locator('.pg-reply').innerText();
  await page.waitForTimeout(1000);
  expect(await reply.locator('.pg-reply').innerText()).toBe(frozen);
  await expect(page.getByRole('button', { name: 'Send' })).toBeVisible();
  await shot(page, 'playground-chat-stopped');
});

test('chat: compare mode sends one prompt to two models side by side', async ({ page }) => {
  await page.goto(`/playground/chat?model=${encodeURIComponent(STORIES)}`);
  await page.getByRole('button', { name: 'Compare models' }).click();
  await expect(page.getByRole('button', { name: 'Compare models' })).toHaveAttribute('aria-pressed', 'true');
  await page.getByLabel('Model 2').selectOption(TINY);
  await page.getByLabel('Maximum length').fill('24');
  const models: string[] = [];
  page.on('request', (r) => {
    const m = /\/model\/([^/]+)\/converse-stream$/.exec(r.url());
    if (m) models.push(decodeURIComponent(m[1]));
  });
  await composer(page).fill('Once upon a time');
  await composer(page).press('Enter');
  const panes = page.locator('.pg-pane');
  await expect(panes).toHaveCount(2);
  for (const n of [0, 1]) {
    const reply = panes.nth(n).locator('.pg-msg-assistant');
    await expect(reply).toHaveAttribute('data-status', 'done', { timeout: 30_000 });
    await expect(reply.getByText('Output tokens')).toBeVisible();
  }
  expect(models.sort()).toEqual([STORIES, TINY].sort());
  await expect(panes.nth(0).locator('.pg-msg-role').last()).toHaveText('Stories 260K');
  await expect(panes.nth(1).locator('.pg-msg-role').last()).toHaveText('Llama 2 tiny random');
  // A third model can be added, and removed again.
  await page.getByRole('button', { name: 'Add a model' }).click();
  await expect(panes).toHaveCount(3);
  await shot(page, 'playground-chat-compare');
  await checkA11y(page, 'chat compare mode');
  await page.getByRole('button', { name: /^Remove / }).last().click();
  await expect(panes).toHaveCount(2);
});

test('chat in Korean: Korean UI, Korean prompt and reply', async ({ page }) => {
  await page.goto('/playground/chat');
  await page.getByRole('button', { name: /^Language:/ }).click();
  await page.getByRole('menuitemradio', { name: '한국어' }).click();
  await expect(page.getByRole('heading', { level: 1, name: '채팅 플레이그라운드' })).toBeVisible();
  await expect(page.getByRole('heading', { name: '대화를 시작하세요' })).toBeVisible();
  await page.getByLabel('최대 길이').fill('40');
  const box = page.getByRole('textbox', { name: '메시지', exact: true });
  await box.fill('옛날 옛적에 작은 토끼가 살았어요.');
  await box.press('Enter');
  await expect(page.locator('.pg-user-text')).toHaveText('옛날 옛적에 작은 토끼가 살았어요.');
  const reply = lastReply(page);
  await expect(reply).toHaveAttribute('data-status', 'done', { timeout: 30_000 });
  await expect(reply.getByText('입력 토큰')).toBeVisible();
  await expect(reply.getByText('출력 토큰')).toBeVisible();
  await expect(page.getByRole('button', { name: '보내기' })).toBeVisible();
  await shot(page, 'playground-chat-ko');
  await checkA11y(page, 'chat playground (Korean)');
});

test('chat: HTML in a reply is shown as text, never run', async ({ page }) => {
  let dialogs = 0;
  page.on('dialog', async (d) => {
    dialogs++;
    await d.dismiss();
  });
  await page.route('**/converse-stream', (route) =>
    fulfillStream(route, replyFrames(['Here: <script>alert(1)</script> ', '<img src=x onerror="alert(2)"> ', '**bold** [x](javascript:alert(3))'])),
  );
  await page.goto('/playground/chat');
  await composer(page).fill('Say something dangerous');
  await composer(page).press('Enter');
  const reply = lastReply(page);
  await expect(reply).toHaveAttribute('data-status', 'done');
  await expect(reply.locator('.pg-reply')).toContainText('Here: <script>alert(1)</script> <img src=x onerror="alert(2)">');
  await expect(reply.locator('.pg-reply strong')).toHaveText('bold');
  expect(await reply.locator('.pg-reply script, .pg-reply img, .pg-reply a').count()).toBe(0);
  await page.waitForTimeout(300);
  expect(dialogs).toBe(0);
  await expect(reply.locator('.pg-stats')).toContainText(/Input tokens:?\s*9/);
  await shot(page, 'playground-chat-html');
});

test('chat: errors show the API message (in-stream exception and HTTP error)', async ({ page }) => {
  let n = 0;
  await page.route('**/converse-stream', async (route) => {
    if (n++ === 0) {
      await fulfillStream(route, [
        encodeConverseEvent('messageStart', { role: 'assistant' }),
        encodeConverseEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Partial' } }),
        encodeConverseException('modelStreamErrorException', 'The model stream failed: out of cheese.'),
      ]);
    } else {
      await route.fulfill({
        status: 429,
        headers: { 'x-amzn-ErrorType': 'ThrottlingException', 'Content-Type': 'application/json' },
        body: JSON.stringify({ message: 'Too many requests, please wait before trying again.' }),
      });
    }
  });
  await page.goto('/playground/chat');
  await composer(page).fill('hello');
  await composer(page).press('Enter');
  await expect(lastReply(page).getByRole('alert')).toContainText('The model stream failed: out of cheese.');
  await composer(page).fill('again');
  await composer(page).press('Enter');
  await expect(lastReply(page).getByRole('alert')).toContainText('Too many requests, please wait before trying again.');
  // The failed exchanges are not sent as history next time (roles must alternate).
  await page.unroute('**/converse-stream');
  await page.getByLabel('Maximum length').fill('8');
  const req = page.waitForRequest((r) => r.url().endsWith('/converse-stream'));
  await composer(page).fill('third');
  await composer(page).press('Enter');
  expect((await req).postDataJSON().messages).toEqual([{ role: 'user', content: [{ text: 'third' }] }]);
  await expect(lastReply(page)).toHaveAttribute('data-status', 'done', { timeout: 30_000 });
});

test('settings refuse what the API would refuse, in its words', async ({ page }) => {
  await page.goto('/playground/chat');
  await page.getByLabel('Maximum length').fill('0');
  await expect(
    page.getByText("1 validation error detected: Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1"),
  ).toBeVisible();
  let sent = false;
  page.on('request', (r) => {
    if (r.url().endsWith('/converse-stream')) sent = true;
  });
  await composer(page).fill('hi');
  await composer(page).press('Enter');
  await expect(page.getByText('Fix the inference settings before sending.')).toBeVisible();
  expect(sent).toBe(false);
  await page.getByLabel('Maximum length').fill('16');

  const stop = page.getByRole('textbox', { name: 'Stop sequences' });
  await stop.fill('x'.repeat(513));
  await stop.press('Enter');
  await expect(page.getByText('Stop sequences are limited to 512 bytes each and 4096 bytes in all.')).toBeVisible();
  await stop.fill('The end');
  await stop.press('Enter');
  await expect(page.getByRole('list', { name: 'Stop sequences' }).getByRole('listitem')).toHaveText(['The end×']);
  const req = page.waitForRequest((r) => r.url().endsWith('/converse-stream'));
  await page.getByRole('slider', { name: 'Temperature' }).fill('0.2');
  await composer(page).fill('hi');
  await composer(page).press('Enter');
  expect((await req).postDataJSON().inferenceConfig).toEqual({ maxTokens: 16, temperature: 0.2, topP: 0.9, stopSequences: ['The end'] });
});

test('View API request shows the Converse request as JSON, AWS CLI and boto3', async ({ page }) => {
  await page.goto(`/playground/chat?model=${encodeURIComponent(TINY)}`);
  await page.getByLabel('System prompt').fill('Be brief.');
  await page.getByLabel('Maximum length').fill('77');
  await composer(page).fill("What's next?");
  await page.getByRole('button', { name: 'View API request' }).click();
  const dialog = page.getByRole('dialog', { name: 'API request' });
  await expect(dialog).toBeVisible();
  const code = dialog.locator('pre.pg-code');
  await expect(code).toContainText(`POST /model/${encodeURIComponent(TINY)}/converse-stream`);
  const json = JSON.parse((await code.innerText()).split('\n\n').slice(1).join('\n\n'));
  expect(json).toEqual({
    messages: [{ role: 'user', content: [{ text: "What's next?" }] }],
    system: [{ text: 'Be brief.' }],
    inferenceConfig: { maxTokens: 77, temperature: 0.7, topP: 0.9 },
  });
  await dialog.getByRole('tab', { name: 'AWS CLI' }).click();
  await expect(code).toContainText('aws bedrock-runtime converse');
  await expect(code).toContainText(`--model-id '${TINY}'`);
  await expect(code).toContainText(`--inference-config '{"maxTokens":77,"temperature":0.7,"topP":0.9}'`);
  await expect(code).toContainText(`"text":"What'\\''s next?"`);
  await dialog.getByRole('tab', { name: 'Python (boto3)' }).click();
  await expect(code).toContainText('client.converse_stream(');
  await expect(code).toContainText('region_name="us-east-1"');
  await shot(page, 'playground-api-request');
  await checkA11y(page, 'View API request dialog');
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await dialog.getByRole('button', { name: /Copy/ }).click();
  await expect(dialog.getByText('Copied')).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toContain('client.converse_stream(');
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(page.getByRole('button', { name: 'View API request' })).toBeFocused();
});

test('text playground: one prompt, one completion', async ({ page }) => {
  await page.goto(`/playground/text?model=${encodeURIComponent(STORIES)}`);
  await expect(page.getByRole('heading', { level: 1, name: 'Text playground' })).toBeVisible();
  await page.getByLabel('Maximum length').fill('40');
  const req = page.waitForRequest((r) => r.url().endsWith('/converse-stream'));
  await page.getByLabel('Prompt', { exact: true }).fill('Once upon a time');
  await page.getByLabel('Prompt', { exact: true }).press('Enter');
  expect((await req).postDataJSON()).toEqual({
    messages: [{ role: 'user', content: [{ text: 'Once upon a time' }] }],
    inferenceConfig: { maxTokens: 40, temperature: 0.7, topP: 0.9 },
  });
  await expect(page.locator('.pg-completion-text')).not.toBeEmpty({ timeout: 30_000 });
  await expect(page.locator('.pg-stats')).toContainText('Output tokens', { timeout: 30_000 });
  await shot(page, 'playground-text');
  await checkA11y(page, 'text playground');
});

test('image playground: says no image model is served, and what to do', async ({ page }) => {
  await page.goto('/playground/image');
  await expect(page.getByRole('heading', { level: 1, name: 'Image playground' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'No image model is served' })).toBeVisible();
  await expect(page.getByText(/An administrator can add an image model/)).toBeVisible();
  await expect(page.getByRole('main').getByRole('link', { name: 'Go to Models' })).toHaveAttribute('href', '/models');
  await shot(page, 'playground-image-none');
  await checkA11y(page, 'image playground (no model)');
});

test('image playground: Titan body, gallery and a Korean download name (routed image model)', async ({ page }) => {
  // No image model is served yet: add one to the catalog and answer its invoke.
  await page.route('**/console/api/basalt/catalog', async (route) => {
    const res = await route.fetch();
    const catalog = await res.json();
    catalog.models.push({
      ...catalog.models[0],
      modelId: 'amazon.titan-image-generator-v2:0',
      modelName: 'Titan Image Generator G1 v2',
      providerName: 'Amazon',
      outputModalities: ['IMAGE'],
      price: { inputPer1kTokens: null, outputPer1kTokens: null, perImage: 0.01 },
      served: true,
      access: 'GRANTED',
    });
    await route.fulfill({ response: res, json: catalog });
  });
  const png =
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
  let body: unknown;
  await page.route('**/model/*/invoke', async (route) => {
    body = route.request().postDataJSON();
    await route.fulfill({ json: { images: [png, png], error: null } });
  });
  await page.goto('/playground/image');
  await page.getByLabel('Prompt', { exact: true }).fill('달 위의 고양이');
  await page.getByLabel('Number of images').fill('6');
  await expect(page.getByText(/numberOfImages' failed to satisfy constraint: Member must have value less than or equal to 5/)).toBeVisible();
  await page.getByLabel('Number of images').fill('2');
  await page.getByLabel('Size', { exact: true }).selectOption('768x1152');
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page.getByRole('img', { name: /달 위의 고양이/ })).toHaveCount(2);
  expect(body).toEqual({
    taskType: 'TEXT_IMAGE',
    textToImageParams: { text: '달 위의 고양이' },
    imageGenerationConfig: { numberOfImages: 2, height: 1152, width: 768, cfgScale: 8, seed: 42 },
  });
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download PNG, image 1' }).click();
  expect((await download).suggestedFilename()).toBe('달-위의-고양이-1.png');
  await shot(page, 'playground-image');
  await checkA11y(page, 'image playground');
});
