// Pieces shared by the playgrounds: the catalog of usable models, the model picker, the
// inference settings panel (with stop-sequence chips), reply statistics and empty states.
import { useCallback, useEffect, useId, useState, type ComponentType, type KeyboardEvent, type ReactNode } from 'react';
import { ApiError, get } from '../../api/client';
import type { Catalog, CatalogModel } from '../../api/types';
import { Alert, Button, Card, EmptyState, Loading, PageHeader, Select, Slider, TextArea, TextField, buttonClass } from '../../components';
import { useFormat, useT } from '../../i18n';
import type { TokenUsage } from '../../lib/eventstream';
import { Link, useSearchParams } from '../../router';
import { paths } from '../../routes';
import { useSession, isAdmin } from '../../session';
import { checkNewStopSequence, isImageModel, isTextModel, replyCost, type InferenceSettings, validateSettings } from './converse';
import { playgroundStrings } from './strings';
import './playground.css';

export type CatalogState =
  | { status: 'loading' }
  | { status: 'error'; error: string }
  | { status: 'ready'; models: CatalogModel[] };

/** The catalog, filtered to the models this user may use in a playground. */
function usePlaygroundModels(filter: (m: CatalogModel) => boolean): { state: CatalogState; reload: () => void } {
  const [state, setState] = useState<CatalogState>({ status: 'loading' });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState({ status: 'loading' });
    get<Catalog>('/basalt/catalog')
      .then((c) => {
        if (live) setState({ status: 'ready', models: (c?.models ?? []).filter(filter) });
      })
      .catch((e: unknown) => {
        if (live) setState({ status: 'error', error: e instanceof ApiError ? e.message : String(e) });
      });
    return () => {
      live = false;
    };
  }, [n]);
  const reload = useCallback(() => setN((x) => x + 1), []);
  return { state, reload };
}

/** The model to preselect: `?model=` when usable, else the first. */
export function useInitialModel(models: CatalogModel[]): string {
  const params = useSearchParams();
  const wanted = params.get('model');
  if (wanted && models.some((m) => m.modelId === wanted)) return wanted;
  return models[0]?.modelId ?? '';
}

export function modelLabel(m: CatalogModel): string {
  return `${m.providerName} · ${m.modelName || m.modelId}`;
}

export function ModelSelect({
  models,
  value,
  onChange,
  label,
  disabled,
  id,
}: {
  models: CatalogModel[];
  value: string;
  onChange: (id: string) => void;
  label: string;
  disabled?: boolean;
  id?: string;
}) {
  const t = useT(playgroundStrings);
  return (
    <Select
      id={id}
      label={label}
      value={value}
      disabled={disabled}
      onChange={(e) => onChange(e.target.value)}
      placeholder={value ? undefined : t('chooseModel')}
      options={models.map((m) => ({ value: m.modelId, label: `${modelLabel(m)} (${m.modelId})` }))}
      fieldClassName="pg-model-select"
    />
  );
}

export function ModelPrice({ model }: { model: CatalogModel | undefined }) {
  const t = useT(playgroundStrings);
  const f = useFormat();
  if (!model?.price || (model.price.inputPer1kTokens == null && model.price.outputPer1kTokens == null)) return null;
  return (
    <div className="pg-price">
      {t('pricePer1k', {
        input: f.usd(model.price.inputPer1kTokens ?? 0),
        output: f.usd(model.price.outputPer1kTokens ?? 0),
      })}
    </div>
  );
}

