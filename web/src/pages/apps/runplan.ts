// Which widgets a run runs: every text and image generation (chatbots run in their own
// conversations), and for a partial run the text generations it needs that never ran.
import { dependencies } from './refs';
import type { AppDefinition } from './types';

export const RUNS_IN_A_RUN: ReadonlySet<string> = new Set(['text-generation', 'image-generation']);

export const runnableIds = (def: AppDefinition) => def.widgets.filter((w) => RUNS_IN_A_RUN.has(w.type)).map((w) => w.id);

/** The widgets to run when `targets` run: they, and every text generation they need (directly
 *  or not) that has no output yet. */
export function withMissingUpstream(def: AppDefinition, targets: string[], hasOutput: (id: string) => boolean): string[] {
  const deps = dependencies(def);
  const byId = new Map(def.widgets.map((w) => [w.id, w]));
  const out = new Set(targets);
  const stack = [...targets];
  while (stack.length) {
    for (const d of deps.get(stack.pop()!) ?? []) {
      if (!out.has(d) && byId.get(d)?.type === 'text-generation' && !hasOutput(d)) {
        out.add(d);
        stack.push(d);
      }
    }
  }
  return def.widgets.filter((w) => out.has(w.id)).map((w) => w.id);
}
