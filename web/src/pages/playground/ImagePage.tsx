// The image playground (/playground/image): Amazon Titan Image Generator bodies
// (TEXT_IMAGE) through InvokeModel, a gallery of the PNGs with downloads.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, seg } from '../../api/client';
import type { CatalogModel } from '../../api/types';
import { Alert, Button, Card, EmptyState, Select, TextArea, TextField } from '../../components';
import { useFormat, useT } from '../../i18n';
import { errorMessage, isAbort } from './converse';
import { isSubmitEnter, ModelPrice, ModelSelect, PlaygroundPage, useInitialModel } from './shared';
import { imageFileName, IMAGE_SIZES, MAX_PROMPT, MAX_SEED, titanImageBody, validateImage, type ImageSettings } from './image';
import { playgroundStrings } from './strings';

interface Generated {
  prompt: string;
  images: string[];
}

export default function ImagePage() {
  return <PlaygroundPage page="image" playground={ImagePlayground} />;
}

function ImagePlayground({ models }: { models: CatalogModel[] }) {
  const t = useT(playgroundStrings);
  const f = useFormat();
  const [modelId, setModelId] = useState(useInitialModel(models));
  const [s, setS] = useState<ImageSettings>({ text: '', negativeText: '', size: '512x512', count: '1', seed: '42', cfgScale: '8' });
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<Generated | null>(null);
  const ctl = useRef<AbortController | null>(null);
  useEffect(() => () => ctl.current?.abort(), []);
  const model = models.find((m) => m.modelId === modelId);
  const errors = validateImage(s);
  // The prompt's "required" error waits for a Generate; the others show as soon as typed.
  const shown = (k: keyof ImageSettings) => (touched || k !== 'text' ? errors[k] : undefined);
  const set = (k: keyof ImageSettings, v: string) => setS((x) => ({ ...x, [k]: v }));

  const generate = async () => {
    setTouched(true);
    if (busy || Object.keys(errors).length || !modelId) return;
    setBusy(true);
    setError(null);
    const c = new AbortController();
    ctl.current = c;
    try {
      const res = await api<{ images?: string[]; error?: string | null }>(`/model/${seg(modelId)}/invoke`, {
        method: 'POST',
        body: titanImageBody(s),
        signal: c.signal,
      });
      if (res?.error) setError(res.error);
      setResult({ prompt: s.text, images: res?.images ?? [] });
    } catch (e) {
      if (!isAbort(e)) setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void generate();
  };

  const download = (b64: string, n: number) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const url = URL.createObjectURL(new Blob([bytes], { type: 'image/png' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = imageFileName(result?.prompt ?? '', n);
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };

  return (
    <div className="pg-layout">
      <div className="pg-main">
        <Card title={t('gallery')} className="pg-gallery-card">
          {busy ? (
            <p className="pg-typing" role="status">
              {t('generating_images')}
            </p>
          ) : error ? (
            <Alert tone="error">{error}</Alert>
          ) : !result || result.images.length === 0 ? (
            <EmptyState title={t('emptyGallery')} level={3} />
          ) : (
            <ul className="pg-gallery">
              {result.images.map((b64, n) => (
                <li key={n} className="pg-gallery-item">
                  <img src={`data:image/png;base64,${b64}`} alt={t('imageAlt', { n: n + 1, prompt: result.prompt })} />
                  <Button size="sm" onClick={() => download(b64, n + 1)} aria-label={t('downloadLabel', { n: n + 1 })}>
                    <span aria-hidden="true">↓</span> {t('download')}
                  </Button>
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>
      <aside className="pg-side">
        <form className="card pg-settings" onSubmit={onSubmit} aria-label={t('settings')}>
          <div className="card-body">
            <ModelSelect models={models} value={modelId} onChange={setModelId} label={t('model')} disabled={busy} />
            <ModelPrice model={model} />
            <TextArea
              label={t('prompt')}
              rows={4}
              value={s.text}
              error={shown('text')}
              hint={t('charsLeft', { n: f.number(MAX_PROMPT - s.text.length) })}
              onChange={(e) => set('text', e.target.value)}
              onKeyDown={(e) => {
                if (isSubmitEnter(e)) {
                  e.preventDefault();
                  void generate();
                }
              }}
            />
            <TextArea
              label={t('negativePrompt')}
              hint={t('negativePromptHint')}
              rows={2}
              value={s.negativeText}
              error={shown('negativeText')}
              onChange={(e) => set('negativeText', e.target.value)}
            />
            <Select
              label={t('size')}
              value={s.size}
              onChange={(e) => set('size', e.target.value)}
              options={IMAGE_SIZES.map((x) => ({ value: x, label: x.replace('x', ' × ') }))}
            />
            <TextField
              label={t('count')}
              type="number"
              min={1}
              max={5}
              step={1}
              value={s.count}
              error={shown('count')}
              onChange={(e) => set('count', e.target.value)}
            />
            <TextField
              label={t('seed')}
              hint={t('seedHint')}
              type="number"
              min={0}
              max={MAX_SEED}
              step={1}
              value={s.seed}
              error={shown('seed')}
              onChange={(e) => set('seed', e.target.value)}
            />
            <TextField
              label={t('cfgScale')}
              hint={t('cfgScaleHint')}
              type="number"
              min={1.1}
              max={10}
              step={0.1}
              value={s.cfgScale}
              error={shown('cfgScale')}
              onChange={(e) => set('cfgScale', e.target.value)}
            />
            <div className="pg-form-actions">
              <Button type="submit" variant="primary" loading={busy}>
                {t('generate')}
              </Button>
            </div>
          </div>
        </form>
      </aside>
    </div>
  );
}
