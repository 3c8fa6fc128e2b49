import { useState, type ReactNode } from 'react';
import { ApiError } from '../../api/client';
import { Alert, FormDialog } from '../../components';

/** A confirmation for destructive actions: the action runs from the dialog, and an API error
 *  is shown in it (its message as is) instead of closing. */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  onConfirm,
  onClose,
}: {
  open: boolean;
  title: ReactNode;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const close = () => {
    if (busy) return;
    setError(null);
    onClose();
  };
  return (
    <FormDialog
      open={open}
      onClose={close}
      title={title}
      size="sm"
      onSubmit={async () => {
        setBusy(true);
        setError(null);
        try {
          await onConfirm();
          setBusy(false);
          onClose();
        } catch (e) {
          setBusy(false);
          setError(e instanceof ApiError ? e.message : String(e));
        }
      }}
      submitLabel={confirmLabel}
      submitVariant="danger"
      busy={busy}
    >
      <div className="stack">
        <div>{children}</div>
        {error && <Alert tone="error">{error}</Alert>}
      </div>
    </FormDialog>
  );
}
