// Backstage's view of GET /basalt/backstage: whole runs of UTC days for the chart, and the
// fields of a run whichever spelling the server uses for them.

import type { AppRun, BackstageData } from './appsApi';

const DAY_MS = 86_400_000;

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export interface DayPoint {
  day: string;
  credits: number;
  runs: number;
}

/** The last `count` UTC days up to today (or up to the latest day the server sent, when that
 *  is later), each with the server's figures or zeros: the chart shows quiet days too. */
export function fillDays(days: BackstageData['days'], count = 14, now = Date.now()): DayPoint[] {
  const byDay = new Map<string, DayPoint>();
  for (const d of days ?? []) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(d.day)) continue;
    const prev = byDay.get(d.day);
    byDay.set(d.day, {
      day: d.day,
      credits: (prev?.credits ?? 0) + (Number(d.credits) || 0),
      runs: (prev?.runs ?? 0) + (Number(d.runs) || 0),
    });
  }
  let last = Date.parse(`${utcDay(now)}T00:00:00Z`);
  for (const k of byDay.keys()) last = Math.max(last, Date.parse(`${k}T00:00:00Z`));
  const out: DayPoint[] = [];
  for (let i = count - 1; i >= 0; i--) {
    const day = utcDay(last - i * DAY_MS);
    out.push(byDay.get(day) ?? { day, credits: 0, runs: 0 });
  }
  return out;
}

/** The credits (dollars) a run used: `credits`, `cost` or `usage.cost`. */
export function runCredits(r: AppRun): number {
  const v = r.credits ?? r.cost ?? r.usage?.cost;
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** Who ran it: a user name (runner names only, never ids). */
export function runRunner(r: AppRun): string {
  const x = r.runner ?? (r as { runnerName?: unknown }).runnerName ?? (r as { userName?: unknown }).userName;
  if (typeof x === 'string') return x;
  if (x && typeof x === 'object' && typeof (x as { userName?: unknown }).userName === 'string')
    return (x as { userName: string }).userName;
  return '';
}

/** When it started: `startedAt` or `createdAt` (ISO-8601), or null. */
export function runStarted(r: AppRun): string | null {
  const v = r.startedAt ?? r.createdAt;
  return typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? v : null;
}

/** The app's title for a run: the run's own, or the title of the app with that id. */
export function runAppTitle(r: AppRun, apps: BackstageData['apps']): string | null {
  if (typeof r.appTitle === 'string' && r.appTitle) return r.appTitle;
  if (typeof r.title === 'string' && r.title) return r.title;
  const a = apps.find((x) => x.appId === r.appId);
  return a ? a.title : null;
}

/** The share of the allowance used today, 0..1 (null when there is no allowance). */
export function usedShare(today: BackstageData['today']): number | null {
  if (today.allowance === null || today.allowance === undefined || !(today.allowance > 0)) return null;
  return Math.max(0, Math.min(1, today.used / today.allowance));
}

/** The longest description Generate takes (the server has its own limit too). */
export const MAX_DESCRIPTION = 2000;

/** What is wrong with a description before it is sent (null when it can go). */
export function describeProblem(text: string): 'describeRequired' | 'describeTooLong' | null {
  const s = text.trim();
  if (!s) return 'describeRequired';
  if (s.length > MAX_DESCRIPTION) return 'describeTooLong';
  return null;
}


/** Seconds from start to finish (null while running or when a time is missing). */
export function runSeconds(r: AppRun): number | null {
  const s = runStarted(r);
  const f = typeof r.finishedAt === 'string' ? Date.parse(r.finishedAt) : NaN;
  if (!s || Number.isNaN(f)) return null;
  return Math.max(0, (f - Date.parse(s)) / 1000);
}

/** Runs of several apps as one list, newest first, each with its app's title, at most `limit`. */
export function mergeRuns(lists: { appId: string; title: string; runs: AppRun[] }[], limit = 20): AppRun[] {
  const all: AppRun[] = [];
  for (const l of lists) for (const r of l.runs) all.push({ ...r, appId: r.appId ?? l.appId, appTitle: r.appTitle || l.title });
  const at = (r: AppRun) => {
    const s = runStarted(r);
    return s ? Date.parse(s) : 0;
  };
  return all.sort((a, b) => at(b) - at(a) || (a.runId < b.runId ? 1 : -1)).slice(0, limit);
}
