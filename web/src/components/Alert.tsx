import type { ReactNode } from 'react';
import { useT } from '../i18n';
import { common } from '../i18n/strings';
import type { Tone } from './Badge';
import { Button } from './Button';

export interface AlertProps {
  tone?: Exclude<Tone, 'neutral'>;
  title?: ReactNode;
  children?: ReactNode;
  action?: ReactNode;
  onDismiss?: () => void;
  /** Announce on appearance (role=alert for errors, role=status otherwise). Default true. */
  live?: boolean;
  className?: string;
}

const ICON: Record<string, string> = { info: 'i', success: '✓', warning: '!', error: '!' };

export function Alert({ tone = 'info', title, children, action, onDismiss, live = true, className }: AlertProps) {
  const t = useT(common);
  const role = live ? (tone === 'error' ? 'alert' : 'status') : undefined;
  return (
    <div className={`alert alert-${tone} ${className ?? ''}`} role={role}>
      <span className="alert-icon" aria-hidden="true">
        {ICON[tone]}
      </span>
      <div className="alert-content">
        {title && <div className="alert-title">{title}</div>}
        {children && <div className="alert-body">{children}</div>}
      </div>
      {action && <div className="alert-action">{action}</div>}
      {onDismiss && (
        <button type="button" className="btn btn-icon alert-dismiss" onClick={onDismiss} aria-label={t('dismiss')}>
          ×
        </button>
      )}
    </div>
  );
}

/** The outcome of an action, shown above a page's content until dismissed. */
export type Notice = { tone: 'success' | 'error' | 'info'; text: string } | null;

export function NoticeAlert({ notice, onDismiss }: { notice: Notice; onDismiss: () => void }) {
  if (!notice) return null;
  return (
    <Alert tone={notice.tone} onDismiss={onDismiss}>
      {notice.text}
    </Alert>
  );
}

/** Data that failed to load, with a button to try again (labelled Retry unless told). */
export function LoadFailedAlert({
  title,
  error,
  onRetry,
  retryLabel,
}: {
  title: ReactNode;
  error: Error;
  onRetry: () => void;
  retryLabel?: ReactNode;
}) {
  const t = useT(common);
  return (
    <Alert tone="error" title={title} action={<Button onClick={onRetry}>{retryLabel ?? t('retry')}</Button>}>
      {error.message}
    </Alert>
  );
}
