import { test, expect, shot, checkA11y } from './fixtures';

test('the model page shows ID, ARN and Converse samples for this server', async ({ page, server, signIn }) => {
  await signIn();
  await page.goto('/catalog');
  await page.getByRole('link', { name: 'Llama 2 tiny random', exact: true }).click();
  await expect(page).toHaveURL(/\/catalog\/test\.llama-2-tiny-random-v1%3A0$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Llama 2 tiny random' })).toBeVisible();
  await expect(page.getByTestId('model-id')).toHaveText('test.llama-2-tiny-random-v1:0');
  await expect(page.getByTestId('model-arn')).toHaveText(
    'arn:aws:bedrock:us-east-1::foundation-model/test.llama-2-tiny-random-v1:0',
  );
  await expect(page.getByRole('button', { name: 'Copy Model ID' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Copy Model ARN' })).toBeVisible();

  const panel = page.getByRole('tabpanel');
  await expect(page.getByRole('tab', { name: 'AWS CLI' })).toHaveAttribute('aria-selected', 'true');
  await expect(panel).toContainText('aws bedrock-runtime converse');
  await expect(panel).toContainText(`--endpoint-url ${server.url}`);
  await expect(panel).toContainText('--region us-east-1');
  await expect(panel).toContainText('--model-id test.llama-2-tiny-random-v1:0');
  await expect(panel).toContainText(`--messages '[{"role":"user","content":[{"text":"Hello! What can you do?"}]}]'`);
  await shot(page, 'model-page');
  await checkA11y(page, 'model page');

  // Arrow keys move between the sample tabs.
  await page.getByRole('tab', { name: 'AWS CLI' }).focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByRole('tab', { name: 'Python (boto3)' })).toBeFocused();
  await expect(panel).toContainText('client = boto3.client(');
  await expect(panel).toContainText(`endpoint_url="${server.url}"`);
  await expect(panel).toContainText('response = client.converse(');
  await expect(panel).toContainText('modelId="test.llama-2-tiny-random-v1:0"');

  await page.getByRole('tab', { name: 'JavaScript (SDK v3)' }).click();
  await expect(panel).toContainText('new BedrockRuntimeClient({');
  await expect(panel).toContainText(`endpoint: "${server.url}"`);
  await expect(panel).toContainText('new ConverseCommand({');

  // Copying works (the clipboard is granted to the page in this test).
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.getByRole('button', { name: 'Copy Model ID' }).click();
  await expect(page.getByRole('button', { name: 'Copy Model ID' })).toContainText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe('test.llama-2-tiny-random-v1:0');

  // Open in playground carries the model.
  await page.getByRole('link', { name: 'Open in playground' }).first().click();
  await expect(page).toHaveURL(/\/playground\/chat\?model=test\.llama-2-tiny-random-v1%3A0$/);
});

test('an unknown model says so', async ({ page, signIn }) => {
  await signIn();
  await page.goto('/catalog/no.such-model-v1:0');
  await expect(page.getByRole('heading', { level: 1, name: 'Model not found' })).toBeVisible();
  await checkA11y(page, 'model not found');
});
