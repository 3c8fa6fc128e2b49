import { useEffect, useId, useRef, type ReactNode } from 'react';
import { useT } from '../i18n';
import { common } from '../i18n/strings';
import { Button } from './Button';

export interface DialogProps {
  open: boolean;
  onClose: () => void;
  title: ReactNode;
  children: ReactNode;
  footer?: ReactNode;
  size?: 'sm' | 'md' | 'lg';
  /** Wrap the body in a <form>; Enter submits. */
  onSubmit?: () => void;
}

/** A modal dialog on the native <dialog>: the page behind is inert (focus stays inside),
 *  Escape closes it, and focus returns to where it was. */
export function Dialog({ open, onClose, title, children, footer, size = 'md', onSubmit }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const t = useT(common);
  const returnTo = useRef<HTMLElement | null>(null);

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      returnTo.current = document.activeElement as HTMLElement | null;
      d.showModal();
    } else if (!open && d.open) {
      d.close();
      returnTo.current?.focus?.();
    }
  }, [open]);

  useEffect(() => {
    const d = ref.current;
    return () => {
      if (d?.open) d.close();
    };
  }, []);

  const body = (
    <>
      <div className="dialog-header">
        <h2 id={titleId} className="dialog-title">
          {title}
        </h2>
        <button type="button" className="btn btn-icon" onClick={onClose} aria-label={t('close')}>
          ×
        </button>
      </div>
      <div className="dialog-body">{children}</div>
      {footer && <div className="dialog-footer">{footer}</div>}
    </>
  );

  return (
    <dialog
      ref={ref}
      className={`dialog dialog-${size}`}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      onClick={(e) => {
        if (e.target === ref.current) onClose(); // backdrop click
      }}
    >
      {open &&
        (onSubmit ? (
          <form
            className="dialog-form"
            onSubmit={(e) => {
              e.preventDefault();
              onSubmit();
            }}
          >
            {body}
          </form>
        ) : (
          body
        ))}
    </dialog>
  );
}

export interface FormDialogProps extends Omit<DialogProps, 'footer' | 'onSubmit'> {
  onSubmit: () => void;
  submitLabel: ReactNode;
  submitVariant?: 'primary' | 'danger';
  /** While the action runs: the submit button spins and Cancel is off. */
  busy: boolean;
}

/** A dialog holding a form, with Cancel and a submit button in its footer. */
export function FormDialog({ submitLabel, submitVariant = 'primary', busy, ...props }: FormDialogProps) {
  const t = useT(common);
  return (
    <Dialog
      {...props}
      footer={
        <>
          <Button onClick={props.onClose} disabled={busy}>
            {t('cancel')}
          </Button>
          <Button type="submit" variant={submitVariant} loading={busy}>
            {submitLabel}
          </Button>
        </>
      }
    />
  );
}
