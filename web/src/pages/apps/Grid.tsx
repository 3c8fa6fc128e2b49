// The app's widgets on a 12-column grid by their layout. In edit mode a widget is selected with
// a click or Tab, moved by dragging its header or with the arrow keys, and resized by dragging
// its corner or with Shift+arrow keys; a move onto another widget is refused.
import { useRef, useState, type KeyboardEvent, type PointerEvent, type ReactNode } from 'react';
import { useT } from '../../i18n';
import { clampLayout, fits, nudge, readingOrder } from './layout';
import { findReferences } from './refs';
import { appStrings } from './strings';
import type { AppDefinition, Layout, Widget } from './types';

export const ROW_PX = 52;
export const GAP_PX = 12;

interface Drag {
  id: string;
  mode: 'move' | 'resize';
  x0: number;
  y0: number;
  start: Layout;
  colPx: number;
}

export function Grid({
  def,
  editing,
  selected,
  onSelect,
  onLayout,
  onAnnounce,
  errorWidget,
  renderWidget,
}: {
  def: AppDefinition;
  editing: boolean;
  selected: string | null;
  onSelect: (id: string) => void;
  onLayout: (id: string, l: Layout) => void;
  onAnnounce: (text: string) => void;
  errorWidget: { id: string; message: string } | null;
  renderWidget: (w: Widget, headingId: string) => ReactNode;
}) {
  const t = useT(appStrings);
  const grid = useRef<HTMLDivElement>(null);
  const [drag, setDrag] = useState<Drag | null>(null);
  const [preview, setPreview] = useState<{ id: string; layout: Layout } | null>(null);

  const layoutOf = (w: Widget) => (preview?.id === w.id ? preview.layout : w.layout);
  const describe = (w: Widget, l: Layout) => t('moved', { title: w.title, x: l.x + 1, y: l.y + 1, w: l.w, h: l.h });

  const begin = (e: PointerEvent<HTMLElement>, w: Widget, mode: Drag['mode']) => {
    if (e.button !== 0 || !grid.current) return;
    e.preventDefault();
    e.currentTarget.setPointerCapture(e.pointerId);
    const width = grid.current.getBoundingClientRect().width;
    onSelect(w.id);
    setDrag({ id: w.id, mode, x0: e.clientX, y0: e.clientY, start: w.layout, colPx: (width + GAP_PX) / 12 });
  };
  const move = (e: PointerEvent<HTMLElement>) => {
    if (!drag) return;
    const dx = Math.round((e.clientX - drag.x0) / drag.colPx);
    const dy = Math.round((e.clientY - drag.y0) / (ROW_PX + GAP_PX));
    const s = drag.start;
    const next = clampLayout(drag.mode === 'move' ? { ...s, x: s.x + dx, y: s.y + dy } : { ...s, w: s.w + dx, h: s.h + dy });
    if (fits(def, drag.id, next)) setPreview({ id: drag.id, layout: next });
  };
  const end = () => {
    if (!drag) return;
    const w = def.widgets.find((x) => x.id === drag.id);
    if (preview && w && (preview.layout.x !== w.layout.x || preview.layout.y !== w.layout.y || preview.layout.w !== w.layout.w || preview.layout.h !== w.layout.h)) {
      onLayout(w.id, preview.layout);
      onAnnounce(describe(w, preview.layout));
    }
    setDrag(null);
    setPreview(null);
  };

  const onKey = (e: KeyboardEvent<HTMLElement>, w: Widget) => {
    if (e.target !== e.currentTarget) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      onSelect(w.id);
      return;
    }
    const next = nudge(w.layout, e.key, e.shiftKey);
    if (!next) return;
    e.preventDefault();
    const l = clampLayout(next);
    if (fits(def, w.id, l) && (l.x !== w.layout.x || l.y !== w.layout.y || l.w !== w.layout.w || l.h !== w.layout.h)) {
      onLayout(w.id, l);
      onAnnounce(describe(w, l));
      // The widget may move in the reading order (its element moves): keep focus on it.
      requestAnimationFrame(() => grid.current?.querySelector<HTMLElement>(`[data-widget-id="${w.id}"] .app-edit-select`)?.focus());
    } else {
      onAnnounce(t('blocked', { title: w.title }));
    }
  };

  const rows = def.widgets.reduce((m, w) => Math.max(m, layoutOf(w).y + layoutOf(w).h), 0);

  return (
    <div
      ref={grid}
      className={`app-grid ${editing ? 'app-grid-editing' : ''}`}
      style={{ minHeight: editing ? (rows + 2) * (ROW_PX + GAP_PX) : undefined }}
      onPointerMove={move}
      onPointerUp={end}
      onPointerCancel={end}
    >
      {readingOrder(def.widgets).map((w) => {
        const l = layoutOf(w);
        const headingId = `wt-${w.id}`;
        const style = { gridColumn: `${l.x + 1} / span ${l.w}`, gridRow: `${l.y + 1} / span ${l.h}`, '--rows': l.h } as React.CSSProperties;
        const err = errorWidget?.id === w.id ? errorWidget.message : null;
        if (!editing) {
          return (
            <section key={w.id} className={`app-widget app-widget-${w.type}`} style={style} aria-labelledby={headingId} data-widget-id={w.id}>
              {renderWidget(w, headingId)}
            </section>
          );
        }
        const isSel = selected === w.id;
        return (
          <div
            key={w.id}
            className={`app-widget app-widget-edit ${isSel ? 'app-widget-selected' : ''} ${err ? 'app-widget-invalid' : ''} ${drag?.id === w.id ? 'app-widget-dragging' : ''}`}
            style={style}
            data-widget-id={w.id}
          >
            <div
              className="app-edit-head"
              onPointerDown={(e) => begin(e, w, 'move')}
              title={t('dragToMove', { title: w.title })}
            >
              <button
                type="button"
                className="app-edit-select"
                aria-pressed={isSel}
                aria-describedby="app-move-help"
                onClick={() => onSelect(w.id)}
                onKeyDown={(e) => onKey(e, w)}
                onPointerDown={(e) => e.stopPropagation()}
              >
                <span className="visually-hidden">{t('selectWidget', { title: w.title })}</span>
                <span aria-hidden="true" className="app-edit-grip">
                  ⠿
                </span>
                <span aria-hidden="true" className="app-widget-title">
                  {w.title}
                </span>
              </button>
              <span className="app-widget-type">{t(`type.${w.type}`)}</span>
              <span className="app-edit-pos" aria-hidden="true">
                {l.x + 1},{l.y + 1} · {l.w}×{l.h}
              </span>
            </div>
            <div className="app-widget-body app-edit-preview">
              <EditPreview widget={w} def={def} />
              {err && (
                <p className="field-error" id={`${w.id}-save-error`}>
                  {err}
                </p>
              )}
            </div>
            <div
              className="app-resize"
              aria-hidden="true"
              title={t('dragToResize', { title: w.title })}
              onPointerDown={(e) => begin(e, w, 'resize')}
            />
          </div>
        );
      })}
    </div>
  );
}

