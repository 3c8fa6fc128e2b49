// The console's API client: same-origin fetch with the session cookie, X-CSRF-Token on every
// non-GET request, and the API's error shape (x-amzn-ErrorType + {"message"}) thrown as
// ApiError. A 401 on anything but the session itself sends the user to /signin.

export const API_BASE = '/console/api';

export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  /** Seconds from Retry-After, when the server sent one (throttling). */
  readonly retryAfter: number | null;
  constructor(status: number, type: string, message: string, retryAfter: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.retryAfter = retryAfter;
  }
}

let csrfToken: string | null = null;
let onUnauthorized: (() => void) | null = null;

export function setCsrfToken(token: string | null) {
  csrfToken = token;
}

/** The session provider registers what a 401 does (clear the session, go to /signin). */
export function setUnauthorizedHandler(fn: (() => void) | null) {
  onUnauthorized = fn;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  /** A raw body (string/Blob/...) sent as is; `contentType` then names it. */
  rawBody?: BodyInit;
  contentType?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Don't redirect to /signin on 401 (the session calls themselves). */
  noAuthRedirect?: boolean;
}

function typeFromHeader(h: string | null): string {
  // x-amzn-ErrorType may look like "ValidationException:http://internal.amazon.com/..."
  if (!h) return '';
  return h.split(':')[0];
}

async function errorFrom(res: Response): Promise<ApiError> {
  let message = '';
  let type = typeFromHeader(res.headers.get('x-amzn-ErrorType'));
  try {
    const text = await res.text();
    if (text) {
      try {
        const j = JSON.parse(text) as Record<string, unknown>;
        message = String(j.message ?? j.Message ?? '');
        if (!type && typeof j.__type === 'string') type = typeFromHeader(j.__type);
      } catch {
        message = text.slice(0, 500);
      }
    }
  } catch {
    /* body unreadable */
  }
  const ra = res.headers.get('Retry-After');
  const retryAfter = ra !== null && /^\d+$/.test(ra.trim()) ? Number(ra) : null;
  return new ApiError(res.status, type, message || res.statusText || `HTTP ${res.status}`, retryAfter);
}

/** Sends a request and returns the raw Response (for streams, CSV); throws ApiError. */
export async function apiFetch(path: string, opts: RequestOptions = {}): Promise<Response> {
  const method = (opts.method ?? 'GET').toUpperCase();
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  let body: BodyInit | undefined;
  if (opts.rawBody !== undefined) {
    body = opts.rawBody;
    if (opts.contentType) headers['Content-Type'] = opts.contentType;
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['Content-Type'] = opts.contentType ?? 'application/json';
  }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(API_BASE + path, {
      method,
      headers,
      body,
      credentials: 'same-origin',
      signal: opts.signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'NetworkError', (e as Error).message || 'Network error');
  }
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401 && !opts.noAuthRedirect && onUnauthorized) onUnauthorized();
    throw err;
  }
  return res;
}

/** Sends a request and parses a JSON answer (undefined for 204/empty bodies). */
export async function api<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await apiFetch(path, opts);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const get = <T,>(path: string, opts?: RequestOptions) => api<T>(path, { ...opts, method: 'GET' });
export const post = <T,>(path: string, body?: unknown, opts?: RequestOptions) =>
  api<T>(path, { ...opts, method: 'POST', body: body ?? {} });
export const put = <T,>(path: string, body?: unknown, opts?: RequestOptions) =>
  api<T>(path, { ...opts, method: 'PUT', body: body ?? {} });
export const del = <T,>(path: string, opts?: RequestOptions) => api<T>(path, { ...opts, method: 'DELETE' });

/** Path segment encoding for model IDs etc. (":" must be escaped like the SDKs do). */
export const seg = (s: string) => encodeURIComponent(s);
