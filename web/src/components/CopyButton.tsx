import { useEffect, useRef, useState } from 'react';
import { useT } from '../i18n';
import { common } from '../i18n/strings';
import { Icon } from './Icon';

/** Copies text to the clipboard; falls back to a hidden textarea where the Clipboard API is
 *  missing (plain-HTTP origins other than localhost). */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall through */
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

export function CopyButton({
  text,
  what,
  label,
  size = 'sm',
  variant = 'normal',
}: {
  text: string;
  /** What is copied, for the accessible name: "Copy {what}". */
  what?: string;
  /** Visible label (default "Copy"). */
  label?: string;
  size?: 'sm' | 'md';
  variant?: 'normal' | 'icon';
}) {
  const t = useT(common);
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const onClick = async () => {
    const ok = await copyText(text);
    setState(ok ? 'copied' : 'failed');
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => setState('idle'), 2000);
  };
  const visible = state === 'copied' ? t('copied') : state === 'failed' ? t('copyFailed') : (label ?? t('copy'));
  return (
    <button
      type="button"
      className={`btn btn-${variant === 'icon' ? 'icon' : 'normal'} ${size === 'sm' ? 'btn-sm' : ''} copy-btn`}
      onClick={onClick}
      aria-label={what ? t('copyLabel', { what }) : undefined}
    >
      <Icon name={state === 'copied' ? 'check' : 'copy'} size={14} />
      <span aria-live="polite">{visible}</span>
    </button>
  );
}
