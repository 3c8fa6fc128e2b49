import { test, expect, shot, checkA11y, signInWith, type Credentials } from './fixtures';

// With manual approval, requests wait for an administrator on the Model access page.
test.use({ serverOptions: { args: ['--manual-model-access-approval'] } });

let dev: Credentials;
test.beforeAll(async ({ server }) => {
  dev = server.createUser('globex', 'ops');
});

test('a request waits in the queue until an administrator approves or denies it', async ({ browser, server }) => {
  const devPage = await (await browser.newContext()).newPage();
  await signInWith(devPage, dev);
  await devPage.goto('/access');
  for (const id of ['meta.llama3-8b-instruct-v1:0', 'mistral.mistral-7b-instruct-v0:2']) {
    const row = devPage.getByRole('row').filter({ hasText: id });
    await row.getByRole('button', { name: /Request access/ }).click();
    await expect(row).toContainText('In progress');
  }
  await expect(devPage.getByText(/An administrator approves the request/)).toBeVisible();

  const adminPage = await (await browser.newContext()).newPage();
  await signInWith(adminPage, server.admin);
  await adminPage.goto('/access');
  const queue = adminPage.getByRole('region', { name: /Access requests awaiting approval/ });
  await expect(queue.getByRole('row')).toHaveCount(3); // header + 2
  await shot(adminPage, 'access-approval-queue');
  await checkA11y(adminPage, 'approval queue');
  await queue.getByRole('button', { name: 'Approve meta.llama3-8b-instruct-v1:0 for globex' }).click();
  await expect(adminPage.getByText('Approved meta.llama3-8b-instruct-v1:0 for globex.')).toBeVisible();
  await queue.getByRole('button', { name: 'Deny mistral.mistral-7b-instruct-v0:2 for globex' }).click();
  await expect(adminPage.getByText('Denied mistral.mistral-7b-instruct-v0:2 for globex.')).toBeVisible();

  await devPage.reload();
  await expect(devPage.getByRole('row').filter({ hasText: 'meta.llama3-8b-instruct-v1:0' })).toContainText('Access granted');
  await expect(devPage.getByRole('row').filter({ hasText: 'mistral.mistral-7b-instruct-v0:2' })).toContainText('Denied');
});
