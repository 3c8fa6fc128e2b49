// The app page: /apps/<id> (the owner: run, edit, share) and /shared/<token> (anyone signed in:
// run, remix). The widgets sit on a 12-column grid by their layout; Run (Ctrl+Enter) runs every
// generation widget in waves, streaming each into its place, and a changed input runs again
// the widgets that depend on it. Edit mode adds, removes, moves, resizes and configures widgets
// and saves a new version (Undo, Versions).
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, get } from '../../api/client';
import type { Catalog, CatalogModel } from '../../api/types';
import { Alert, Badge, Button, Dialog, EmptyState, FormDialog, Loading, MenuButton, PageHeader, Table, TextArea, buttonClass } from '../../components';
import { useFormat, useT } from '../../i18n';
import { Markdown } from '../../lib/markdown';
import { Link } from '../../router';
import { paths } from '../../routes';
import { RemixButton } from '../backstage/RemixButton';
import { ShareDialog } from '../backstage/ShareDialog';
import { servedAndGranted } from '../playground/converse';
import { listVersions, loadApp, regenerateApp, restoreVersion, saveApp, widgetOfMessage, type AppRef } from './api';
import { Grid } from './Grid';
import { newWidget } from './layout';
import { renameWidget } from './refs';
import { AppSettings, WidgetSettings } from './SettingsPanel';
import { appStrings } from './strings';
import { WIDGET_TYPES, MAX_WIDGETS, type App, type AppDefinition, type AppVersion, type Layout, type Widget } from './types';
import { useRunner } from './useRunner';
import {
  ChatbotBody,
  DocumentBody,
  IDLE,
  ImageGenerationBody,
  TextGenerationBody,
  UserInputBody,
  WidgetFrame,
} from './Widgets';
import './apps.css';

type Load = { status: 'loading' } | { status: 'error'; error: ApiError } | { status: 'ready' };

export default function AppPage({ appId, shareToken }: { appId?: string; shareToken?: string }) {
  const t = useT(appStrings);
  const ref: AppRef = useMemo(() => (appId ? { appId } : { shareToken: shareToken ?? '' }), [appId, shareToken]);
  const [app, setApp] = useState<App | null>(null);
  const [load, setLoad] = useState<Load>({ status: 'loading' });
  const [n, setN] = useState(0);

  useEffect(() => {
    const ctl = new AbortController();
    setLoad({ status: 'loading' });
    loadApp(ref, ctl.signal)
      .then((a) => {
        setApp(a);
        setLoad({ status: 'ready' });
      })
      .catch((e: unknown) => {
        if ((e as Error).name === 'AbortError') return;
        setLoad({ status: 'error', error: e instanceof ApiError ? e : new ApiError(0, '', String(e)) });
      });
    return () => ctl.abort();
  }, [ref, n]);

  if (load.status === 'loading' && !app) return <Loading label={t('loadingApp')} />;
  if (load.status === 'error') {
    if (load.error.status === 404) {
      return (
        <>
          <NotFoundTitle title={t('notFoundTitle')} />
          <EmptyState
            title={t('notFoundTitle')}
            action={
              <Link to={paths.apps} className={buttonClass('primary')}>
                {t('backToApps')}
              </Link>
            }
          >
            {t('notFoundBody')}
          </EmptyState>
        </>
      );
    }
    return (
      <>
        <PageHeader title={t('loadFailed')} />
        <Alert tone="error" title={t('loadFailed')} action={<Button onClick={() => setN((x) => x + 1)}>↻</Button>}>
          {load.error.message}
        </Alert>
      </>
    );
  }
  if (!app) return null;
  return <AppView app={app} appRef={ref} shareToken={shareToken} onApp={setApp} onReload={() => setN((x) => x + 1)} />;
}

