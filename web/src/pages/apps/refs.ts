// `@Title` references between widgets, mirroring src/apps/definition.h (FindReferences,
// RenameWidget, Dependencies, RunWaves, AffectedWaves, Substitute), so that the page knows
// which widgets to run again when an input changes and the editor can rename a widget and
// carry its references along.
//
// A reference is `@` at the start of a prompt or after a character that is not a letter, digit
// or '_', followed by the longest widget title that matches, compared case-insensitively
// (ASCII letters only; every character at or above U+0080 counts as a letter, as the C++ treats
// bytes >= 0x80). `@` followed by a word that names no widget is a missing reference.
import type { AppDefinition, Widget, WidgetType } from './types';
import { MAX_TITLE_BYTES } from './types';

export interface Reference {
  /** Of the '@', in UTF-16 code units. */
  offset: number;
  /** '@' and the title as written. */
  length: number;
  /** "" for a missing reference. */
  widgetId: string;
  /** The title as written (for a missing one: the word after '@'). */
  written: string;
}

type Titled = Pick<Widget, 'id' | 'title'>;
type Def = { widgets: readonly (Titled & Partial<Pick<Widget, 'type' | 'prompt'>>)[] };

/** Letters, digits and '_' (and everything at or above U+0080). */
export function isWordChar(c: string): boolean {
  const code = c.charCodeAt(0);
  return (
    code >= 0x80 ||
    (code >= 0x30 && code <= 0x39) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0x5f
  );
}

/** ASCII-only lower case (the C++ compares bytes, folding A-Z only). */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

