import { defineConfig } from '@playwright/test';

// Browser tests: Debian's Chromium, headless, against the real server binary started by
// tests/fixtures.ts (BASALT_BINARY, default ../build/src/server/basalt).
export default defineConfig({
  testDir: './tests',
  testMatch: /.*\.spec\.ts$/,
  outputDir: './test-results/artifacts',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  reporter: [['list']],
  use: {
    headless: true,
    viewport: { width: 1280, height: 860 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    },
    trace: 'off',
    screenshot: 'off',
  },
});
