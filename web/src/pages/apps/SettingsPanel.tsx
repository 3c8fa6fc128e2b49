// The edit-mode panel: the app's title and description, and the selected widget's settings
// (title with rename, prompt with @-reference autocomplete, model, sampling, image size and
// seed, position and size).
import { useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import type { CatalogModel } from '../../api/types';
import { Button, Card, Select, Slider, TextArea, TextField } from '../../components';
import { useT } from '../../i18n';
import { modelLabel } from '../playground/shared';
import { clampLayout, fits } from './layout';
import { findReferences, referenceAtCaret, referenceCandidates, type TitleError } from './refs';
import { appStrings } from './strings';
import { GRID_COLUMNS, MAX_ROWS_PER_WIDGET, type AppDefinition, type Layout, type Widget } from './types';

const TITLE_ERROR: Record<TitleError, 'titleEmpty' | 'titleTooLong' | 'titleNotOneLine' | 'titleDuplicate'> = {
  empty: 'titleEmpty',
  tooLong: 'titleTooLong',
  notOneLine: 'titleNotOneLine',
  duplicate: 'titleDuplicate',
  notFound: 'titleEmpty',
};

export function AppSettings({ def, onChange }: { def: AppDefinition; onChange: (d: AppDefinition) => void }) {
  const t = useT(appStrings);
  return (
    <Card title={t('appSettings')} level={2} className="app-settings">
      <TextField label={t('appTitle')} value={def.title} maxLength={100} onChange={(e) => onChange({ ...def, title: e.target.value })} />
      <TextArea
        label={t('appDescription')}
        rows={3}
        maxLength={1000}
        value={def.description}
        onChange={(e) => onChange({ ...def, description: e.target.value })}
      />
      <p className="field-hint">{t('noSelection')}</p>
    </Card>
  );
}

export function WidgetSettings({
  def,
  widget,
  models,
  modelsError,
  error,
  onPatch,
  onRename,
  onRemove,
  onClose,
}: {
  def: AppDefinition;
  widget: Widget;
  models: CatalogModel[];
  modelsError: string | null;
  error: string | null;
  onPatch: (patch: Partial<Widget>) => void;
  onRename: (title: string) => TitleError | null;
  onRemove: () => void;
  onClose: () => void;
}) {
  const t = useT(appStrings);
  const [title, setTitle] = useState(widget.title);
  const [titleError, setTitleError] = useState<TitleError | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    setTitle(widget.title);
    setTitleError(null);
  }, [widget.id, widget.title]);
  // Focus the panel's heading when another widget is selected, so the settings are read next.
  useEffect(() => {
    heading.current?.focus();
  }, [widget.id]);

  const applyTitle = () => {
    if (title === widget.title) return;
    setTitleError(onRename(title));
  };

  const kind = widget.type === 'image-generation' ? 'IMAGE' : 'TEXT';
  const usable = models.filter((m) => m.outputModalities.includes(kind));
  const modelOptions = [
    { value: '', label: t('defaultModel') },
    ...usable.map((m) => ({ value: m.modelId, label: `${modelLabel(m)} (${m.modelId})` })),
    ...(widget.model && !usable.some((m) => m.modelId === widget.model) ? [{ value: widget.model, label: widget.model }] : []),
  ];
  const num = (v: string, fallback: number) => (v.trim() === '' || Number.isNaN(Number(v)) ? fallback : Number(v));

  return (
    <section className="card app-settings" aria-labelledby={`${widget.id}-settings-h`}>
      <div className="card-header">
        <h2 id={`${widget.id}-settings-h`} className="card-title" ref={heading} tabIndex={-1}>
          {t('settingsTitle', { title: widget.title })}
        </h2>
        <div className="card-actions">
          <Button variant="icon" aria-label={t('closeSettings')} onClick={onClose}>
            ×
          </Button>
        </div>
      </div>
      <div className="card-body">
        {error && (
          <p className="field-error" role="alert">
            {error}
          </p>
        )}
        <TextField
          label={t('title')}
          hint={t('titleHint')}
          value={title}
          error={titleError ? t(TITLE_ERROR[titleError]) : undefined}
          onChange={(e) => {
            setTitle(e.target.value);
            setTitleError(null);
          }}
          onBlur={applyTitle}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.nativeEvent.isComposing && e.keyCode !== 229) {
              e.preventDefault();
              applyTitle();
            }
          }}
        />
        {widget.type === 'user-input' && (
          <>
            <TextField label={t('placeholder')} value={widget.placeholder ?? ''} onChange={(e) => onPatch({ placeholder: e.target.value })} />
            <TextArea label={t('defaultValue')} rows={2} value={widget.default ?? ''} onChange={(e) => onPatch({ default: e.target.value })} />
          </>
        )}
        {widget.type === 'static-text' && (
          <TextArea label={t('content')} rows={6} value={widget.content ?? ''} onChange={(e) => onPatch({ content: e.target.value })} />
        )}
        {(widget.type === 'text-generation' || widget.type === 'image-generation' || widget.type === 'chatbot') && (
          <>
            <PromptField def={def} widget={widget} onChange={(prompt) => onPatch({ prompt })} />
            <Select
              label={t('model')}
              value={widget.model ?? ''}
              options={modelOptions}
              hint={modelsError ? t('catalogFailed', { message: modelsError }) : undefined}
              onChange={(e) => onPatch({ model: e.target.value })}
            />
          </>
        )}
        {(widget.type === 'text-generation' || widget.type === 'chatbot') && (
          <>
            <Slider label={t('temperature')} min={0} max={1} step={0.01} value={widget.temperature ?? 0.7} onChange={(v) => onPatch({ temperature: v })} />
            {widget.type === 'text-generation' && (
              <Slider label={t('topP')} min={0} max={1} step={0.01} value={widget.topP ?? 0.9} onChange={(v) => onPatch({ topP: v })} />
            )}
            <TextField
              label={t('maxTokens')}
              hint={t('maxTokensHint')}
              type="number"
              min={1}
              max={8192}
              value={widget.maxTokens ?? 512}
              onChange={(e) => onPatch({ maxTokens: num(e.target.value, widget.maxTokens ?? 512) })}
            />
          </>
        )}
        {widget.type === 'image-generation' && (
          <>
            <div className="app-field-row">
              <TextField
                label={t('imageWidth')}
                type="number"
                min={256}
                max={1024}
                step={64}
                value={widget.width ?? 512}
                onChange={(e) => onPatch({ width: num(e.target.value, widget.width ?? 512) })}
              />
              <TextField
                label={t('imageHeight')}
                type="number"
                min={256}
                max={1024}
                step={64}
                value={widget.height ?? 512}
                onChange={(e) => onPatch({ height: num(e.target.value, widget.height ?? 512) })}
              />
            </div>
            <p className="field-hint">{t('imageSizeHint')}</p>
            <TextField
              label={t('seed')}
              hint={t('seedHint')}
              type="number"
              min={0}
              value={widget.seed ?? 0}
              onChange={(e) => onPatch({ seed: num(e.target.value, 0) })}
            />
            <TextArea label={t('negativePrompt')} rows={2} value={widget.negativePrompt ?? ''} onChange={(e) => onPatch({ negativePrompt: e.target.value })} />
          </>
        )}
        <LayoutFields def={def} widget={widget} onChange={(layout) => onPatch({ layout })} />
        <Button variant="danger" onClick={onRemove}>
          {t('removeWidget', { title: widget.title })}
        </Button>
      </div>
    </section>
  );
}

