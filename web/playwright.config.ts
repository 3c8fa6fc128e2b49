import { defineConfig } from '@playwright/test';

// Browser tests: Debian's Chromium, headless, against the real server binary started by
// tests/fixtures.ts (BASALT_BINARY, default ../build/src/server/basalt).
export default defineConfig({
  testDir: './tests',
  testMatch: /.*\.spec\.ts$/,
  outputDir: './test-results/artifacts',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  // Files run side by side (each worker starts its own server with one compute thread);
  // tests within a file run in order, as they share that file's server state.
  fullyParallel: false,
  workers: Number(process.env.PLAYWRIGHT_WORKERS ?? 2),
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
