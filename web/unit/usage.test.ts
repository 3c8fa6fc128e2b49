// Unit tests for the usage page's logic and the admin forms' checks: `npm run test:unit`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  byDay,
  byModel,
  checkRange,
  csvFileName,
  daysOf,
  lastDays,
  niceScale,
  usageQuery,
  type UsageReport,
} from '../src/pages/usage/usage.ts';
import { passwordProblem, requiredProblem } from '../src/pages/keys/admin.ts';

const NOW = Date.parse('2026-11-29T05:30:00Z');

test('ranges are whole UTC days and the server gets an exclusive end', () => {
  assert.deepEqual(lastDays(7, NOW), { from: '2026-11-23', to: '2026-11-29' });
  assert.deepEqual(lastDays(30, NOW), { from: '2026-10-31', to: '2026-11-29' });
  assert.equal(
    usageQuery({ from: '2026-11-23', to: '2026-11-29' }, { groupBy: 'day,model', source: 'console' }),
    '/basalt/usage?from=2026-11-23&to=2026-11-30&groupBy=day%2Cmodel&source=console',
  );
  assert.equal(
    usageQuery({ from: '2026-12-31', to: '2026-12-31' }, { format: 'csv' }),
    '/basalt/usage?from=2026-12-31&to=2027-01-01&format=csv',
  );
  assert.deepEqual(daysOf({ from: '2024-02-28', to: '2024-03-01' }), ['2024-02-28', '2024-02-29', '2024-03-01']);
  assert.equal(csvFileName({ from: '2026-11-23', to: '2026-11-29' }, 'records', 'api'), 'basalt-usage-records-2026-11-23-to-2026-11-29-api.csv');
});

test('custom ranges are checked before anything is sent', () => {
  assert.equal(checkRange({ from: '2026-11-01', to: '2026-11-29' }), null);
  assert.equal(checkRange({ from: '', to: '2026-11-29' }), 'invalidFrom');
  assert.equal(checkRange({ from: '2026-02-30', to: '2026-03-01' }), 'invalidFrom');
  assert.equal(checkRange({ from: '2026-11-01', to: 'x' }), 'invalidTo');
  assert.equal(checkRange({ from: '2026-11-29', to: '2026-11-01' }), 'toBeforeFrom');
  assert.equal(checkRange({ from: '2025-01-01', to: '2026-01-01' }), null); // 366 days
  assert.equal(checkRange({ from: '2025-01-01', to: '2026-01-02' }), 'tooLong');
});

test('one day×model report gives the by-day (zeros filled) and by-model views', () => {
  const row = (day: string, model: string, requests: number, inputTokens: number, outputTokens: number, images = 0, cost = 0) => ({
    group: { day, model },
    requests,
    inputTokens,
    outputTokens,
    images,
    cost,
  });
  const report: UsageReport = {
    rows: [
      row('2026-11-27', 'a', 1, 10, 20, 0, 0.5),
      row('2026-11-27', 'b', 2, 100, 200),
      row('2026-11-29', 'a', 3, 1, 2, 4, 0.25),
    ],
    total: { requests: 6, inputTokens: 111, outputTokens: 222, images: 4, cost: 0.75 },
  };
  const days = byDay(report, { from: '2026-11-26', to: '2026-11-29' });
  assert.deepEqual(
    days.map((d) => [d.key, d.requests, d.inputTokens, d.outputTokens, d.images]),
    [
      ['2026-11-26', 0, 0, 0, 0],
      ['2026-11-27', 3, 110, 220, 0],
      ['2026-11-28', 0, 0, 0, 0],
      ['2026-11-29', 3, 1, 2, 4],
    ],
  );
  const models = byModel(report);
  assert.deepEqual(models.map((m) => [m.key, m.requests, m.inputTokens + m.outputTokens, m.cost]), [
    ['b', 2, 300, 0],
    ['a', 4, 33, 0.75],
  ]);
  // The views add up to the report's total.
  assert.equal(days.reduce((n, d) => n + d.requests, 0), report.total.requests);
  assert.equal(models.reduce((n, m) => n + m.inputTokens, 0), report.total.inputTokens);
});

test('axis scales end on a round number above the largest value', () => {
  assert.deepEqual(niceScale(0), { max: 1, ticks: [0, 1] });
  assert.deepEqual(niceScale(3600), { max: 4000, ticks: [0, 1000, 2000, 3000, 4000] });
  assert.deepEqual(niceScale(7), { max: 8, ticks: [0, 2, 4, 6, 8] });
  const s = niceScale(0.0123);
  assert.ok(s.max >= 0.0123 && s.max <= 0.02, String(s.max));
});

test('forms refuse what the API refuses, in its words', () => {
  assert.equal(passwordProblem('short'), 'Password should have a minimum length of 8 characters.');
  assert.equal(passwordProblem('a'.repeat(129)), 'Password should have a maximum length of 128 characters.');
  assert.equal(passwordProblem('비밀번호12'), null); // 14 bytes: the server counts bytes
  assert.equal(passwordProblem('가나'), 'Password should have a minimum length of 8 characters.');
  assert.equal(passwordProblem('a'.repeat(128)), null);
  assert.equal(
    requiredProblem('', 'name', 64),
    "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null",
  );
  assert.match(requiredProblem('x'.repeat(65), 'name', 64)!, /Member must have length between 1 and 64$/);
  assert.equal(requiredProblem('carol', 'name', 64), null);
});