/** A playground page: its header, then the playground once there are models it can use. */
export function PlaygroundPage({
  page,
  playground: Playground,
}: {
  page: 'chat' | 'text' | 'image';
  playground: ComponentType<{ models: CatalogModel[] }>;
}) {
  const t = useT(playgroundStrings);
  const kind = page === 'image' ? 'image' : 'text';
  const { state, reload } = usePlaygroundModels(kind === 'image' ? isImageModel : isTextModel);
  const title = t(`${page}Title`);
  return (
    <div className="pg-page">
      <PageHeader title={title} description={t(`${page}Description`)} breadcrumbs={[{ label: t('breadcrumbPlaygrounds') }, { label: title }]} />
      <CatalogGate state={state} reload={reload} kind={kind}>
        {(models) => <Playground models={models} />}
      </CatalogGate>
    </div>
  );
}

/** Loading / error / no-model states for a playground; renders children when models exist. */
function CatalogGate({
  state,
  reload,
  kind,
  children,
}: {
  state: CatalogState;
  reload: () => void;
  kind: 'text' | 'image';
  children: (models: CatalogModel[]) => ReactNode;
}) {
  const t = useT(playgroundStrings);
  const { session } = useSession();
  const admin = isAdmin(session);
  if (state.status === 'loading') return <Loading label={t('loadingModels')} />;
  if (state.status === 'error') {
    return (
      <Alert
        tone="error"
        action={
          <Button size="sm" onClick={reload}>
            ↻
          </Button>
        }
      >
        {state.error}
      </Alert>
    );
  }
  if (state.models.length === 0) {
    return (
      <Card className="pg-empty-card">
        <EmptyState
          title={kind === 'image' ? t('noImageModelTitle') : t('noModelsTitle')}
          action={
            <div className="pg-empty-actions">
              {admin && (
                <Link to={paths.models} className={buttonClass('primary')}>
                  {t('goToModels')}
                </Link>
              )}
              <Link to={paths.access} className={buttonClass(admin ? 'normal' : 'primary')}>
                {t('goToAccess')}
              </Link>
              <Link to={paths.catalog} className={buttonClass('link')}>
                {t('goToCatalog')}
              </Link>
            </div>
          }
        >
          <p>{kind === 'image' ? t('noImageModelBody') : admin ? t('noModelsAdminBody') : t('noModelsBody')}</p>
        </EmptyState>
      </Card>
    );
  }
  return <>{children(state.models)}</>;
}

// ---------- settings ----------