/** What a widget holds, shown in edit mode: its prompt with references marked, its content or
 *  its default value. */
function EditPreview({ widget, def }: { widget: Widget; def: AppDefinition }) {
  const t = useT(appStrings);
  if (widget.prompt !== undefined && widget.type !== 'user-input' && widget.type !== 'static-text' && widget.type !== 'document') {
    const parts: ReactNode[] = [];
    let at = 0;
    for (const r of findReferences(widget.prompt, def)) {
      parts.push(widget.prompt.slice(at, r.offset));
      parts.push(
        <mark key={r.offset} className={r.widgetId ? 'app-ref' : 'app-ref app-ref-missing'}>
          {widget.prompt.slice(r.offset, r.offset + r.length)}
        </mark>,
      );
      at = r.offset + r.length;
    }
    parts.push(widget.prompt.slice(at));
    return <p className="app-edit-prompt">{widget.prompt ? parts : <span className="app-muted">{t('prompt')}: —</span>}</p>;
  }
  if (widget.type === 'static-text') return <p className="app-edit-prompt">{widget.content || '—'}</p>;
  if (widget.type === 'user-input') return <p className="app-edit-prompt">{widget.default || widget.placeholder || '—'}</p>;
  return <p className="app-edit-prompt app-muted">{t('dropHere')}</p>;
}
