// The administration API's shapes and calls used by the keys and users pages (docs/admin.md).
// `userId` left out means the signed-in user itself.
import { del, get, post, put, seg } from '../../api/client';

export interface User {
  UserName: string;
  UserId: string;
  AccountId: string;
  Arn: string;
  Role: 'admin' | 'user' | string;
  CreateDate: string;
  AttachedPolicies: string[];
  PasswordSet: boolean;
}

export interface AccessKey {
  AccessKeyId: string;
  UserId: string;
  AccountId: string;
  Status: 'Active' | 'Inactive' | string;
  CreateDate: string;
  SecretAccessKey?: string;
}

export interface ApiKey {
  ApiKeyId: string;
  UserId: string;
  AccountId: string;
  Status: 'Active' | 'Inactive' | string;
  ExpiresAt: string | null;
  CreateDate: string;
  Token?: string;
}

export interface ShortTermKey {
  AccessKeyId: string;
  UserId: string;
  Region: string;
  ExpiresAt: string;
  Token: string;
}

export interface PolicyEntry {
  PolicyName: string;
  Type: 'BuiltIn' | 'Custom' | string;
}

const q = (userId?: string) => (userId ? `?userId=${encodeURIComponent(userId)}` : '');
const A = '/basalt/admin';

export const adminApi = {
  listAccessKeys: (userId?: string, signal?: AbortSignal) =>
    get<{ AccessKeyMetadata: AccessKey[] }>(`${A}/access-keys${q(userId)}`, { signal }).then((r) => r.AccessKeyMetadata),
  createAccessKey: (userId?: string) =>
    post<{ AccessKey: AccessKey; CredentialsFileSnippet: string }>(`${A}/access-keys`, userId ? { userId } : {}),
  updateAccessKey: (id: string, status: 'Active' | 'Inactive') =>
    put<{ AccessKeyId: string; Status: string }>(`${A}/access-keys/${seg(id)}`, { status }),
  deleteAccessKey: (id: string) => del<{ AccessKeyId: string; Deleted: boolean }>(`${A}/access-keys/${seg(id)}`),

  listApiKeys: (userId?: string, signal?: AbortSignal) =>
    get<{ ApiKeys: ApiKey[] }>(`${A}/api-keys${q(userId)}`, { signal }).then((r) => r.ApiKeys),
  createApiKey: (userId?: string, expiresInSeconds?: number) =>
    post<{ ApiKey: ApiKey }>(`${A}/api-keys`, {
      ...(userId ? { userId } : {}),
      ...(expiresInSeconds !== undefined ? { expiresInSeconds } : {}),
    }),
  updateApiKey: (id: string, status: 'Active' | 'Inactive', userId?: string) =>
    put<{ ApiKeyId: string; Status: string }>(`${A}/api-keys/${seg(id)}${q(userId)}`, { status }),
  deleteApiKey: (id: string, userId?: string) =>
    del<{ ApiKeyId: string; Deleted: boolean }>(`${A}/api-keys/${seg(id)}${q(userId)}`),
  createShortTermKey: (accessKeyId: string, expiresInSeconds: number) =>
    post<ShortTermKey>(`${A}/short-term-api-keys`, { accessKeyId, expiresInSeconds }),

  listUsers: (signal?: AbortSignal) => get<{ Users: User[] }>(`${A}/users`, { signal }).then((r) => r.Users),
  getUser: (id: string, signal?: AbortSignal) =>
    get<{ User: User }>(`${A}/users/${seg(id)}`, { signal }).then((r) => r.User),
  createUser: (name: string, role: string, policies: string[]) =>
    post<{ User: User }>(`${A}/users`, { name, role, policies }).then((r) => r.User),
  listPolicies: (signal?: AbortSignal) =>
    get<{ AccountId: string; Policies: PolicyEntry[] }>(`${A}/policies`, { signal }).then((r) => r.Policies),
  putPolicy: (name: string, document: string) =>
    put<{ Policy: { PolicyName: string } }>(`${A}/policies/${seg(name)}`, { document }),
  attachPolicy: (userId: string, name: string) =>
    put<{ UserId: string; AttachedPolicies: string[] }>(`${A}/users/${seg(userId)}/policies/${seg(name)}`),
  detachPolicy: (userId: string, name: string) =>
    del<{ UserId: string; AttachedPolicies: string[] }>(`${A}/users/${seg(userId)}/policies/${seg(name)}`),
  setPassword: (userId: string, password: string) =>
    put<{ UserId: string; PasswordSet: boolean }>(`${A}/users/${seg(userId)}/password`, { password }),
  generatePassword: (userId: string) =>
    put<{ UserId: string; PasswordSet: boolean; Password: string }>(`${A}/users/${seg(userId)}/password`, {
      generate: true,
    }),
  deletePassword: (userId: string) =>
    del<{ UserId: string; PasswordSet: boolean }>(`${A}/users/${seg(userId)}/password`),
};

/** The console password policy (src/console/password.cc): 8 to 128 bytes, its messages. */
export function passwordProblem(pw: string): string | null {
  const bytes = new TextEncoder().encode(pw).length;
  if (bytes < 8) return 'Password should have a minimum length of 8 characters.';
  if (bytes > 128) return 'Password should have a maximum length of 128 characters.';
  return null;
}

/** A required member's validation message as the administration service words it. */
export function requiredProblem(value: string, field: string, max: number): string | null {
  if (value.length === 0)
    return `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`;
  if (new TextEncoder().encode(value).length > max)
    return `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must have length between 1 and ${max}`;
  return null;
}