export function StopSequences({
  value,
  onChange,
  error,
  disabled,
}: {
  value: string[];
  onChange: (v: string[]) => void;
  error?: string;
  disabled?: boolean;
}) {
  const t = useT(playgroundStrings);
  const id = useId();
  const [draft, setDraft] = useState('');
  const [addError, setAddError] = useState<string | null>(null);
  const add = () => {
    if (draft === '') return;
    const err = checkNewStopSequence(value, draft);
    if (err) {
      setAddError(err);
      return;
    }
    if (!value.includes(draft)) onChange([...value, draft]);
    setDraft('');
    setAddError(null);
  };
  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter' && !e.nativeEvent.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      add();
    }
  };
  const shownError = addError ?? error;
  return (
    <div className={`field pg-stops ${shownError ? 'field-invalid' : ''}`}>
      <label htmlFor={id} className="field-label">
        {t('stopSequences')}
      </label>
      <div id={`${id}-hint`} className="field-hint">
        {t('stopSequencesHint')}
      </div>
      <div className="pg-stop-add">
        <input
          id={id}
          className="input"
          value={draft}
          disabled={disabled}
          placeholder={t('newStopSequence')}
          aria-describedby={`${id}-hint${shownError ? ` ${id}-error` : ''}`}
          aria-invalid={shownError ? true : undefined}
          onChange={(e) => {
            setDraft(e.target.value);
            setAddError(null);
          }}
          onKeyDown={onKey}
        />
        <Button size="sm" onClick={add} disabled={disabled || draft === ''}>
          {t('addStopSequence')}
        </Button>
      </div>
      {value.length > 0 && (
        <ul className="pg-chips" aria-label={t('stopSequences')}>
          {value.map((s) => (
            <li key={s} className="pg-chip">
              <span className="pg-chip-text">{JSON.stringify(s).slice(1, -1)}</span>
              <button
                type="button"
                className="pg-chip-remove"
                disabled={disabled}
                aria-label={t('removeStopSequence', { value: s })}
                onClick={() => onChange(value.filter((x) => x !== s))}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      {shownError && (
        <div id={`${id}-error`} className="field-error" role="alert">
          {shownError}
        </div>
      )}
    </div>
  );
}

export function SettingsPanel({
  settings,
  onChange,
  showSystem,
  disabled,
  children,
}: {
  settings: InferenceSettings;
  onChange: (s: InferenceSettings) => void;
  showSystem: boolean;
  disabled?: boolean;
  children?: React.ReactNode;
}) {
  const t = useT(playgroundStrings);
  const errors = validateSettings(settings);
  const set = <K extends keyof InferenceSettings>(k: K, v: InferenceSettings[K]) => onChange({ ...settings, [k]: v });
  return (
    <Card title={t('settings')} className="pg-settings" aria-label={t('settings')}>
      {children}
      {showSystem && (
        <TextArea
          label={t('systemPrompt')}
          hint={t('systemPromptHint')}
          placeholder={t('systemPromptPlaceholder')}
          rows={3}
          value={settings.system}
          error={errors.system}
          disabled={disabled}
          onChange={(e) => set('system', e.target.value)}
        />
      )}
      <Slider
        label={t('temperature')}
        hint={t('temperatureHint')}
        min={0}
        max={1}
        step={0.01}
        value={settings.temperature}
        disabled={disabled}
        onChange={(v) => set('temperature', v)}
      />
      <Slider
        label={t('topP')}
        hint={t('topPHint')}
        min={0}
        max={1}
        step={0.01}
        value={settings.topP}
        disabled={disabled}
        onChange={(v) => set('topP', v)}
      />
      <TextField
        label={t('maxTokens')}
        hint={t('maxTokensHint')}
        type="number"
        inputMode="numeric"
        min={1}
        step={1}
        value={settings.maxTokens}
        error={errors.maxTokens}
        disabled={disabled}
        onChange={(e) => set('maxTokens', e.target.value)}
      />
      <StopSequences
        value={settings.stopSequences}
        error={errors.stopSequences}
        disabled={disabled}
        onChange={(v) => set('stopSequences', v)}
      />
    </Card>
  );
}

// ---------- reply statistics ----------

export function ReplyStats({
  model,
  usage,
  latencyMs,
  stopReason,
}: {
  model: CatalogModel | undefined;
  usage?: TokenUsage;
  latencyMs?: number;
  stopReason?: string;
}) {
  const t = useT(playgroundStrings);
  const f = useFormat();
  if (!usage) return null;
  const cost = replyCost(model, usage);
  return (
    <dl className="pg-stats">
      <div>
        <dt>{t('inputTokens')}</dt>
        <dd>{f.number(usage.inputTokens)}</dd>
      </div>
      <div>
        <dt>{t('outputTokens')}</dt>
        <dd>{f.number(usage.outputTokens)}</dd>
      </div>
      {latencyMs !== undefined && (
        <div>
          <dt>{t('latency')}</dt>
          <dd>{t('latencyMs', { ms: f.number(latencyMs) })}</dd>
        </div>
      )}
      {cost !== null && (
        <div>
          <dt>{t('cost')}</dt>
          <dd>{f.usd(cost)}</dd>
        </div>
      )}
      {stopReason && (
        <div>
          <dt>{t('stopReason')}</dt>
          <dd>
            <code>{stopReason}</code>
          </dd>
        </div>
      )}
    </dl>
  );
}

/** True when Enter (without Shift, not while an IME is composing) should submit. */
export function isSubmitEnter(e: KeyboardEvent<HTMLElement>): boolean {
  return e.key === 'Enter' && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey && !e.nativeEvent.isComposing && e.keyCode !== 229;
}
