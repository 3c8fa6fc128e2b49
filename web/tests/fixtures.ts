import { test as base, expect, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

// Browser-test fixtures: a real `basalt serve` per worker (temporary data folder, the test
// catalog, the repo's small GGUF models), sign-in, screenshots and axe checks.

const here = path.dirname(fileURLToPath(import.meta.url));
const webDir = path.resolve(here, '..');
export const BINARY = path.resolve(webDir, process.env.BASALT_BINARY ?? '../build/src/server/basalt');
export const MODELS_DIR = path.resolve(
  webDir,
  process.env.BASALT_MODELS_DIR ??
    (fs.existsSync(path.resolve(webDir, '../../shared/models')) ? '../../shared/models' : '../shared/models'),
);
export const SCREENSHOTS = path.resolve(webDir, 'test-results/screenshots');

/** As tests/integration/conftest.py: stories260K behind several ids (an Anthropic alias
 *  among them), llama-2-tiny-random, plus one entry whose weights are missing. */
export const TEST_CATALOG = {
  models: [
    {
      modelId: 'tinystories.stories-260k-v1:0',
      providerName: 'TinyStories',
      modelName: 'Stories 260K',
      weights: 'stories260K.gguf',
      requestFamily: 'meta-llama',
      contextLength: 512,
      price: { inputPer1kTokens: 0.001, outputPer1kTokens: 0.002 },
      aliases: [
        'anthropic.claude-v2',
        'anthropic.claude-v2:1',
        'anthropic.claude-3-haiku-20240307-v1:0',
        'amazon.titan-text-express-v1',
        'meta.llama3-8b-instruct-v1:0',
        'mistral.mistral-7b-instruct-v0:2',
      ],
    },
    {
      modelId: 'test.llama-2-tiny-random-v1:0',
      providerName: 'Test',
      modelName: 'Llama 2 tiny random',
      weights: 'llama-2-tiny-random.gguf',
      contextLength: 256,
      parallel: 2,
    },
    {
      modelId: 'meta.llama3-2-1b-instruct-v1:0',
      providerName: 'Meta',
      modelName: 'Llama 3.2 1B Instruct',
      weights: 'not-pulled/llama-3.2-1b-instruct-q4.gguf',
      contextLength: 8192,
    },
  ],
};

/** A catalog where no model has its weights: the catalog's "nothing served" state. */
export const EMPTY_SERVED_CATALOG = {
  models: [
    {
      modelId: 'meta.llama3-2-1b-instruct-v1:0',
      providerName: 'Meta',
      modelName: 'Llama 3.2 1B Instruct',
      weights: 'not-pulled/llama-3.2-1b-instruct-q4.gguf',
      contextLength: 8192,
    },
  ],
};

export interface Credentials {
  account: string;
  userName: string;
  password: string;
  /** Set by createUser (the 12-digit id behind `account`). */
  accountId?: string;
}

export class BasaltServer {
  readonly url: string;
  readonly dataDir: string;
  readonly admin: Credentials;
  private proc: ChildProcess;

  private constructor(proc: ChildProcess, url: string, dataDir: string, admin: Credentials) {
    this.proc = proc;
    this.url = url;
    this.dataDir = dataDir;
    this.admin = admin;
  }

  /** `modelsDirs` come before the repo's models folder: the first one receives pulled weights. */
  static async start(opts: { catalog?: object; args?: string[]; modelsDirs?: string[] } = {}): Promise<BasaltServer> {
    if (!fs.existsSync(BINARY)) throw new Error(`basalt binary not found at ${BINARY} (set BASALT_BINARY)`);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'basalt-web-'));
    const catalogPath = path.join(dataDir, 'catalog.json');
    fs.writeFileSync(catalogPath, JSON.stringify(opts.catalog ?? TEST_CATALOG));
    const args = [
      'serve',
      '--port', '0',
      '--data-dir', dataDir,
      '--catalog', catalogPath,
      '--models-dir', [...(opts.modelsDirs ?? []), MODELS_DIR].join(','),
      '--threads', '1',
      '--log-level', 'info',
      ...(process.env.BASALT_CONSOLE_DIR ? ['--console-dir', path.resolve(webDir, process.env.BASALT_CONSOLE_DIR)] : []),
      ...(opts.args ?? []),
    ];
    const log = fs.openSync(path.join(dataDir, 'server.log'), 'w');
    const proc = spawn(BINARY, args, { stdio: ['ignore', 'pipe', log] });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('basalt did not start in 60 s')), 60_000);
      const rl = createInterface({ input: proc.stdout! });
      let seen = '';
      rl.on('line', (line) => {
        seen += line + '\n';
        const m = /listening on (https?):\/\/[^:]+:(\d+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(`${m[1]}://127.0.0.1:${m[2]}`);
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        const errLog = fs.readFileSync(path.join(dataDir, 'server.log'), 'utf8');
        reject(new Error(`basalt exited (${code}): ${seen}${errLog}`));
      });
    });
    // Keep draining stdout so the server never blocks on a full pipe.
    proc.stdout!.resume();
    const admin = readConsolePassword(dataDir);
    return new BasaltServer(proc, url, dataDir, admin);
  }

  /** `basalt admin ARGS --data-dir <this server's>`, JSON output parsed. */
  adminCli(args: string[], input?: string): any {
    const r = spawnSync(BINARY, ['admin', ...args, '--data-dir', this.dataDir], {
      input,
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (r.status !== 0) throw new Error(`basalt admin ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.trim() ? JSON.parse(r.stdout) : null;
  }

  /** A new account with one user (default policy) and a console password. */
  createUser(accountName: string, userName = 'dev', password = 'Correct-horse-9'): Credentials {
    const acct = this.adminCli(['create-account', accountName]);
    const accountId: string = acct.Account?.AccountId ?? acct.Account?.Id ?? acct.AccountId;
    const user = this.adminCli(['create-user', '--account', accountId, userName, '--role', 'user']);
    const userId: string = user.User?.UserId ?? user.UserId;
    this.adminCli(['set-password', '--user', userId, '--password-stdin'], password + '\n');
    return { account: accountName, userName, password, accountId };
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
    }
    if (!process.env.KEEP_DATA) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Reads `<data-dir>/console-password`: account, user name and password, as "key: value" or
 *  "key=value" lines (or three words in that order). */
export function readConsolePassword(dataDir: string): Credentials {
  const file = path.join(dataDir, 'console-password');
  const text = fs.readFileSync(file, 'utf8');
  const kv: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Za-z_ ]+?)\s*[:=]\s*(.+?)\s*$/.exec(line);
    if (m && !line.trim().startsWith('#')) kv[m[1].toLowerCase().replace(/[\s_]/g, '')] = m[2].replace(/^["']|["']$/g, '');
  }
  const pick = (...keys: string[]) => {
    for (const k of Object.keys(kv)) if (keys.some((x) => k.includes(x))) return kv[k];
    return undefined;
  };
  const account = pick('accountid', 'account');
  const userName = pick('username', 'user');
  const password = pick('password');
  if (account && userName && password) return { account, userName, password };
  const words = text.split(/\s+/).filter(Boolean);
  if (words.length === 3) return { account: words[0], userName: words[1], password: words[2] };
  throw new Error(`cannot read ${file}: ${text}`);
}

type WorkerFixtures = { server: BasaltServer; serverOptions: { catalog?: object; args?: string[] } };
type TestFixtures = { signIn: (creds?: Credentials) => Promise<void> };

export const test = base.extend<TestFixtures, WorkerFixtures>({
  serverOptions: [{}, { option: true, scope: 'worker' }],
  server: [
    async ({ serverOptions }, use) => {
      const server = await BasaltServer.start(serverOptions);
      await use(server);
      await server.stop();
    },
    { scope: 'worker', timeout: 90_000 },
  ],
  baseURL: async ({ server }, use) => {
    await use(server.url);
  },
  locale: 'en-US',
  signIn: async ({ page, server }, use) => {
    await use(async (creds = server.admin) => {
      await signInWith(page, creds);
      await expect(page).not.toHaveURL(/\/signin/);
    });
  },
});

export { expect };

/** Signs in through the form. Unless `succeed` is false, waits until the app has left
 *  /signin, so the session cookie is set before the test navigates on. */
export async function signInWith(page: Page, creds: Credentials, goto = true, succeed = true) {
  if (goto) await page.goto('/signin');
  await page.getByLabel('Account', { exact: true }).fill(creds.account);
  await page.getByLabel('User name').fill(creds.userName);
  await page.getByLabel('Password').fill(creds.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  if (succeed) await expect(page).not.toHaveURL(/\/signin/);
}

/** Saves a full-page screenshot as test-results/screenshots/<name>.png. */
export async function shot(page: Page, name: string) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Runs axe-core on the page; fails on serious or critical violations. */
export async function checkA11y(page: Page, name: string) {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const report = bad
    .map(
      (v) =>
        `[${v.impact}] ${v.id}: ${v.help}\n` +
        v.nodes
          .slice(0, 5)
          .map((n) => `    ${n.target.join(' ')} — ${n.failureSummary?.split('\n').join(' ')}`)
          .join('\n'),
    )
    .join('\n');
  expect(bad, `axe violations on ${name}:\n${report}`).toEqual([]);
}
