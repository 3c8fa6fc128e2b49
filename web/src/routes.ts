// The console's page paths: the one list on the web side (the server's copy is
// src/console/static_files.cc). Keep both in step with docs/console.md.

export const PAGE_PATHS = [
  '/signin',
  '/catalog',
  '/catalog/<id>',
  '/access',
  '/playground/chat',
  '/playground/text',
  '/playground/image',
  '/usage',
  '/keys',
  '/users',
  '/models',
  '/settings',
  '/signup',
  '/apps',
  '/apps/<id>',
  '/shared/<token>',
  '/discover',
  '/backstage',
] as const;

export const paths = {
  home: '/',
  signin: '/signin',
  catalog: '/catalog',
  model: (id: string) => `/catalog/${encodeURIComponent(id)}`,
  access: '/access',
  chat: '/playground/chat',
  text: '/playground/text',
  image: '/playground/image',
  usage: '/usage',
  keys: '/keys',
  users: '/users',
  models: '/models',
  settings: '/settings',
  signup: '/signup',
  apps: '/apps',
  app: (id: string) => `/apps/${encodeURIComponent(id)}`,
  shared: (token: string) => `/shared/${encodeURIComponent(token)}`,
  discover: '/discover',
  backstage: '/backstage',
} as const;

/** Playground links carry the model as `?model=<id>`; the playground pages preselect it. */
export function playgroundPath(
  kind: 'chat' | 'text' | 'image',
  modelId?: string,
): string {
  const base = kind === 'chat' ? paths.chat : kind === 'text' ? paths.text : paths.image;
  return modelId ? `${base}?model=${encodeURIComponent(modelId)}` : base;
}

export type Route =
  | { name: 'home' }
  | { name: 'signin' }
  | { name: 'catalog' }
  | { name: 'model'; id: string }
  | { name: 'access' }
  | { name: 'chat' }
  | { name: 'text' }
  | { name: 'image' }
  | { name: 'usage' }
  | { name: 'keys' }
  | { name: 'users' }
  | { name: 'models' }
  | { name: 'settings' }
  | { name: 'signup' }
  | { name: 'apps' }
  | { name: 'app'; id: string }
  | { name: 'shared'; token: string }
  | { name: 'discover' }
  | { name: 'backstage' }
  | { name: 'notFound' };

const FIXED: Record<string, Route> = {
  '/': { name: 'home' },
  '/signin': { name: 'signin' },
  '/catalog': { name: 'catalog' },
  '/access': { name: 'access' },
  '/playground/chat': { name: 'chat' },
  '/playground/text': { name: 'text' },
  '/playground/image': { name: 'image' },
  '/usage': { name: 'usage' },
  '/keys': { name: 'keys' },
  '/users': { name: 'users' },
  '/models': { name: 'models' },
  '/settings': { name: 'settings' },
  '/signup': { name: 'signup' },
  '/apps': { name: 'apps' },
  '/discover': { name: 'discover' },
  '/backstage': { name: 'backstage' },
};

export function matchRoute(pathname: string): Route {
  const p = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  const fixed = FIXED[p];
  if (fixed) return fixed;
  const m = /^\/catalog\/(.+)$/.exec(p) ?? /^\/(?:apps|shared)\/([^/]+)$/.exec(p);
  if (m) {
    try {
      const v = decodeURIComponent(m[1]);
      if (p.startsWith('/catalog/')) return { name: 'model', id: v };
      if (p.startsWith('/apps/')) return { name: 'app', id: v };
      return { name: 'shared', token: v };
    } catch {
      return { name: 'notFound' };
    }
  }
  return { name: 'notFound' };
}
