import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from './client';

export interface ApiState<T> {
  data: T | undefined;
  error: ApiError | null;
  loading: boolean;
  /** Loads again; the current data stays while it runs. */
  reload: () => Promise<void>;
}

/** Runs `load` on mount and whenever `deps` change; the latest answer wins. */
export function useApi<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[] = []): ApiState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const ctrl = useRef<AbortController | null>(null);

  const run = useCallback(async () => {
    const n = ++seq.current;
    ctrl.current?.abort();
    const c = new AbortController();
    ctrl.current = c;
    setLoading(true);
    try {
      const d = await load(c.signal);
      if (n === seq.current) {
        setData(d);
        setError(null);
      }
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      if (n === seq.current) setError(e instanceof ApiError ? e : new ApiError(0, '', String(e)));
    } finally {
      if (n === seq.current) setLoading(false);
    }
  }, deps);

  useEffect(() => {
    void run();
    return () => ctrl.current?.abort();
  }, [run]);

  return { data, error, loading, reload: run };
}