export function utf8Bytes(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** Whether `text` at `at` starts with `title`, ASCII case-insensitively. */
function matchesAt(text: string, at: number, title: string): boolean {
  if (title === '' || at + title.length > text.length) return false;
  return asciiLower(text.slice(at, at + title.length)) === asciiLower(title);
}

export function findReferences(prompt: string, def: Def): Reference[] {
  const refs: Reference[] = [];
  // Longest titles first, so the first match is the longest one.
  const byLength = [...def.widgets].filter((w) => w.title !== '').sort((a, b) => b.title.length - a.title.length);
  let i = 0;
  while (i < prompt.length) {
    if (prompt[i] !== '@' || (i > 0 && isWordChar(prompt[i - 1]))) {
      i++;
      continue;
    }
    const w = byLength.find((x) => matchesAt(prompt, i + 1, x.title));
    if (w) {
      refs.push({ offset: i, length: 1 + w.title.length, widgetId: w.id, written: prompt.slice(i + 1, i + 1 + w.title.length) });
      i += 1 + w.title.length;
      continue;
    }
    let j = i + 1;
    while (j < prompt.length && isWordChar(prompt[j])) j++;
    if (j > i + 1) {
      refs.push({ offset: i, length: j - i, widgetId: '', written: prompt.slice(i + 1, j) });
      i = j;
    } else {
      i++;
    }
  }
  return refs;
}

/** Widget types whose value another widget may reference. */
export const REFERENCEABLE: ReadonlySet<WidgetType> = new Set<WidgetType>(['user-input', 'static-text', 'document', 'text-generation']);
/** Widget types that run (a model call). */
export const RUNNABLE: ReadonlySet<WidgetType> = new Set<WidgetType>(['text-generation', 'image-generation', 'chatbot']);
export const hasPrompt = (t: WidgetType | undefined) => !!t && RUNNABLE.has(t);

export type TitleError = 'empty' | 'tooLong' | 'notOneLine' | 'duplicate' | 'notFound';

/** Why `title` cannot be the title of widget `id`, or null: as RenameWidget, one line of 1 to
 *  60 characters (code points) without spaces at either end, unique case-insensitively. */
export function checkTitle(def: Def, id: string, title: string): TitleError | null {
  if (!def.widgets.some((w) => w.id === id)) return 'notFound';
  if (title === '') return 'empty';
  if ([...title].length > MAX_TITLE_BYTES) return 'tooLong';
  // eslint-disable-next-line no-control-regex
  if (title.startsWith(' ') || title.endsWith(' ') || /[\u0000-\u001f\u007f]/.test(title)) return 'notOneLine';
  const lower = asciiLower(title);
  if (def.widgets.some((w) => w.id !== id && asciiLower(w.title) === lower)) return 'duplicate';
  return null;
}

/** Renames widget `id` and rewrites every reference to it in every prompt; returns a new
 *  definition, or the reason it cannot. */
export function renameWidget<D extends AppDefinition>(def: D, id: string, title: string): { def: D } | { error: TitleError } {
  const err = checkTitle(def, id, title);
  if (err) return { error: err };
  const widgets = def.widgets.map((w) => {
    if (w.prompt === undefined || w.prompt === '') return w;
    const refs = findReferences(w.prompt, def).filter((r) => r.widgetId === id);
    if (refs.length === 0) return w;
    let out = '';
    let at = 0;
    for (const r of refs) {
      out += w.prompt.slice(at, r.offset) + '@' + title;
      at = r.offset + r.length;
    }
    return { ...w, prompt: out + w.prompt.slice(at) };
  });
  return { def: { ...def, widgets: widgets.map((w) => (w.id === id ? { ...w, title } : w)) } };
}

/** The widgets each widget depends on (directly), by id. */
export function dependencies(def: Def): Map<string, Set<string>> {
  const deps = new Map<string, Set<string>>();
  for (const w of def.widgets) {
    const s = new Set<string>();
    if (hasPrompt(w.type) && w.prompt) {
      for (const r of findReferences(w.prompt, def)) if (r.widgetId) s.add(r.widgetId);
    }
    deps.set(w.id, s);
  }
  return deps;
}

/** The wave of every runnable widget: 0 when it needs no other runnable widget, else one more
 *  than the latest wave among the runnable widgets it references (a cycle, which Validate
 *  refuses, is cut where the walk meets it). */
function waveIndex(def: Def, deps: Map<string, Set<string>>): Map<string, number> {
  const byId = new Map(def.widgets.map((w) => [w.id, w]));
  const index = new Map<string, number>();
  const visiting = new Set<string>();
  const level = (id: string): number => {
    const known = index.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return -1;
    visiting.add(id);
    let wave = 0;
    for (const d of deps.get(id) ?? []) if (hasPrompt(byId.get(d)?.type)) wave = Math.max(wave, level(d) + 1);
    visiting.delete(id);
    index.set(id, wave);
    return wave;
  };
  for (const w of def.widgets) if (hasPrompt(w.type)) level(w.id);
  return index;
}

function toWaves(def: Def, index: Map<string, number>, only: Set<string> | null): string[][] {
  const waves: string[][] = [];
  for (const w of def.widgets) {
    if (!hasPrompt(w.type) || (only && !only.has(w.id))) continue;
    const l = index.get(w.id)!;
    while (waves.length <= l) waves.push([]);
    waves[l].push(w.id);
  }
  return waves.filter((x) => x.length > 0);
}

/** Every runnable widget in waves: a widget's dependencies are in earlier waves; widgets of
 *  one wave run at the same time. */
export function runWaves(def: Def): string[][] {
  return toWaves(def, waveIndex(def, dependencies(def)), null);
}

/** The runnable widgets that must run again when the widgets `changed` change (all that
 *  depend on them, directly or not), in the waves of a whole run (empty ones dropped). */
export function affectedWaves(def: Def, changed: Iterable<string>): string[][] {
  const deps = dependencies(def);
  const dependents = new Map<string, string[]>();
  for (const [id, ds] of deps) for (const d of ds) dependents.set(d, [...(dependents.get(d) ?? []), id]);
  const hit = new Set<string>();
  const stack = [...changed];
  while (stack.length) {
    const id = stack.pop()!;
    for (const n of dependents.get(id) ?? []) {
      if (!hit.has(n)) {
        hit.add(n);
        stack.push(n);
      }
    }
  }
  return toWaves(def, waveIndex(def, deps), hit);
}

/** The prompt with every reference replaced by values[widgetId] ("" when absent); a missing
 *  reference stays as written. */
export function substitute(prompt: string, def: Def, values: Record<string, string>): string {
  let out = '';
  let at = 0;
  for (const r of findReferences(prompt, def)) {
    if (!r.widgetId) continue;
    out += prompt.slice(at, r.offset) + (values[r.widgetId] ?? '');
    at = r.offset + r.length;
  }
  return out + prompt.slice(at);
}

/** The `@` word being typed at `caret` (for autocomplete): its start and the text so far. */
export function referenceAtCaret(text: string, caret: number): { start: number; query: string } | null {
  let i = caret - 1;
  while (i >= 0 && text[i] !== '@' && text[i] !== '\n' && caret - i <= MAX_TITLE_BYTES + 1) i--;
  if (i < 0 || text[i] !== '@' || (i > 0 && isWordChar(text[i - 1]))) return null;
  return { start: i, query: text.slice(i + 1, caret) };
}

/** The widgets a prompt of widget `selfId` may reference whose title starts with (or
 *  contains) `query`, ASCII case-insensitively. */
export function referenceCandidates(def: Def, selfId: string, query: string): (Titled & { type?: WidgetType })[] {
  const q = asciiLower(query);
  const ok = def.widgets.filter((w) => w.id !== selfId && w.type && REFERENCEABLE.has(w.type));
  const starts = ok.filter((w) => asciiLower(w.title).startsWith(q));
  const contains = ok.filter((w) => !asciiLower(w.title).startsWith(q) && asciiLower(w.title).includes(q));
  return [...starts, ...contains];
}
