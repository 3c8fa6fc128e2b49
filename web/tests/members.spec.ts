import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test, expect, shot, checkA11y } from './fixtures';

// Members (docs/apps.md): sign-up on /signup, member e-mail sign-in, and OpenID Connect sign-in
// through the project's own test provider (tests/fixtures/oidc_provider.py, with its consent
// page), started by this file before the server needs it.

const here = path.dirname(fileURLToPath(import.meta.url));
const PROVIDER = path.resolve(here, '../../tests/fixtures/oidc_provider.py');
const IDP_PORT = 20000 + Math.floor(Math.random() * 20000);
const CONFIG = path.join(os.tmpdir(), `basalt-members-${process.pid}-${IDP_PORT}.json`);
fs.writeFileSync(
  CONFIG,
  JSON.stringify([
    {
      id: 'testidp',
      label: 'Test IdP',
      issuer: `http://127.0.0.1:${IDP_PORT}`,
      clientId: 'basalt',
      clientSecret: 's3cret',
    },
  ]),
);

test.use({ serverOptions: { args: ['--oidc-config', CONFIG, '--allow-signup'] } });

let idp: ChildProcess | null = null;

test.beforeAll(async () => {
  const proc = spawn(
    'python3',
    [PROVIDER, '--port', String(IDP_PORT), '--consent', '--email', 'grace@example.com', '--name', 'Grace'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  idp = proc;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the test OpenID Connect provider did not start')), 20_000);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.startsWith('issuer ')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.on('exit', (code) => reject(new Error(`the test provider exited (${code})`)));
  });
});

test.afterAll(() => {
  idp?.kill();
});

test('the sign-in page offers the provider and e-mail sign-in; sign-up makes a member', async ({ page }) => {
  await page.goto('/signin');
  await expect(page.getByRole('link', { name: 'Sign in with Test IdP' })).toBeVisible();
  await expect(page.getByLabel('E-mail address')).toBeFocused();
  await shot(page, 'members-signin');
  await checkA11y(page, 'members signin');

  await page.getByRole('link', { name: 'Create an account' }).click();
  await expect(page).toHaveURL(/\/signup$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Create an account' })).toBeVisible();
  await expect(page.getByLabel('E-mail address')).toBeFocused();
  // Client-side checks name the field and send nothing.
  await page.getByLabel('E-mail address').fill('ada@example');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByText('Enter a valid e-mail address.')).toBeVisible();
  await page.getByLabel('E-mail address').fill('ada@example.com');
  await page.getByLabel('Your name').fill('Ada');
  await page.getByLabel('Password', { exact: true }).fill('correct horse battery');
  await page.getByLabel('Confirm password').fill('correct horse batter');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByText('The passwords do not match.')).toBeVisible();
  await expect(page.getByLabel('Confirm password')).toBeFocused();
  await shot(page, 'members-signup-errors');
  await checkA11y(page, 'signup with errors');
  await page.getByLabel('Confirm password').fill('correct horse battery');
  await page.getByLabel('Confirm password').press('Enter');
  await expect(page).toHaveURL(/\/apps$/);
  const me = await (await page.request.get('/console/api/session')).json();
  expect(me.user.UserName).toBe('ada@example.com');
  expect(me.user.AccountName).toBe("Ada's space");
});

test('a duplicate sign-up shows the server message; e-mail sign-in works', async ({ page }) => {
  await page.goto('/signup');
  await page.getByLabel('E-mail address').fill('ADA@example.com');
  await page.getByLabel('Password', { exact: true }).fill('another password');
  await page.getByLabel('Confirm password').fill('another password');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('alert')).toContainText('already exists');
  await shot(page, 'members-signup-duplicate');

  await page.getByRole('link', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(/\/signin$/);
  await page.getByLabel('E-mail address').fill('ada@example.com');
  await page.getByLabel('Password').first().fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign in with e-mail' }).click();
  await expect(page).not.toHaveURL(/\/signin/);
  const me = await (await page.request.get('/console/api/session')).json();
  expect(me.user.UserName).toBe('ada@example.com');
});

test('OpenID Connect sign-in through the test provider, with its consent page', async ({ page }) => {
  await page.goto('/signin?next=%2Fapps');
  await page.getByRole('link', { name: 'Sign in with Test IdP' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in to basalt' })).toBeVisible();
  await shot(page, 'members-provider-consent');
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page).toHaveURL(/\/apps$/);
  const me = await (await page.request.get('/console/api/session')).json();
  expect(me.user.UserName).toBe('grace@example.com');
  expect(me.user.AccountName).toBe("Grace's space");
  await shot(page, 'members-after-oidc');
});

test('callback errors are explained on the sign-in page', async ({ page }) => {
  await page.goto('/signin?error=oidc_failed');
  await expect(page.getByRole('alert')).toContainText('could not be verified');
  await shot(page, 'members-callback-error');
  await page.goto('/signin?error=something_else');
  await expect(page.getByRole('alert')).toContainText('Sign-in failed. Please try again.');
});
