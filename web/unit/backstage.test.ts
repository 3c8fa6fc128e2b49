// Unit tests for My apps / Discover / Backstage logic: `npm run test:unit`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describeProblem,
  fillDays,
  mergeRuns,
  MAX_DESCRIPTION,
  runAppTitle,
  runCredits,
  runRunner,
  runSeconds,
  runStarted,
  usedShare,
} from '../src/pages/backstage/backstage.ts';
import { shareLink, shareTokenOf } from '../src/pages/backstage/appsApi.ts';

const NOW = Date.parse('2026-11-29T05:30:00Z');

test('credits per day: the last N UTC days, quiet days as zeros, same days summed', () => {
  const days = fillDays(
    [
      { day: '2026-11-27', credits: 0.5, runs: 2 },
      { day: '2026-11-29', credits: 0.25, runs: 1 },
      { day: '2026-11-29', credits: 0.25, runs: 1 },
      { day: 'bogus', credits: 9, runs: 9 },
    ],
    4,
    NOW,
  );
  assert.deepEqual(days, [
    { day: '2026-11-26', credits: 0, runs: 0 },
    { day: '2026-11-27', credits: 0.5, runs: 2 },
    { day: '2026-11-28', credits: 0, runs: 0 },
    { day: '2026-11-29', credits: 0.5, runs: 2 },
  ]);
  // A server day after the client's today (clock skew) still shows as the last bar.
  const ahead = fillDays([{ day: '2026-11-30', credits: 1, runs: 1 }], 2, NOW);
  assert.deepEqual(ahead.map((d) => d.day), ['2026-11-29', '2026-11-30']);
  assert.equal(fillDays([], 14, NOW).length, 14);
  // Across a month end and a leap day.
  assert.deepEqual(
    fillDays([], 3, Date.parse('2024-03-01T23:59:00Z')).map((d) => d.day),
    ['2024-02-28', '2024-02-29', '2024-03-01'],
  );
});

test('a run reads whichever field names the server uses', () => {
  assert.equal(runCredits({ runId: 'r', credits: 0.5 }), 0.5);
  assert.equal(runCredits({ runId: 'r', usage: { cost: 0.002 } }), 0.002);
  assert.equal(runCredits({ runId: 'r' }), 0);
  assert.equal(runRunner({ runId: 'r', runner: 'bob' }), 'bob');
  assert.equal(runRunner({ runId: 'r', runner: { userName: 'ann' } }), 'ann');
  assert.equal(runRunner({ runId: 'r' }), '');
  assert.equal(runStarted({ runId: 'r', createdAt: '2026-11-29T01:02:03Z' }), '2026-11-29T01:02:03Z');
  assert.equal(runStarted({ runId: 'r', startedAt: 'not a date' }), null);
  const apps = [{ appId: 'app-1', title: 'Trip', runs: 1, credits: 0 }];
  assert.equal(runAppTitle({ runId: 'r', appId: 'app-1' }, apps), 'Trip');
  assert.equal(runAppTitle({ runId: 'r', appId: 'app-1', appTitle: 'Named' }, apps), 'Named');
  assert.equal(runAppTitle({ runId: 'r', appId: 'app-gone' }, apps), null);
});

test("today's allowance share is clamped and absent without an allowance", () => {
  assert.equal(usedShare({ allowance: 2, used: 0.5, remaining: 1.5 }), 0.25);
  assert.equal(usedShare({ allowance: 1, used: 3, remaining: 0 }), 1);
  assert.equal(usedShare({ allowance: null, used: 3, remaining: null }), null);
  assert.equal(usedShare({ allowance: 0, used: 0, remaining: 0 }), null);
});

test('a description must be present and not too long', () => {
  assert.equal(describeProblem(''), 'describeRequired');
  assert.equal(describeProblem('   \n '), 'describeRequired');
  assert.equal(describeProblem('A trip planner'), null);
  assert.equal(describeProblem('x'.repeat(MAX_DESCRIPTION)), null);
  assert.equal(describeProblem('x'.repeat(MAX_DESCRIPTION + 1)), 'describeTooLong');
});

test('share links: the token, or the last segment of the share URL; absolute URLs kept', () => {
  assert.equal(shareTokenOf({ shareToken: 'abc' }), 'abc');
  assert.equal(shareTokenOf({ shareUrl: '/shared/t%2Fok' }), 't/ok');
  assert.equal(shareTokenOf({}), undefined);
  assert.equal(shareLink({ shareToken: 'abc' }, 'http://h:1'), 'http://h:1/shared/abc');
  assert.equal(shareLink({ shareUrl: '/shared/xyz' }, 'http://h:1'), 'http://h:1/shared/xyz');
  assert.equal(shareLink({ shareUrl: 'https://apps.example.com/shared/xyz' }, 'http://h:1'), 'https://apps.example.com/shared/xyz');
  assert.equal(shareLink({}, 'http://h:1'), undefined);
});

test('runs of several apps merge newest first with their titles; durations in seconds', () => {
  const merged = mergeRuns(
    [
      { appId: 'a', title: 'A', runs: [{ runId: 'r1', startedAt: '2026-11-29T01:00:00Z', finishedAt: '2026-11-29T01:00:02.500Z' }] },
      {
        appId: 'b',
        title: 'B',
        runs: [
          { runId: 'r2', appId: 'b', startedAt: '2026-11-29T02:00:00Z' },
          { runId: 'r3', appId: 'b', startedAt: '2026-11-28T02:00:00Z' },
        ],
      },
    ],
    2,
  );
  assert.deepEqual(merged.map((r) => [r.runId, r.appId, r.appTitle]), [
    ['r2', 'b', 'B'],
    ['r1', 'a', 'A'],
  ]);
  assert.equal(runSeconds(merged[1]), 2.5);
  assert.equal(runSeconds(merged[0]), null);
});
