// Usage report logic (GET /basalt/usage, docs/metering.md): date ranges in UTC days, the
// query string, and the by-day / by-model views of one `groupBy=day,model` report.

export interface UsageSums {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  images: number;
  cost: number;
}

export interface UsageRow extends UsageSums {
  group: Record<string, string>;
}

export interface UsageReport {
  rows: UsageRow[];
  total: UsageSums;
}

export type Source = '' | 'api' | 'console' | 'app';
export type RangePreset = '7' | '30' | 'custom';

/** A range of whole UTC days, both ends included (`YYYY-MM-DD`). */
export interface DayRange {
  from: string;
  to: string;
}

const DAY_MS = 86_400_000;

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function parseDay(day: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return null;
  const ms = Date.parse(`${day}T00:00:00Z`);
  if (Number.isNaN(ms) || utcDay(ms) !== day) return null;
  return ms;
}

/** The last `days` UTC days up to and including today. */
export function lastDays(days: number, now = Date.now()): DayRange {
  const today = Date.parse(`${utcDay(now)}T00:00:00Z`);
  return { from: utcDay(today - (days - 1) * DAY_MS), to: utcDay(today) };
}

export const MAX_RANGE_DAYS = 366;

export type RangeProblem = 'invalidFrom' | 'invalidTo' | 'toBeforeFrom' | 'tooLong' | null;

export function checkRange(r: DayRange): RangeProblem {
  const f = parseDay(r.from);
  if (f === null) return 'invalidFrom';
  const t = parseDay(r.to);
  if (t === null) return 'invalidTo';
  if (t < f) return 'toBeforeFrom';
  if ((t - f) / DAY_MS + 1 > MAX_RANGE_DAYS) return 'tooLong';
  return null;
}

/** Every day of the range, in order. */
export function daysOf(r: DayRange): string[] {
  const f = parseDay(r.from);
  const t = parseDay(r.to);
  if (f === null || t === null || t < f) return [];
  const out: string[] = [];
  for (let d = f; d <= t && out.length <= MAX_RANGE_DAYS; d += DAY_MS) out.push(utcDay(d));
  return out;
}

/** The server's `to` is exclusive, so the day after the range's last day is sent. */
export function usageQuery(
  r: DayRange,
  opts: { source?: Source; groupBy?: string; format?: 'csv' } = {},
): string {
  const p = new URLSearchParams();
  p.set('from', r.from);
  const t = parseDay(r.to);
  p.set('to', t === null ? r.to : utcDay(t + DAY_MS));
  if (opts.groupBy) p.set('groupBy', opts.groupBy);
  if (opts.source) p.set('source', opts.source);
  if (opts.format) p.set('format', opts.format);
  return `/basalt/usage?${p.toString()}`;
}

export function emptySums(): UsageSums {
  return { requests: 0, inputTokens: 0, outputTokens: 0, images: 0, cost: 0 };
}

function add(into: UsageSums, r: UsageSums) {
  into.requests += r.requests;
  into.inputTokens += r.inputTokens;
  into.outputTokens += r.outputTokens;
  into.images += r.images;
  into.cost += r.cost;
}

export interface Keyed extends UsageSums {
  key: string;
}

/** Sums of a `groupBy=day,model` report per day: every day of the range, zeros included. */
export function byDay(report: UsageReport, range: DayRange): Keyed[] {
  const map = new Map<string, Keyed>();
  for (const d of daysOf(range)) map.set(d, { key: d, ...emptySums() });
  for (const row of report.rows) {
    const d = row.group.day ?? '';
    let k = map.get(d);
    if (!k) {
      k = { key: d, ...emptySums() };
      map.set(d, k);
    }
    add(k, row);
  }
  return [...map.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Sums per model, largest token count first. */
export function byModel(report: UsageReport): Keyed[] {
  const map = new Map<string, Keyed>();
  for (const row of report.rows) {
    const m = row.group.model ?? '';
    let k = map.get(m);
    if (!k) {
      k = { key: m, ...emptySums() };
      map.set(m, k);
    }
    add(k, row);
  }
  return [...map.values()].sort(
    (a, b) =>
      b.inputTokens + b.outputTokens - (a.inputTokens + a.outputTokens) ||
      b.cost - a.cost ||
      b.requests - a.requests ||
      (a.key < b.key ? -1 : 1),
  );
}

/** A "nice" upper bound for an axis (1, 2, 2.5, 5 × 10^n) and its tick values. */
export function niceScale(max: number, ticks = 4): { max: number; ticks: number[] } {
  if (!(max > 0)) return { max: 1, ticks: [0, 1] };
  const raw = max / ticks;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const top = Math.ceil(max / step - 1e-9) * step;
  const out: number[] = [];
  for (let v = 0; v <= top + step / 2; v += step) out.push(Number(v.toPrecision(12)));
  return { max: top, ticks: out };
}

export function csvFileName(r: DayRange, kind: 'summary' | 'records', source: Source): string {
  return `basalt-usage-${kind}-${r.from}-to-${r.to}${source ? `-${source}` : ''}.csv`;
}
