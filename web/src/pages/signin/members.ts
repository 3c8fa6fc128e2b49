// Members (docs/apps.md): the sign-in options the server offers, and the callback's errors.
import { get } from '../../api/client';

export interface MembersConfig {
  providers: { id: string; label: string }[];
  signup: boolean;
}

export async function loadMembersConfig(): Promise<MembersConfig> {
  try {
    const c = await get<MembersConfig>('/members/config', { noAuthRedirect: true });
    return { providers: Array.isArray(c?.providers) ? c.providers : [], signup: Boolean(c?.signup) };
  } catch {
    return { providers: [], signup: false };
  }
}

/** Where "Sign in with <provider>" goes: the server starts the OpenID Connect flow. */
export function providerStartUrl(id: string, next: string | null): string {
  const base = `/console/oidc/${encodeURIComponent(id)}/start`;
  return next ? `${base}?next=${encodeURIComponent(next)}` : base;
}

const KNOWN_ERRORS = [
  'oidc_state',
  'oidc_failed',
  'oidc_denied',
  'provider_unavailable',
  'unknown_provider',
  'server_error',
] as const;

/** The strings key for a /signin?error=<code> value. */
export function errorKey(code: string): `err_${(typeof KNOWN_ERRORS)[number]}` | 'err_other' {
  return (KNOWN_ERRORS as readonly string[]).includes(code)
    ? (`err_${code}` as `err_${(typeof KNOWN_ERRORS)[number]}`)
    : 'err_other';
}
