import { test, expect, shot, checkA11y, signInWith } from './fixtures';

test('a wrong password shows the API message and keeps the user on /signin', async ({ page, server }) => {
  await page.goto('/signin');
  await expect(page.getByRole('heading', { name: 'Sign in to the Basalt console' })).toBeVisible();
  await checkA11y(page, 'signin');
  await signInWith(page, { ...server.admin, password: 'not-the-password' }, false, false);
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('Your authentication information is incorrect. Please try again.');
  await expect(page).toHaveURL(/\/signin/);
  await expect(page.getByLabel('Password')).toHaveValue('');
  await shot(page, 'signin-wrong-password');
  await checkA11y(page, 'signin with error');
});

test('empty fields are named and nothing is sent', async ({ page }) => {
  await page.goto('/signin');
  await page.getByLabel('Account', { exact: true }).fill('');
  await page.getByLabel('User name').fill('');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText('Enter Account.')).toBeVisible();
  await expect(page.getByLabel('Account', { exact: true })).toBeFocused();
});

test('signing in goes where the user was going; signing out ends the session', async ({ page, server }) => {
  await page.goto('/access');
  await expect(page).toHaveURL(/\/signin\?next=%2Faccess$/);
  await shot(page, 'signin');
  // Enter submits the form.
  await page.getByLabel('Account', { exact: true }).fill(server.admin.account);
  await page.getByLabel('User name').fill(server.admin.userName);
  await page.getByLabel('Password').fill(server.admin.password);
  await page.getByLabel('Password').press('Enter');
  await expect(page).toHaveURL(/\/access$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Model access' })).toBeVisible();

  await page.getByRole('button', { name: /User menu/ }).click();
  await page.getByRole('menuitem', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin$/);
  // The session is gone on the server too.
  const status = await page.evaluate(async () => (await fetch('/console/api/session')).status);
  expect(status).toBe(401);
  await page.goto('/catalog');
  await expect(page).toHaveURL(/\/signin\?next=%2Fcatalog$/);
});

test('the root path goes to the catalog once signed in', async ({ page, signIn }) => {
  await signIn();
  await page.goto('/');
  await expect(page).toHaveURL(/\/catalog$/);
});
