import { del, get, post, put, seg } from '../../api/client';
import type { App } from '../apps/types';

// The apps API as My apps, Discover, Backstage, Share and Remix call it (docs/apps.md; the
// console reaches /console/api/basalt/..., the same handlers SDK callers reach at /basalt/...).

/** An app as every apps route returns it (the app page's type: one shape for both areas).
 *  `shareToken`/`shareUrl` are the owner's only (and Discover's, where the app is public). */
export type AppInfo = App;

export interface RunUsage {
  inputTokens?: number;
  outputTokens?: number;
  images?: number;
  cost?: number;
}

/** A run as GET /backstage's recentRuns and GET /apps/{id}/runs list it. */
export interface AppRun {
  runId: string;
  appId?: string;
  appTitle?: string;
  title?: string;
  runner?: string | { userName?: string };
  status?: string;
  startedAt?: string;
  createdAt?: string;
  finishedAt?: string;
  credits?: number;
  cost?: number;
  usage?: RunUsage;
  [k: string]: unknown;
}

export interface BackstageApp {
  appId: string;
  title: string;
  /** False for another owner's shared app the caller ran ("" appId: Generate's own calls). */
  isOwner?: boolean;
  runs: number;
  requests?: number;
  credits: number;
}

export interface BackstageData {
  apps: BackstageApp[];
  days: { day: string; credits: number; runs: number; requests?: number }[];
  today: { day?: string; allowance: number | null; used: number; remaining: number | null };
  recentRuns: AppRun[];
}

const B = '/basalt';

export const appsApi = {
  list: (signal?: AbortSignal) => get<{ apps: AppInfo[] }>(`${B}/apps`, { signal }).then((r) => r.apps ?? []),
  create: (definition?: object) =>
    post<{ app: AppInfo }>(`${B}/apps`, definition ? { definition } : {}).then((r) => r.app),
  generate: (description: string, signal?: AbortSignal) =>
    post<{ app: AppInfo }>(`${B}/apps/generate`, { description }, { signal }).then((r) => r.app),
  remove: (id: string) => del<void>(`${B}/apps/${seg(id)}`),
  share: (id: string, listed: boolean) =>
    put<{ app: AppInfo }>(`${B}/apps/${seg(id)}/share`, { listed }).then((r) => r.app),
  unshare: (id: string) => del<{ app: AppInfo }>(`${B}/apps/${seg(id)}/share`).then((r) => r.app),
  remixShared: (token: string) =>
    post<{ app: AppInfo }>(`${B}/shared/${seg(token)}/remix`, {}).then((r) => r.app),
  remixOwn: (id: string) => post<{ app: AppInfo }>(`${B}/apps/${seg(id)}/remix`, {}).then((r) => r.app),
  discover: (signal?: AbortSignal) =>
    get<{ apps: AppInfo[] }>(`${B}/discover`, { signal }).then((r) => r.apps ?? []),
  backstage: (signal?: AbortSignal) => get<BackstageData>(`${B}/backstage`, { signal }),
  /** Runs of one of the caller's apps, by anyone (runner names only). */
  runs: (id: string, signal?: AbortSignal) =>
    get<{ runs: AppRun[] }>(`${B}/apps/${seg(id)}/runs`, { signal }).then((r) => r.runs ?? []),
};

/** The share token of an app: its own field, or the last segment of its share URL. */
export function shareTokenOf(app: Pick<AppInfo, 'shareToken' | 'shareUrl'>): string | undefined {
  if (app.shareToken) return app.shareToken;
  if (app.shareUrl) {
    const m = /\/shared\/([^/?#]+)/.exec(app.shareUrl);
    if (m) return decodeURIComponent(m[1]);
  }
  return undefined;
}

/** The full link to a shared app, as the user copies it (absolute, on this console's origin). */
export function shareLink(app: Pick<AppInfo, 'shareToken' | 'shareUrl'>, origin = window.location.origin): string | undefined {
  if (app.shareUrl && /^https?:\/\//.test(app.shareUrl)) return app.shareUrl; // --public-url set
  const token = shareTokenOf(app);
  if (!token) return undefined;
  return `${origin}/shared/${encodeURIComponent(token)}`;
}

/** The widget count of an app's definition (0 when it has none). */
export function widgetCount(app: AppInfo): number {
  return Array.isArray(app.definition?.widgets) ? app.definition.widgets.length : 0;
}
