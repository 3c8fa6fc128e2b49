#!/usr/bin/env node
// Builds the web console (web/) and prints the gzipped bytes of the JavaScript the first page
// loads (index.html's module script and its modulepreload links, i.e. the entry chunk and its
// static imports) against the 300 KB budget. Exits 1 over budget.
//
// Usage (inside the forky root, where node and npm are):
//   scripts/forky node bench/console_bundle.mjs [--no-build]
import { execSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const BUDGET = 300 * 1024;
const web = resolve(dirname(fileURLToPath(import.meta.url)), '../web');
const dist = join(web, 'dist');

if (!process.argv.includes('--no-build')) {
  execSync('npm ci --no-audit --no-fund && npm run build', { cwd: web, stdio: ['ignore', 'ignore', 'inherit'] });
}

const html = readFileSync(join(dist, 'index.html'), 'utf8');
const first = new Set();
for (const m of html.matchAll(/<script[^>]*\bsrc="([^"]+\.js)"/g)) first.add(m[1]);
for (const m of html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+\.js)"/g)) first.add(m[1]);

const gz = (file) => gzipSync(readFileSync(file), { level: 9 }).length;
let total = 0;
console.log('First page JavaScript (gzip -9):');
for (const src of first) {
  const bytes = gz(join(dist, src.replace(/^\//, '')));
  total += bytes;
  console.log(`  ${src.padEnd(44)} ${String(bytes).padStart(8)} B`);
}
const all = readdirSync(join(dist, 'assets')).filter((f) => f.endsWith('.js'));
const lazy = all.filter((f) => !first.has(`/assets/${f}`)).reduce((n, f) => n + gz(join(dist, 'assets', f)), 0);
console.log(`  ${'total'.padEnd(44)} ${String(total).padStart(8)} B  (${(total / 1024).toFixed(1)} KB of the ${BUDGET / 1024} KB budget, ${((100 * total) / BUDGET).toFixed(0)}%)`);
console.log(`Loaded on demand by other pages: ${all.length - first.size} chunks, ${(lazy / 1024).toFixed(1)} KB gzipped`);
process.exit(total > BUDGET ? 1 : 0);