function AppView({
  app,
  appRef,
  shareToken,
  onApp,
  onReload,
}: {
  app: App;
  appRef: AppRef;
  shareToken?: string;
  onApp: (a: App) => void;
  onReload: () => void;
}) {
  const t = useT(appStrings);
  const f = useFormat();
  const owner = app.isOwner;
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState<AppDefinition>(app.definition);
  const [selected, setSelected] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<{ message: string; widgetId: string | null } | null>(null);
  const [conflict, setConflict] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [announce, setAnnounce] = useState('');
  const [dialog, setDialog] = useState<'share' | 'versions' | 'regenerate' | 'leave' | { remove: string } | null>(null);
  const [versions, setVersions] = useState<AppVersion[] | null>(null);
  const [models, setModels] = useState<CatalogModel[]>([]);
  const [modelsError, setModelsError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  // Entering or leaving edit mode replaces the toolbar's buttons: focus goes to the first one
  // of the new set (Add widget, or Run), not to the page.
  const toolbarRef = useRef<HTMLDivElement>(null);
  const toggled = useRef(false);
  useEffect(() => {
    if (!toggled.current) {
      toggled.current = true;
      return;
    }
    toolbarRef.current?.querySelector<HTMLElement>('button:not([disabled])')?.focus();
  }, [editing]);

  const def = editing ? draft : app.definition;
  const dirty = editing && JSON.stringify(draft) !== JSON.stringify(app.definition);
  const runner = useRunner(appRef, app.definition);

  const refreshVersions = useCallback(() => {
    if (!owner) return;
    listVersions(app.appId)
      .then(setVersions)
      .catch(() => setVersions(null));
  }, [owner, app.appId]);
  useEffect(refreshVersions, [refreshVersions, app.version]);

  // The models a widget may name: the catalog's served models with access granted.
  useEffect(() => {
    if (!editing || models.length) return;
    get<Catalog>('/basalt/catalog')
      .then((c) => setModels((c?.models ?? []).filter(servedAndGranted)))
      .catch((e: unknown) => setModelsError(e instanceof ApiError ? e.message : String(e)));
  }, [editing, models.length]);

  // Ctrl+Enter (Cmd+Enter) runs the app from anywhere on the page.
  const runRef = useRef(() => {});
  runRef.current = () => {
    if (!editing && !runner.runsActive && dialog === null) runner.run();
  };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !e.isComposing) {
        e.preventDefault();
        runRef.current();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const replaceApp = (a: App, message?: string) => {
    onApp(a);
    setDraft(a.definition);
    setSaveError(null);
    setConflict(false);
    if (message) setNotice(message);
  };

  const startEdit = () => {
    setDraft(app.definition);
    setSelected(null);
    setSaveError(null);
    setNotice(null);
    setEditing(true);
  };
  const finishEdit = (force = false) => {
    if (dirty && !force) {
      setDialog('leave');
      return;
    }
    setDialog(null);
    setEditing(false);
    setSelected(null);
    setDraft(app.definition);
    setSaveError(null);
  };

  const save = async () => {
    setSaving(true);
    setSaveError(null);
    setNotice(null);
    try {
      const a = await saveApp(app.appId, draft, app.version);
      replaceApp(a, t('saved', { n: a.version }));
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) setConflict(true);
      else {
        const message = e instanceof ApiError ? e.message : String(e);
        const widgetId = widgetOfMessage(message, draft);
        setSaveError({ message, widgetId });
        if (widgetId) setSelected(widgetId);
      }
    } finally {
      setSaving(false);
    }
  };

  const act = async (what: string, fn: () => Promise<App>, message: (a: App) => string) => {
    setBusy(what);
    setNotice(null);
    setSaveError(null);
    try {
      const a = await fn();
      replaceApp(a, message(a));
      setDialog(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        setConflict(true);
        setDialog(null);
      } else setSaveError({ message: e instanceof ApiError ? e.message : String(e), widgetId: null });
    } finally {
      setBusy(null);
    }
  };
  const undo = () =>
    act('undo', () => restoreVersion(app.appId, app.version - 1, app.version), (a) => t('undone', { from: app.version - 1, n: a.version }));
  const restore = (v: number) => act(`restore-${v}`, () => restoreVersion(app.appId, v, app.version), (a) => t('restored', { from: v, n: a.version }));

  const patch = (id: string, p: Partial<Widget>) =>
    setDraft((d) => ({ ...d, widgets: d.widgets.map((w) => (w.id === id ? ({ ...w, ...p } as Widget) : w)) }));
  const setLayout = (id: string, layout: Layout) => patch(id, { layout });
  const add = (type: Widget['type']) => {
    if (draft.widgets.length >= MAX_WIDGETS) {
      setAnnounce(t('tooManyWidgets', { n: MAX_WIDGETS }));
      return;
    }
    const w = newWidget(draft, type, t(`type.${type}`));
    setDraft((d) => ({ ...d, widgets: [...d.widgets, w] }));
    setSelected(w.id);
  };
  const remove = (id: string) => {
    setDraft((d) => ({ ...d, widgets: d.widgets.filter((w) => w.id !== id) }));
    setSelected(null);
    setDialog(null);
    // The widget and its Remove button are gone: focus the toolbar's Add widget.
    setTimeout(() => toolbarRef.current?.querySelector<HTMLElement>('button')?.focus(), 0);
  };

  const generated = versions?.some((v) => /generat/i.test(v.note)) ?? false;
  const selectedWidget = editing ? draft.widgets.find((w) => w.id === selected) : undefined;
  const errorWidget = saveError?.widgetId ? { id: saveError.widgetId, message: saveError.message } : null;

  const renderWidget = (w: Widget, headingId: string) => {
    const out = runner.outputs[w.id] ?? IDLE;
    switch (w.type) {
      case 'user-input':
        return (
          <WidgetFrame widget={w} headingId={headingId}>
            <UserInputBody
              widget={w}
              labelId={headingId}
              value={runner.values[w.id] ?? w.default ?? ''}
              onChange={(v) => runner.setValue(w.id, v)}
              onCommit={() => runner.commitValue(w.id)}
            />
          </WidgetFrame>
        );
      case 'static-text':
        return (
          <WidgetFrame widget={w} headingId={headingId}>
            <Markdown text={w.content ?? ''} className="md app-md" />
          </WidgetFrame>
        );
      case 'document':
        return (
          <WidgetFrame widget={w} headingId={headingId}>
            <DocumentBody
              widget={w}
              labelId={headingId}
              state={runner.docs[w.id] ?? {}}
              onFile={(file) => void runner.upload(w, file, t('unsupportedType', { name: file.name }))}
              onClear={() => runner.clearDoc(w.id)}
            />
          </WidgetFrame>
        );
      case 'text-generation':
        return (
          <WidgetFrame widget={w} headingId={headingId} status={out.status}>
            <TextGenerationBody out={out} />
          </WidgetFrame>
        );
      case 'image-generation':
        return (
          <WidgetFrame widget={w} headingId={headingId} status={out.status}>
            <ImageGenerationBody widget={w} out={out} />
          </WidgetFrame>
        );
      case 'chatbot': {
        const turns = runner.chats[w.id] ?? [];
        return (
          <WidgetFrame
            widget={w}
            headingId={headingId}
            actions={
              turns.length > 0 ? (
                <Button size="sm" variant="link" onClick={() => runner.clearChat(w.id)} disabled={turns.some((x) => x.status === 'streaming')}>
                  {t('chatReset')}
                </Button>
              ) : undefined
            }
          >
            <ChatbotBody widget={w} turns={turns} onSend={(text) => runner.chat(w, text, turns)} onStop={() => runner.stopChat(w.id)} />
          </WidgetFrame>
        );
      }
    }
  };

  const n = runner.notice;
  const runNotice =
    n &&
    (n.text === 'done' ? (
      <Alert tone={n.tone === 'error' ? 'warning' : 'success'} onDismiss={() => runner.setNotice(null)}>
        {t(n.tone === 'error' ? 'runDoneErrors' : 'runDone', {
          tokens: f.number((n.usage?.inputTokens ?? 0) + (n.usage?.outputTokens ?? 0)),
          cost: f.usd(n.usage?.cost ?? 0),
        })}
      </Alert>
    ) : n.text === 'stopped' ? (
      <Alert tone="info" onDismiss={() => runner.setNotice(null)}>
        {t('runStopped')}
      </Alert>
    ) : (
      <Alert tone="error" title={t('runFailed')} onDismiss={() => runner.setNotice(null)}>
        {n.text}
      </Alert>
    ));

  const viewActions = (
    <>
      {runner.runsActive ? (
        <Button variant="danger" onClick={runner.stop}>
          ■ {t('stop')}
        </Button>
      ) : (
        <Button variant="primary" onClick={() => runner.run()} title={t('runHint')} aria-keyshortcuts="Control+Enter" disabled={def.widgets.length === 0}>
          ▶ {t('run')}
        </Button>
      )}
      {owner && <Button onClick={startEdit}>{t('edit')}</Button>}
      {owner && <Button onClick={() => setDialog('share')}>{t('share')}</Button>}
      <RemixButton app={app} shareToken={shareToken} />
    </>
  );
  const editActions = (
    <>
      <MenuButton
        className="app-add-menu"
        label={t('addWidget')}
        ariaLabel={t('addWidget')}
        align="end"
        items={WIDGET_TYPES.map((type) => ({ key: type, label: t(`type.${type}`), onSelect: () => add(type) }))}
      />
      <Button variant="primary" onClick={() => void save()} loading={saving} disabled={!dirty}>
        {saving ? t('saving') : t('save')}
      </Button>
      {dirty ? (
        <Button onClick={() => setDraft(app.definition)}>{t('discard')}</Button>
      ) : (
        <Button onClick={() => void undo()} disabled={app.version <= 1} loading={busy === 'undo'} title={t('undoHint')}>
          {t('undo')}
        </Button>
      )}
      <Button onClick={() => setDialog('versions')}>{t('versions')}</Button>
      {generated && <Button onClick={() => setDialog('regenerate')}>{t('regenerate')}</Button>}
      <Button onClick={() => finishEdit()}>{t('doneEditing')}</Button>
    </>
  );

  return (
    <div className="app-page">
      <PageHeader
        title={def.title || app.title}
        docTitle={app.title}
        description={def.description || undefined}
        breadcrumbs={owner ? [{ label: t('breadcrumbApps'), to: paths.apps }, { label: app.title }] : [{ label: t('breadcrumbShared') }, { label: app.title }]}
        actions={
          <div ref={toolbarRef} className="app-actions" role="toolbar" aria-label={t('appActions')}>
            {editing ? editActions : viewActions}
          </div>
        }
      />
      <p className="app-meta">
        {app.owner?.userName && <span>{t('by', { user: app.owner.userName })}</span>}
        {owner && <span>{t('version', { n: app.version })}</span>}
        {owner && <Badge tone={app.visibility === 'public' ? 'info' : 'neutral'}>{app.visibility === 'public' ? t('sharedBadge') : t('privateBadge')}</Badge>}
        {app.remixedFrom && <span>{t('remixedFrom', { title: app.remixedFrom.title })}</span>}
        {editing && dirty && <Badge tone="warning">{t('unsaved')}</Badge>}
      </p>
      <div className="visually-hidden" role="status" aria-live="polite">
        {announce}
      </div>
      {notice && (
        <Alert tone="success" onDismiss={() => setNotice(null)}>
          {notice}
        </Alert>
      )}
      {conflict && (
        <Alert
          tone="warning"
          title={t('conflictTitle')}
          action={
            <Button
              onClick={() => {
                setConflict(false);
                setEditing(false);
                onReload();
              }}
            >
              {t('reload')}
            </Button>
          }
        >
          {t('conflictBody')}
        </Alert>
      )}
      {saveError && (
        <Alert tone="error" title={t('saveFailed')} onDismiss={() => setSaveError(null)}>
          {saveError.message}
        </Alert>
      )}
      {!editing && runNotice}
      {editing && (
        <p id="app-move-help" className="field-hint app-move-help">
          {t('moveHelp')}
        </p>
      )}
      <div className={editing ? 'app-edit-layout' : undefined}>
        <div className="app-canvas">
          {def.widgets.length === 0 ? (
            <EmptyState title={t('emptyApp')}>{owner ? t('emptyAppOwner') : null}</EmptyState>
          ) : (
            <Grid
              def={def}
              editing={editing}
              selected={selected}
              onSelect={setSelected}
              onLayout={setLayout}
              onAnnounce={setAnnounce}
              errorWidget={errorWidget}
              renderWidget={renderWidget}
            />
          )}
        </div>
        {editing && (
          <aside className="app-side" aria-label={t('editing')}>
            {selectedWidget ? (
              <WidgetSettings
                def={draft}
                widget={selectedWidget}
                models={models}
                modelsError={modelsError}
                error={saveError?.widgetId === selectedWidget.id ? saveError.message : null}
                onPatch={(p) => patch(selectedWidget.id, p)}
                onRename={(title) => {
                  const r = renameWidget(draft, selectedWidget.id, title);
                  if ('error' in r) return r.error;
                  setDraft(r.def);
                  return null;
                }}
                onRemove={() => setDialog({ remove: selectedWidget.id })}
                onClose={() => setSelected(null)}
              />
            ) : (
              <AppSettings def={draft} onChange={setDraft} />
            )}
            {draft.widgets.length >= MAX_WIDGETS && <p className="field-hint">{t('tooManyWidgets', { n: MAX_WIDGETS })}</p>}
          </aside>
        )}
      </div>

      {owner && <ShareDialog app={app} open={dialog === 'share'} onClose={() => setDialog(null)} onChange={onApp} />}
      {owner && (
        <VersionsDialog
          open={dialog === 'versions'}
          onClose={() => setDialog(null)}
          app={app}
          versions={versions}
          busy={busy}
          onRestore={(v) => void restore(v)}
        />
      )}
      {owner && (
        <RegenerateDialog
          open={dialog === 'regenerate'}
          onClose={() => setDialog(null)}
          initial={app.generatedFrom || app.description}
          busy={busy === 'regenerate'}
          onSubmit={(description) =>
            void act('regenerate', () => regenerateApp(app.appId, description, app.version), (a) => t('regenerated', { n: a.version }))
          }
        />
      )}
      <Dialog
        open={dialog === 'leave'}
        onClose={() => setDialog(null)}
        title={t('leaveEditWithChanges')}
        size="sm"
        footer={
          <>
            <Button onClick={() => setDialog(null)}>{t('keepEditing')}</Button>
            <Button variant="danger" onClick={() => finishEdit(true)}>
              {t('discard')}
            </Button>
          </>
        }
      >
        <p>{t('leaveEditBody')}</p>
      </Dialog>
      {typeof dialog === 'object' && dialog !== null && (
        <RemoveDialog
          title={draft.widgets.find((w) => w.id === dialog.remove)?.title ?? ''}
          onClose={() => setDialog(null)}
          onConfirm={() => remove(dialog.remove)}
        />
      )}
    </div>
  );
}

