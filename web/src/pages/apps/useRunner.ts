// Running an app from the page: input values, uploaded documents, streamed runs (a newer run of
// a widget supersedes an older one), re-running the widgets that depend on a changed input,
// chatbots, and stop.
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from '../../api/client';
import { isAbort } from '../playground/converse';
import { documentMediaType, DOCUMENT_TYPES, stopRun, streamChat, streamRun, uploadDocument, type AppRef, type RunInputs } from './api';
import { affectedWaves } from './refs';
import { RUNS_IN_A_RUN, runnableIds, withMissingUpstream } from './runplan';
import type { AppDefinition, RunEvent, RunUsage, Widget } from './types';
import { IDLE, type ChatTurn, type DocState, type WidgetOutput } from './Widgets';

export type RunNotice = { tone: 'success' | 'error' | 'info'; text: string; usage?: RunUsage } | null;

interface ActiveRun {
  ctl: AbortController;
  runId?: string;
  widgets: Set<string>;
}

export function useRunner(ref: AppRef, def: AppDefinition | undefined) {
  const [values, setValues] = useState<Record<string, string>>({});
  const [docs, setDocs] = useState<Record<string, DocState>>({});
  const [outputs, setOutputs] = useState<Record<string, WidgetOutput>>({});
  const [chats, setChats] = useState<Record<string, ChatTurn[]>>({});
  const [active, setActive] = useState(0);
  const [notice, setNotice] = useState<RunNotice>(null);
  const runs = useRef(new Map<number, ActiveRun>());
  const owner = useRef(new Map<string, number>());
  const seq = useRef(0);
  const committed = useRef<Record<string, string>>({});
  const chatCtl = useRef(new Map<string, { ctl: AbortController; runId?: string }>());
  const latest = useRef({ def, values, docs, outputs });
  latest.current = { def, values, docs, outputs };

  // Inputs start at their defaults (again whenever the definition changes them).
  useEffect(() => {
    if (!def) return;
    setValues((prev) => {
      const next: Record<string, string> = {};
      for (const w of def.widgets) if (w.type === 'user-input') next[w.id] = prev[w.id] ?? w.default ?? '';
      for (const [k, v] of Object.entries(next)) if (committed.current[k] === undefined) committed.current[k] = v;
      return next;
    });
  }, [def]);

  useEffect(() => {
    const r = runs.current;
    const c = chatCtl.current;
    return () => {
      r.forEach((x) => x.ctl.abort());
      c.forEach((x) => x.ctl.abort());
    };
  }, []);

  const setOut = useCallback((id: string, fn: (o: WidgetOutput) => WidgetOutput) => {
    setOutputs((prev) => ({ ...prev, [id]: fn(prev[id] ?? IDLE) }));
  }, []);

  /** The values a run needs: inputs, documents, and the text of generations not run now. */
  const inputsFor = useCallback((skip: Set<string>): RunInputs => {
    const { def: d, values: v, docs: ds, outputs: o } = latest.current;
    const inputs: RunInputs = {};
    for (const w of d?.widgets ?? []) {
      if (w.type === 'user-input') inputs[w.id] = v[w.id] ?? w.default ?? '';
      else if (w.type === 'document' && ds[w.id]?.doc) inputs[w.id] = { documentId: ds[w.id].doc!.documentId };
      else if (w.type === 'text-generation' && !skip.has(w.id) && o[w.id]?.text) inputs[w.id] = o[w.id].text;
    }
    return inputs;
  }, []);

  const finishRun = useCallback((n: number, fallback: WidgetOutput['status'], error?: { type: string; message: string }) => {
    const r = runs.current.get(n);
    if (!r) return;
    runs.current.delete(n);
    setActive(runs.current.size);
    // Widgets this run still owns and never ended: stopped, or failed with the run's error.
    for (const id of r.widgets) {
      if (owner.current.get(id) !== n) continue;
      setOut(id, (o) => (o.status === 'queued' || o.status === 'running' ? { ...o, status: fallback, error: error ?? o.error } : o));
    }
  }, [setOut]);

  const onEvent = useCallback((n: number, e: RunEvent) => {
    const r = runs.current.get(n);
    const mine = (id: string) => owner.current.get(id) === n;
    switch (e.event) {
      case 'run':
        if (r) r.runId = e.runId;
        break;
      case 'widget-start':
        if (mine(e.widgetId)) setOut(e.widgetId, (o) => ({ ...o, status: 'running' }));
        break;
      case 'delta':
        if (mine(e.widgetId)) setOut(e.widgetId, (o) => ({ ...o, status: 'running', text: o.text + e.text }));
        break;
      case 'image':
        if (mine(e.widgetId)) setOut(e.widgetId, (o) => ({ ...o, images: [...o.images, ...e.images] }));
        break;
      case 'widget-end':
        if (mine(e.widgetId)) setOut(e.widgetId, (o) => ({ ...o, status: e.status, usage: e.usage, error: e.error }));
        break;
      case 'done':
        // Only the newest run speaks: an older one ends quietly (superseded or not).
        if (n !== seq.current || e.status === 'superseded') break;
        if (e.status === 'stopped') setNotice({ tone: 'info', text: 'stopped' });
        else setNotice({ tone: e.status === 'failed' ? 'error' : 'success', text: 'done', usage: e.usage });
        break;
      case 'error':
        setNotice({ tone: 'error', text: e.message || e.type });
        finishRun(n, 'failed', { type: e.type, message: e.message });
        break;
    }
  }, [setOut, finishRun]);

  /** Runs `widgets` (every text and image generation when absent). */
  const run = useCallback((widgets?: string[]) => {
    const d = latest.current.def;
    if (!d) return;
    const targets = widgets ?? runnableIds(d);
    if (targets.length === 0) return;
    // A whole run takes every input as it is now.
    if (!widgets) committed.current = { ...latest.current.values };
    const n = ++seq.current;
    for (const id of targets) {
      owner.current.set(id, n);
      setOut(id, () => ({ status: 'queued', text: '', images: [] }));
    }
    // An older run all of whose widgets this one takes over is no longer needed.
    for (const [m, r] of runs.current) {
      if ([...r.widgets].every((id) => owner.current.get(id) !== m)) {
        runs.current.delete(m);
        r.ctl.abort();
      }
    }
    const ctl = new AbortController();
    runs.current.set(n, { ctl, widgets: new Set(targets) });
    setActive(runs.current.size);
    setNotice(null);
    const set = new Set(targets);
    streamRun(ref, { inputs: inputsFor(set), widgets: widgets ? targets : undefined }, ctl.signal, (e) => onEvent(n, e))
      .then(() => finishRun(n, 'failed', { type: 'InternalServerException', message: 'The run ended without a result for this widget.' }))
      .catch((e: unknown) => {
        if (isAbort(e)) finishRun(n, 'stopped');
        else {
          const message = e instanceof ApiError ? e.message : String(e);
          setNotice({ tone: 'error', text: message });
          finishRun(n, 'failed', { type: e instanceof ApiError ? e.type : 'Error', message });
        }
      });
  }, [ref, inputsFor, onEvent, finishRun, setOut]);

  /** Runs again what depends on the widgets `changed` (and what those need but never ran). */
  const rerunFor = useCallback((changed: string[]) => {
    const d = latest.current.def;
    if (!d) return;
    const affected = affectedWaves(d, changed).flat().filter((id) => RUNS_IN_A_RUN.has(d.widgets.find((w) => w.id === id)!.type));
    if (affected.length === 0) return;
    const o = latest.current.outputs;
    run(withMissingUpstream(d, affected, (id) => o[id]?.status === 'succeeded'));
  }, [run]);

  const setValue = useCallback((id: string, v: string) => setValues((prev) => ({ ...prev, [id]: v })), []);

  /** An input's value is final (blur, Enter, a pause in typing): run its dependents if it changed. */
  const commitValue = useCallback((id: string) => {
    const v = latest.current.values[id] ?? '';
    if (committed.current[id] === v) return;
    committed.current[id] = v;
    rerunFor([id]);
  }, [rerunFor]);

  const upload = useCallback(async (w: Widget, file: File, unsupported: string) => {
    if (!DOCUMENT_TYPES.has(documentMediaType(file))) {
      setDocs((prev) => ({ ...prev, [w.id]: { ...prev[w.id], uploading: undefined, error: unsupported } }));
      return;
    }
    setDocs((prev) => ({ ...prev, [w.id]: { ...prev[w.id], uploading: file.name, error: undefined } }));
    try {
      const doc = await uploadDocument(file);
      setDocs((prev) => ({ ...prev, [w.id]: { doc } }));
      latest.current.docs = { ...latest.current.docs, [w.id]: { doc } };
      rerunFor([w.id]);
    } catch (e) {
      const message = e instanceof ApiError ? e.message : String(e);
      setDocs((prev) => ({ ...prev, [w.id]: { ...prev[w.id], uploading: undefined, error: message } }));
    }
  }, [rerunFor]);

  const clearDoc = useCallback((id: string) => setDocs((prev) => ({ ...prev, [id]: {} })), []);

  const stop = useCallback(() => {
    for (const [n, r] of runs.current) {
      if (r.runId) void stopRun(r.runId).catch(() => undefined);
      r.ctl.abort();
      finishRun(n, 'stopped');
    }
    for (const [, c] of chatCtl.current) {
      if (c.runId) void stopRun(c.runId).catch(() => undefined);
      c.ctl.abort();
    }
  }, [finishRun]);

  const setLastTurn = useCallback((id: string, fn: (t: ChatTurn) => ChatTurn) => {
    setChats((prev) => {
      const turns = prev[id] ?? [];
      if (turns.length === 0) return prev;
      return { ...prev, [id]: [...turns.slice(0, -1), fn(turns[turns.length - 1])] };
    });
  }, []);

  const chat = useCallback((w: Widget, text: string, history: ChatTurn[]) => {
    const messages = [
      ...history.filter((x) => x.status !== 'error' && x.content !== '').map((x) => ({ role: x.role, content: x.content })),
      { role: 'user' as const, content: text },
    ];
    // Keep roles alternating: drop a user turn whose reply failed.
    const clean: typeof messages = [];
    for (const m of messages) {
      if (clean.length && clean[clean.length - 1].role === m.role) clean.pop();
      clean.push(m);
    }
    setChats((prev) => ({
      ...prev,
      [w.id]: [...(prev[w.id] ?? []), { role: 'user', content: text }, { role: 'assistant', content: '', status: 'streaming' }],
    }));
    const ctl = new AbortController();
    const entry: { ctl: AbortController; runId?: string } = { ctl };
    chatCtl.current.set(w.id, entry);
    streamChat(ref, { widgetId: w.id, inputs: inputsFor(new Set()), messages: clean }, ctl.signal, (e) => {
      if (e.event === 'run') entry.runId = e.runId;
      else if (e.event === 'delta') setLastTurn(w.id, (x) => ({ ...x, content: x.content + e.text }));
      else if (e.event === 'widget-end')
        setLastTurn(w.id, (x) => ({
          ...x,
          status: e.status === 'succeeded' ? 'done' : e.status === 'stopped' || e.status === 'superseded' ? 'stopped' : 'error',
          error: e.error?.message,
          usage: e.usage,
        }));
      else if (e.event === 'error') setLastTurn(w.id, (x) => ({ ...x, status: 'error', error: e.message || e.type }));
    })
      .then(() => setLastTurn(w.id, (x) => (x.status === 'streaming' ? { ...x, status: 'done' } : x)))
      .catch((e: unknown) =>
        setLastTurn(w.id, (x) =>
          isAbort(e) ? { ...x, status: 'stopped' } : { ...x, status: 'error', error: e instanceof ApiError ? e.message : String(e) },
        ),
      )
      .finally(() => {
        if (chatCtl.current.get(w.id) === entry) chatCtl.current.delete(w.id);
      });
  }, [ref, inputsFor, setLastTurn]);

  const stopChat = useCallback((id: string) => {
    const c = chatCtl.current.get(id);
    if (!c) return;
    if (c.runId) void stopRun(c.runId).catch(() => undefined);
    c.ctl.abort();
  }, []);

  const clearChat = useCallback((id: string) => setChats((prev) => ({ ...prev, [id]: [] })), []);

  const chatting = Object.values(chats).some((turns) => turns.some((x) => x.status === 'streaming'));

  return {
    values,
    setValue,
    commitValue,
    docs,
    upload,
    clearDoc,
    outputs,
    chats,
    chat,
    stopChat,
    clearChat,
    run,
    stop,
    running: active > 0 || chatting,
    runsActive: active > 0,
    notice,
    setNotice,
  };
}