function LayoutFields({ def, widget, onChange }: { def: AppDefinition; widget: Widget; onChange: (l: Layout) => void }) {
  const t = useT(appStrings);
  const [blocked, setBlocked] = useState(false);
  const l = widget.layout;
  useEffect(() => setBlocked(false), [widget.id]);
  const set = (k: keyof Layout, v: string) => {
    const n = Number(v);
    if (v.trim() === '' || Number.isNaN(n)) return;
    // Columns and rows are shown from 1.
    const next = clampLayout({ ...l, [k]: k === 'x' || k === 'y' ? n - 1 : n });
    const ok = fits(def, widget.id, next);
    setBlocked(!ok);
    if (ok) onChange(next);
  };
  return (
    <fieldset className="app-layout-fields">
      <legend className="field-label">{t('layout')}</legend>
      <div className="app-field-row app-field-row-2">
        <TextField label={t('column')} type="number" min={1} max={GRID_COLUMNS} value={l.x + 1} onChange={(e) => set('x', e.target.value)} />
        <TextField label={t('row')} type="number" min={1} value={l.y + 1} onChange={(e) => set('y', e.target.value)} />
        <TextField label={t('widthCells')} type="number" min={1} max={GRID_COLUMNS} value={l.w} onChange={(e) => set('w', e.target.value)} />
        <TextField label={t('heightCells')} type="number" min={1} max={MAX_ROWS_PER_WIDGET} value={l.h} onChange={(e) => set('h', e.target.value)} />
      </div>
      {blocked && (
        <p className="field-error" role="status">
          {t('layoutBlocked')}
        </p>
      )}
    </fieldset>
  );
}