/** The page's h1 for screen readers and the tab title, as the console's own not-found page. */
function NotFoundTitle({ title }: { title: string }) {
  useEffect(() => {
    document.title = `${title} · Basalt`;
  }, [title]);
  return <h1 className="visually-hidden">{title}</h1>;
}

function RemoveDialog({ title, onClose, onConfirm }: { title: string; onClose: () => void; onConfirm: () => void }) {
  const t = useT(appStrings);
  return (
    <FormDialog
      open
      onClose={onClose}
      title={t('removeConfirmTitle', { title })}
      size="sm"
      onSubmit={onConfirm}
      submitLabel={t('remove')}
      submitVariant="danger"
      busy={false}
    >
      <p>{t('removeConfirmBody', { title })}</p>
    </FormDialog>
  );
}

function VersionsDialog({
  open,
  onClose,
  app,
  versions,
  busy,
  onRestore,
}: {
  open: boolean;
  onClose: () => void;
  app: App;
  versions: AppVersion[] | null;
  busy: string | null;
  onRestore: (v: number) => void;
}) {
  const t = useT(appStrings);
  const f = useFormat();
  const rows = [...(versions ?? [])].sort((a, b) => b.version - a.version);
  return (
    <Dialog open={open} onClose={onClose} title={t('versionsTitle', { title: app.title })} size="lg">
      {versions === null ? (
        <Loading />
      ) : (
        <Table
          caption={t('versions')}
          rows={rows}
          rowKey={(v) => String(v.version)}
          empty={t('noVersions')}
          columns={[
            { key: 'v', header: t('versions'), cell: (v) => t('version', { n: v.version }) },
            { key: 'note', header: t('versionNote'), cell: (v) => v.note || '—' },
            { key: 'at', header: t('versionCreated'), cell: (v) => (v.createdAt ? f.dateTime(v.createdAt) : '—') },
            {
              key: 'act',
              header: t('restore'),
              hideHeader: true,
              align: 'right',
              cell: (v) =>
                v.version === app.version ? (
                  <Badge tone="info">{t('versionCurrent')}</Badge>
                ) : (
                  <Button size="sm" loading={busy === `restore-${v.version}`} onClick={() => onRestore(v.version)} aria-label={t('restoreVersion', { n: v.version })}>
                    {t('restore')}
                  </Button>
                ),
            },
          ]}
        />
      )}
    </Dialog>
  );
}

function RegenerateDialog({
  open,
  onClose,
  initial,
  busy,
  onSubmit,
}: {
  open: boolean;
  onClose: () => void;
  initial: string;
  busy: boolean;
  onSubmit: (description: string) => void;
}) {
  const t = useT(appStrings);
  const [text, setText] = useState(initial);
  useEffect(() => {
    if (open) setText(initial);
  }, [open, initial]);
  return (
    <FormDialog
      open={open}
      onClose={onClose}
      title={t('regenerateTitle')}
      onSubmit={() => onSubmit(text)}
      submitLabel={busy ? t('regenerating') : t('regenerate')}
      busy={busy}
    >
      <p>{t('regenerateBody')}</p>
      <TextArea label={t('regenerateDescription')} rows={4} value={text} required onChange={(e) => setText(e.target.value)} />
    </FormDialog>
  );
}
