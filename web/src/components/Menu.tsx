import { useEffect, useId, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';

export interface MenuItem {
  key: string;
  label: ReactNode;
  onSelect: () => void;
  /** For radio-style menus (e.g. language). */
  checked?: boolean;
  lang?: string;
}

/** A menu button: Enter/Space/ArrowDown opens, arrows move, Escape closes and returns focus. */
export function MenuButton({
  label,
  ariaLabel,
  items,
  header,
  className,
  align = 'end',
}: {
  label: ReactNode;
  ariaLabel: string;
  items: MenuItem[];
  header?: ReactNode;
  className?: string;
  align?: 'start' | 'end';
}) {
  const [open, setOpen] = useState(false);
  const id = useId();
  const btn = useRef<HTMLButtonElement>(null);
  const list = useRef<HTMLDivElement>(null);
  const radio = items.some((i) => i.checked !== undefined);

  const focusItem = (i: number) => {
    const els = list.current?.querySelectorAll<HTMLElement>('[role^="menuitem"]');
    if (!els || els.length === 0) return;
    els[(i + els.length) % els.length].focus();
  };

  useEffect(() => {
    if (!open) return;
    const onDoc = (e: MouseEvent) => {
      const pop = list.current?.parentElement;
      if (!pop?.contains(e.target as Node) && !btn.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', onDoc);
    return () => document.removeEventListener('mousedown', onDoc);
  }, [open]);

  useEffect(() => {
    if (open) requestAnimationFrame(() => focusItem(Math.max(0, items.findIndex((i) => i.checked))));
  }, [open]);

  const close = (refocus = true) => {
    setOpen(false);
    if (refocus) btn.current?.focus();
  };

  const onListKey = (e: KeyboardEvent) => {
    const els = Array.from(list.current?.querySelectorAll<HTMLElement>('[role^="menuitem"]') ?? []);
    const cur = els.indexOf(document.activeElement as HTMLElement);
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      focusItem(cur + 1);
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      focusItem(cur - 1);
    } else if (e.key === 'Home') {
      e.preventDefault();
      focusItem(0);
    } else if (e.key === 'End') {
      e.preventDefault();
      focusItem(els.length - 1);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      close();
    } else if (e.key === 'Tab') {
      close(false);
    }
  };

  return (
    <div className={`menu ${className ?? ''}`}>
      <button
        ref={btn}
        type="button"
        className="menu-button"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? `${id}-menu` : undefined}
        aria-label={ariaLabel}
        onClick={() => setOpen((o) => !o)}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown' && !open) {
            e.preventDefault();
            setOpen(true);
          }
        }}
      >
        {label}
        <span className="menu-caret" aria-hidden="true">
          ▾
        </span>
      </button>
      {open && (
        <div className={`menu-list menu-${align}`}>
          {header && <div className="menu-header">{header}</div>}
          <div ref={list} id={`${id}-menu`} role="menu" aria-label={ariaLabel} onKeyDown={onListKey}>
            {items.map((it) => (
              <button
                key={it.key}
                type="button"
                role={radio ? 'menuitemradio' : 'menuitem'}
                aria-checked={radio ? !!it.checked : undefined}
                tabIndex={-1}
                lang={it.lang}
                className="menu-item"
                onClick={() => {
                  close();
                  it.onSelect();
                }}
              >
                {radio && (
                  <span className="menu-check" aria-hidden="true">
                    {it.checked ? '✓' : ''}
                  </span>
                )}
                {it.label}
              </button>
            ))}
          </div>
        </div>
      )}
    </div>
  );
}
