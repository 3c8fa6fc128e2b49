import { useState, type ReactNode } from 'react';
import { ApiError } from '../../api/client';
import type { CatalogModel } from '../../api/types';
import { useT } from '../../i18n';
import { fetchCatalog, getUseCase, requestModelAccess, type UseCaseForm } from './access';
import { UseCaseDialog } from './UseCaseDialog';
import { accessStrings } from './strings';

export interface RequestResult {
  tone: 'success' | 'info' | 'error';
  message: string;
}

/** The access request flow: the Anthropic use-case form first when a model needs it and the
 *  account has none, then an agreement per model; results say granted, pending or why not. */
export function useRequestAccess(onChanged: () => void): {
  request: (models: CatalogModel[]) => Promise<void>;
  busy: boolean;
  /** The models being requested now. */
  active: string[];
  results: RequestResult[];
  clearResults: () => void;
  dialog: ReactNode;
} {
  const t = useT(accessStrings);
  const [busy, setBusy] = useState(false);
  const [active, setActive] = useState<string[]>([]);
  const [results, setResults] = useState<RequestResult[]>([]);
  const [pending, setPending] = useState<CatalogModel[] | null>(null);
  const [initial, setInitial] = useState<UseCaseForm | null>(null);

  const msg = (e: unknown) => (e instanceof ApiError || e instanceof Error ? e.message : String(e));

  const run = async (models: CatalogModel[]) => {
    setBusy(true);
    setActive(models.map((m) => m.modelId));
    const out: RequestResult[] = [];
    const done: string[] = [];
    for (const m of models) {
      try {
        await requestModelAccess(m.modelId);
        done.push(m.modelId);
      } catch (e) {
        out.push({ tone: 'error', message: t('requestFailed', { model: m.modelName || m.modelId, message: msg(e) }) });
      }
    }
    if (done.length) {
      const granted: string[] = [];
      const waiting: string[] = [];
      try {
        const cat = await fetchCatalog();
        for (const id of done) {
          const m = cat.models.find((x) => x.modelId === id);
          const name = m?.modelName || id;
          (m?.access === 'GRANTED' ? granted : waiting).push(name);
        }
      } catch {
        waiting.push(...done);
      }
      if (granted.length) out.unshift({ tone: 'success', message: t('requestedGranted', { models: granted.join(', ') }) });
      if (waiting.length) out.unshift({ tone: 'info', message: t('requestedPending', { models: waiting.join(', ') }) });
    }
    setResults(out);
    setBusy(false);
    setActive([]);
    onChanged();
  };

  const request = async (models: CatalogModel[]) => {
    if (!models.length || busy) return;
    setResults([]);
    if (models.some((m) => m.useCaseRequired)) {
      setBusy(true);
      let form: UseCaseForm | null;
      try {
        form = await getUseCase();
      } catch (e) {
        setBusy(false);
        setResults([{ tone: 'error', message: msg(e) }]);
        return;
      }
      setBusy(false);
      if (!form) {
        setInitial(null);
        setPending(models);
        return;
      }
    }
    await run(models);
  };

  const dialog = (
    <UseCaseDialog
      open={pending !== null}
      initial={initial}
      submitLabel={t('useCaseSubmitAndRequest')}
      onClose={() => setPending(null)}
      onSaved={() => {
        const ms = pending ?? [];
        setPending(null);
        void run(ms);
      }}
    />
  );

  return { request, busy, active, results, clearResults: () => setResults([]), dialog };
}
