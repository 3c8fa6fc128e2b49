// The 12-column grid of an app (src/apps/definition.h: 0 <= x, x + w <= 12, 1..24 rows per
// widget, no two widgets on one cell): moves and resizes that stay valid, a free place for a
// new widget, and new widgets with unique ids and titles.
import { asciiLower } from './refs';
import { GRID_COLUMNS, MAX_ROWS_PER_WIDGET, type AppDefinition, type Layout, type Widget, type WidgetType } from './types';

export function overlaps(a: Layout, b: Layout): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/** A layout inside the grid: x and w in 0..12, h in 1..24, y >= 0. */
export function clampLayout(l: Layout): Layout {
  const w = Math.min(GRID_COLUMNS, Math.max(1, Math.round(l.w)));
  const h = Math.min(MAX_ROWS_PER_WIDGET, Math.max(1, Math.round(l.h)));
  const x = Math.min(GRID_COLUMNS - w, Math.max(0, Math.round(l.x)));
  const y = Math.max(0, Math.round(l.y));
  return { x, y, w, h };
}

/** Whether widget `id` may take `l` (inside the grid, on no other widget's cells). */
export function fits(def: Pick<AppDefinition, 'widgets'>, id: string, l: Layout): boolean {
  if (l.x < 0 || l.y < 0 || l.w < 1 || l.h < 1 || l.x + l.w > GRID_COLUMNS || l.h > MAX_ROWS_PER_WIDGET) return false;
  return def.widgets.every((w) => w.id === id || !overlaps(w.layout, l));
}

/** The first place (top to bottom, left to right) where a w x h widget fits. */
export function freeSpot(def: Pick<AppDefinition, 'widgets'>, w: number, h: number): Layout {
  const bottom = def.widgets.reduce((m, x) => Math.max(m, x.layout.y + x.layout.h), 0);
  for (let y = 0; y <= bottom; y++) {
    for (let x = 0; x + w <= GRID_COLUMNS; x++) {
      const l = { x, y, w, h };
      if (fits(def, '', l)) return l;
    }
  }
  return { x: 0, y: bottom, w, h };
}

const DEFAULT_SIZE: Record<WidgetType, { w: number; h: number }> = {
  'user-input': { w: 6, h: 2 },
  'static-text': { w: 6, h: 2 },
  document: { w: 6, h: 3 },
  'text-generation': { w: 12, h: 4 },
  'image-generation': { w: 6, h: 5 },
  chatbot: { w: 12, h: 6 },
};

/** A new widget of `type`, titled `baseTitle` (then "baseTitle 2", ...), placed where it fits. */
export function newWidget(def: AppDefinition, type: WidgetType, baseTitle: string): Widget {
  const ids = new Set(def.widgets.map((w) => w.id));
  let n = def.widgets.length + 1;
  while (ids.has(`w${n}`)) n++;
  const titles = new Set(def.widgets.map((w) => asciiLower(w.title)));
  let title = baseTitle;
  for (let k = 2; titles.has(asciiLower(title)); k++) title = `${baseTitle} ${k}`;
  const size = DEFAULT_SIZE[type];
  const w: Widget = { id: `w${n}`, type, title, layout: freeSpot(def, size.w, size.h) };
  switch (type) {
    case 'user-input':
      return { ...w, placeholder: '', default: '' };
    case 'static-text':
      return { ...w, content: '' };
    case 'document':
      return w;
    case 'text-generation':
      return { ...w, prompt: '', model: '', temperature: 0.7, topP: 0.9, maxTokens: 512 };
    case 'image-generation':
      return { ...w, prompt: '', model: '', width: 512, height: 512, seed: 0, negativePrompt: '' };
    case 'chatbot':
      return { ...w, prompt: '', model: '', temperature: 0.7, maxTokens: 512 };
  }
}

/** Widgets in reading order (top to bottom, then left to right): the order of the page on a
 *  narrow screen and of keyboard focus. */
export function readingOrder<T extends { layout: Layout }>(widgets: readonly T[]): T[] {
  return [...widgets].sort((a, b) => a.layout.y - b.layout.y || a.layout.x - b.layout.x);
}

/** The layout after an arrow key: move by one cell, or with Shift resize by one. */
export function nudge(l: Layout, key: string, resize: boolean): Layout | null {
  const d = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[key];
  if (!d) return null;
  return resize ? { ...l, w: l.w + d[0], h: l.h + d[1] } : { ...l, x: l.x + d[0], y: l.y + d[1] };
}
