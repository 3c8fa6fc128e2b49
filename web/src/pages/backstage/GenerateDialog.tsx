import { useEffect, useRef, useState } from 'react';
import { ApiError } from '../../api/client';
import { Alert, Button, Dialog, Spinner, TextArea } from '../../components';
import { common } from '../../i18n/strings';
import { useT } from '../../i18n';
import { appsApi, type AppInfo } from './appsApi';
import { describeProblem, MAX_DESCRIPTION } from './backstage';
import { backstageStrings } from './strings';

const SAMPLES = ['sample1', 'sample2', 'sample3', 'sample4'] as const;

/** Generate an app: the user describes it in words (or picks a sample idea), Generate posts
 *  it to /basalt/apps/generate and `onGenerated` receives the new app. Cancel aborts the call. */
export function GenerateDialog({
  open,
  onClose,
  onGenerated,
}: {
  open: boolean;
  onClose: () => void;
  onGenerated: (app: AppInfo) => void;
}) {
  const t = useT(backstageStrings);
  const tc = useT(common);
  const [text, setText] = useState('');
  const [problem, setProblem] = useState<ReturnType<typeof describeProblem>>(null);
  const [error, setError] = useState<{ title: string; message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [elapsed, setElapsed] = useState(0);
  const ctrl = useRef<AbortController | null>(null);
  const areaRef = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (!open) return;
    setProblem(null);
    setError(null);
    // After the Dialog's showModal() (a child's effect runs first), which focuses its first
    // button: the description is what the user came to type.
    areaRef.current?.focus();
  }, [open]);

  useEffect(() => {
    if (!busy) return;
    const started = Date.now();
    setElapsed(0);
    const id = window.setInterval(() => setElapsed(Math.floor((Date.now() - started) / 1000)), 1000);
    return () => window.clearInterval(id);
  }, [busy]);

  useEffect(() => () => ctrl.current?.abort(), []);

  const close = () => {
    ctrl.current?.abort();
    ctrl.current = null;
    setBusy(false);
    onClose();
  };

  const submit = async () => {
    if (busy) return;
    const p = describeProblem(text);
    setProblem(p);
    setError(null);
    if (p) {
      areaRef.current?.focus();
      return;
    }
    const c = new AbortController();
    ctrl.current = c;
    setBusy(true);
    try {
      const app = await appsApi.generate(text.trim(), c.signal);
      if (c.signal.aborted) return;
      setBusy(false);
      setText('');
      onGenerated(app);
    } catch (e) {
      if ((e as Error).name === 'AbortError' || c.signal.aborted) return;
      setBusy(false);
      const err = e instanceof ApiError ? e : new ApiError(0, '', String(e));
      const throttled = err.status === 429;
      setError({ title: t('generateFailed'), message: throttled ? `${t('generateThrottled')} (${err.message})` : err.message });
      areaRef.current?.focus();
    } finally {
      if (ctrl.current === c) ctrl.current = null;
    }
  };

  return (
    <Dialog
      open={open}
      onClose={close}
      title={t('generateTitle')}
      size="lg"
      onSubmit={() => void submit()}
      footer={
        <>
          <Button onClick={close}>{tc('cancel')}</Button>
          <Button type="submit" variant="primary" loading={busy}>
            {t('generateSubmit')}
          </Button>
        </>
      }
    >
      <div className="stack generate-dialog">
        <TextArea
          ref={areaRef}
          label={t('describe')}
          hint={t('describeHint')}
          placeholder={t('describePlaceholder')}
          rows={4}
          value={text}
          readOnly={busy}
          error={problem ? t(problem, { max: MAX_DESCRIPTION }) : undefined}
          onChange={(e) => {
            setText(e.target.value);
            if (problem) setProblem(null);
          }}
        />
        <div role="group" aria-labelledby="generate-samples-label" className="generate-samples">
          <span id="generate-samples-label" className="field-label">
            {t('samplesLabel')}
          </span>
          <ul>
            {SAMPLES.map((k) => (
              <li key={k}>
                <button
                  type="button"
                  className="generate-sample"
                  disabled={busy}
                  aria-pressed={text === t(k)}
                  onClick={() => {
                    setText(t(k));
                    setProblem(null);
                    areaRef.current?.focus();
                  }}
                >
                  {t(k)}
                </button>
              </li>
            ))}
          </ul>
        </div>
        {busy && (
          <div className="generate-progress" role="status">
            <Spinner size="sm" decorative />
            <span>{t('generating')}</span>
            {elapsed > 0 && <span className="muted" aria-hidden="true">{elapsed} s</span>}
          </div>
        )}
        {error && (
          <Alert tone="error" title={error.title}>
            {error.message}
          </Alert>
        )}
      </div>
    </Dialog>
  );
}
