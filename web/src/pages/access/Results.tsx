import { useEffect, useRef } from 'react';
import { Alert } from '../../components';
import type { RequestResult } from './useRequestAccess';

/** The outcome of an access request; focus moves here so keyboard and screen reader users
 *  hear it (the button they pressed may be gone). */
export function RequestResults({ results, onDismiss }: { results: RequestResult[]; onDismiss: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (results.length) ref.current?.focus();
  }, [results]);
  if (!results.length) return null;
  return (
    <div ref={ref} tabIndex={-1} className="stack request-results">
      {results.map((r, i) => (
        <Alert key={i} tone={r.tone} onDismiss={onDismiss}>
          {r.message}
        </Alert>
      ))}
    </div>
  );
}