/** A prompt with `@` autocomplete (a listbox under the field: arrows choose, Enter or Tab
 *  inserts, Escape closes) and the references one can insert as buttons. */
function PromptField({ def, widget, onChange }: { def: AppDefinition; widget: Widget; onChange: (p: string) => void }) {
  const t = useT(appStrings);
  const id = useId();
  const area = useRef<HTMLTextAreaElement>(null);
  const [suggest, setSuggest] = useState<{ start: number; query: string } | null>(null);
  const [active, setActive] = useState(0);
  const prompt = widget.prompt ?? '';
  const candidates = suggest ? referenceCandidates(def, widget.id, suggest.query) : [];
  const open = candidates.length > 0;
  const all = referenceCandidates(def, widget.id, '');
  const missing = findReferences(prompt, def).filter((r) => !r.widgetId);

  const update = (text: string, caret: number) => {
    setSuggest(referenceAtCaret(text, caret));
    setActive(0);
  };
  const insert = (title: string) => {
    const el = area.current;
    const caret = el?.selectionStart ?? prompt.length;
    const start = suggest && open ? suggest.start : caret;
    const end = suggest && open ? caret : (el?.selectionEnd ?? caret);
    const next = `${prompt.slice(0, start)}@${title} ${prompt.slice(end)}`;
    onChange(next);
    setSuggest(null);
    const pos = start + title.length + 2;
    requestAnimationFrame(() => {
      el?.focus();
      el?.setSelectionRange(pos, pos);
    });
  };
  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (!open || e.nativeEvent.isComposing) return;
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      setActive((a) => (a + 1) % candidates.length);
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      setActive((a) => (a - 1 + candidates.length) % candidates.length);
    } else if (e.key === 'Enter' || e.key === 'Tab') {
      e.preventDefault();
      insert(candidates[Math.min(active, candidates.length - 1)].title);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      setSuggest(null);
    }
  };
  const hintId = `${id}-hint`;
  return (
    <div className="field app-prompt">
      <label htmlFor={id} className="field-label">
        {widget.type === 'chatbot' ? t('chatPrompt') : t('prompt')}
      </label>
      <div id={hintId} className="field-hint">
        {widget.type === 'chatbot' ? t('chatPromptHint') : t('promptHint')}
      </div>
      <div className="app-prompt-wrap">
        <textarea
          ref={area}
          id={id}
          className="input textarea"
          rows={5}
          value={prompt}
          aria-describedby={`${hintId}${missing.length ? ` ${id}-missing` : ''}`}
          aria-autocomplete="list"
          aria-controls={open ? `${id}-list` : undefined}
          aria-activedescendant={open ? `${id}-opt-${Math.min(active, candidates.length - 1)}` : undefined}
          onChange={(e) => {
            onChange(e.target.value);
            update(e.target.value, e.target.selectionStart);
          }}
          onKeyDown={onKey}
          onClick={(e) => update(e.currentTarget.value, e.currentTarget.selectionStart)}
          onBlur={() => setTimeout(() => setSuggest(null), 150)}
        />
        {open && (
          <ul id={`${id}-list`} role="listbox" aria-label={t('referenceSuggestions')} className="app-suggest">
            {candidates.map((c, i) => (
              <li
                key={c.id}
                id={`${id}-opt-${i}`}
                role="option"
                aria-selected={i === active}
                className={i === active ? 'app-suggest-active' : undefined}
                onMouseDown={(e) => {
                  e.preventDefault();
                  insert(c.title);
                }}
              >
                @{c.title} <span className="app-widget-type">{c.type ? t(`type.${c.type}`) : ''}</span>
              </li>
            ))}
          </ul>
        )}
      </div>
      {missing.length > 0 && (
        <div id={`${id}-missing`} className="field-error">
          {missing.map((m) => (
            <div key={m.offset}>{t('missingReference', { name: m.written })}</div>
          ))}
        </div>
      )}
      <div className="app-ref-buttons" role="group" aria-label={t('referenceList')}>
        {all.length === 0 ? (
          <p className="field-hint">{t('noReferences')}</p>
        ) : (
          all.map((c) => (
            <Button key={c.id} size="sm" onClick={() => insert(c.title)} aria-label={`${t('insertReference')}: @${c.title}`}>
              @{c.title}
            </Button>
          ))
        )}
      </div>
    </div>
  );
}
