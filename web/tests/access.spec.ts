import { test, expect, shot, checkA11y, signInWith, type Credentials } from './fixtures';

let dev: Credentials;

test.beforeAll(async ({ server }) => {
  dev = server.createUser('acme', 'dev');
});

test('access without the use-case form (another provider)', async ({ page }) => {
  await signInWith(page, dev);
  await page.goto('/access');
  const row = page.getByRole('row').filter({ hasText: 'mistral.mistral-7b-instruct-v0:2' });
  await expect(row).toContainText('Available to request');
  await shot(page, 'access');
  await checkA11y(page, 'access');
  await row.getByRole('button', { name: /Request access/ }).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await expect(row).toContainText('Access granted');
  await expect(page.getByRole('status').filter({ hasText: 'Access granted: ' })).toBeVisible();
});

test('an Anthropic model asks for the use case first, then access is granted', async ({ page }) => {
  await signInWith(page, dev);
  await page.goto('/catalog/anthropic.claude-3-haiku-20240307-v1:0');
  await expect(page.getByText('Available to request').first()).toBeVisible();
  await page.getByRole('button', { name: 'Request access' }).first().click();

  const dialog = page.getByRole('dialog', { name: 'Anthropic use case details' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel('Company name')).toBeFocused();
  // Submitting empty names the missing fields.
  await dialog.getByRole('button', { name: 'Submit and request access' }).click();
  await expect(dialog.getByText('Enter Company name.')).toBeVisible();
  await checkA11y(page, 'use-case dialog');
  await dialog.getByLabel('Company name').fill('주식회사 에이크미');
  await dialog.getByLabel('Company website').fill('https://acme.example');
  await dialog.getByLabel('Both internal and external users').check();
  await dialog.getByLabel('Industry').selectOption('Other');
  await dialog.getByLabel('Your industry').fill('Robotics');
  await dialog.getByLabel('Describe your use cases').fill('사내 문서 요약과 고객 지원 챗봇');
  await shot(page, 'access-use-case-form');
  await dialog.getByLabel('Describe your use cases').press('Tab');
  await dialog.getByRole('button', { name: 'Submit and request access' }).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await expect(page.getByText('Access granted: ')).toBeVisible();
  await expect(page.locator('.access-box')).toContainText('Access granted');

  // The form is stored as Bedrock stores it: base64 JSON with the Anthropic field names.
  const stored = await page.evaluate(async () => {
    const r = await fetch('/console/api/use-case-for-model-access');
    const j = await r.json();
    const bin = atob(j.formData);
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
  });
  expect(stored).toEqual({
    companyName: '주식회사 에이크미',
    companyWebsite: 'https://acme.example',
    intendedUsers: '2',
    industryOption: 'Other',
    otherIndustryOption: 'Robotics',
    useCases: '사내 문서 요약과 고객 지원 챗봇',
  });

  // A second Anthropic model does not ask again.
  await page.goto('/access');
  await expect(page.getByText('Submitted for this account.')).toBeVisible();
  const row = page.getByRole('row').filter({ hasText: 'anthropic.claude-v2:1' });
  await row.getByRole('checkbox').check();
  await page.getByRole('row').filter({ hasText: 'amazon.titan-text-express-v1' }).getByRole('checkbox').check();
  await page.getByRole('button', { name: 'Request access for selected (2)' }).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await expect(row).toContainText('Access granted');
  await expect(page.getByRole('row').filter({ hasText: 'amazon.titan-text-express-v1' })).toContainText('Access granted');
  await shot(page, 'access-after-requests');
  await checkA11y(page, 'access after requests');
});
