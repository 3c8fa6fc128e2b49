// The text playground (/playground/text): one prompt, one completion, streamed with
// ConverseStream (a single user message) and the chat playground's inference settings.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { CatalogModel } from '../../api/types';
import { Alert, Button, Card, TextArea } from '../../components';
import { useT } from '../../i18n';
import { ApiRequestDialog } from './ApiRequestDialog';
import type { Reply } from './ChatPage';
import {
  buildConverseBody,
  DEFAULT_SETTINGS,
  errorMessage,
  isAbort,
  streamConverse,
  validateSettings,
  type InferenceSettings,
} from './converse';
import { isSubmitEnter, ModelPrice, ModelSelect, PlaygroundPage, ReplyStats, SettingsPanel, useInitialModel } from './shared';
import { playgroundStrings } from './strings';

export default function TextPage() {
  return <PlaygroundPage page="text" playground={TextPlayground} />;
}

function TextPlayground({ models }: { models: CatalogModel[] }) {
  const t = useT(playgroundStrings);
  const [modelId, setModelId] = useState(useInitialModel(models));
  const [settings, setSettings] = useState<InferenceSettings>(DEFAULT_SETTINGS);
  const [prompt, setPrompt] = useState('');
  const [reply, setReply] = useState<Reply | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [showApi, setShowApi] = useState(false);
  const ctl = useRef<AbortController | null>(null);
  const busy = reply?.status === 'streaming';
  const model = models.find((m) => m.modelId === modelId);

  useEffect(() => () => ctl.current?.abort(), []);

  const run = () => {
    if (busy || prompt.trim() === '' || !modelId) return;
    if (Object.keys(validateSettings(settings)).length) {
      setFormError(t('fixSettings'));
      return;
    }
    setFormError(null);
    const body = buildConverseBody([{ role: 'user', text: prompt }], settings, false);
    const c = new AbortController();
    ctl.current = c;
    setReply({ modelId, text: '', status: 'streaming' });
    streamConverse(modelId, body, c.signal, (delta) => setReply((r) => r && { ...r, text: r.text + delta }))
      .then((res) =>
        setReply((r) => r && { ...r, status: 'done', usage: res.usage, latencyMs: res.latencyMs, stopReason: res.stopReason }),
      )
      .catch((e: unknown) =>
        setReply((r) => r && (isAbort(e) ? { ...r, status: 'stopped' } : { ...r, status: 'error', error: errorMessage(e) })),
      );
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (busy) ctl.current?.abort();
    else run();
  };

  return (
    <>
      <div className="pg-toolbar" role="toolbar" aria-label={t('textTitle')}>
        <Button onClick={() => setShowApi(true)}>{t('viewApiRequest')}</Button>
      </div>
      <div className="pg-layout">
        <div className="pg-main">
          <form className="card pg-text-form" onSubmit={onSubmit}>
            <div className="card-body">
              <ModelSelect models={models} value={modelId} onChange={setModelId} label={t('model')} disabled={busy} />
              <ModelPrice model={model} />
              <TextArea
                label={t('prompt')}
                hint={t('enterHint')}
                rows={6}
                placeholder={t('promptPlaceholder')}
                value={prompt}
                onChange={(e) => setPrompt(e.target.value)}
                onKeyDown={(e) => {
                  if (isSubmitEnter(e)) {
                    e.preventDefault();
                    run();
                  }
                }}
              />
              {formError && (
                <Alert tone="error" onDismiss={() => setFormError(null)}>
                  {formError}
                </Alert>
              )}
              <div className="pg-form-actions">
                {busy ? (
                  <Button type="submit" variant="danger">
                    ■ {t('stop')}
                  </Button>
                ) : (
                  <Button type="submit" variant="primary" disabled={prompt.trim() === '' || !modelId}>
                    {t('run')}
                  </Button>
                )}
              </div>
            </div>
          </form>
          <Card title={t('completion')} className="pg-completion-card">
            <div className="pg-completion" role="log" aria-busy={busy} aria-label={t('completion')} tabIndex={0}>
              {!reply ? (
                <p className="pg-muted">{t('emptyCompletion')}</p>
              ) : reply.text === '' && busy ? (
                <span className="pg-typing" role="status">
                  {t('generating')}
                </span>
              ) : (
                <div className={`pg-completion-text ${busy ? 'pg-streaming' : ''}`}>{reply.text}</div>
              )}
            </div>
            {reply?.status === 'error' && (
              <Alert tone="error" title={t('replyFailed')}>
                {reply.error}
              </Alert>
            )}
            {reply?.status === 'stopped' && <p className="pg-stopped">{t('stopped')}</p>}
            {reply && <ReplyStats model={model} usage={reply.usage} latencyMs={reply.latencyMs} stopReason={reply.stopReason} />}
          </Card>
        </div>
        <aside className="pg-side">
          <SettingsPanel settings={settings} onChange={setSettings} showSystem={false} disabled={busy} />
        </aside>
      </div>
      <ApiRequestDialog
        open={showApi}
        onClose={() => setShowApi(false)}
        models={models}
        targets={
          showApi && modelId
            ? [{ modelId, body: buildConverseBody([{ role: 'user', text: prompt.trim() ? prompt : t('prompt') }], settings, false) }]
            : []
        }
      />
    </>
  );
}
