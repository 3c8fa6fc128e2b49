import { useState } from 'react';
import { ApiError } from '../../api/client';
import { Button, type ButtonVariant } from '../../components';
import { useT } from '../../i18n';
import { useNavigate } from '../../router';
import { paths } from '../../routes';
import { appsApi, shareTokenOf, type AppInfo } from './appsApi';
import { backstageStrings } from './strings';
import './backstage.css';

/** Remix: copies an app into the signed-in user's account (POST /shared/{token}/remix, or
 *  /apps/{id}/remix for the owner's own app) and opens the copy. `shareToken` is the token the
 *  page was opened with (a shared app's JSON carries none for anyone but its owner). */
export function RemixButton({
  app,
  shareToken,
  variant = 'normal',
  size = 'md',
  onRemixed,
}: {
  app: AppInfo;
  shareToken?: string;
  variant?: ButtonVariant;
  size?: 'sm' | 'md';
  /** Called with the copy instead of navigating to it. */
  onRemixed?: (copy: AppInfo) => void;
}) {
  const t = useT(backstageStrings);
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const remix = async () => {
    setBusy(true);
    setError(null);
    try {
      const token = shareToken ?? shareTokenOf(app);
      const copy = app.isOwner || !token ? await appsApi.remixOwn(app.appId) : await appsApi.remixShared(token);
      setBusy(false);
      if (onRemixed) onRemixed(copy);
      else navigate(paths.app(copy.appId));
    } catch (e) {
      setBusy(false);
      setError(t('remixFailed', { message: e instanceof ApiError ? e.message : String(e) }));
    }
  };

  return (
    <span className="remix">
      <Button
        variant={variant}
        size={size}
        loading={busy}
        aria-label={t('remixLabel', { title: app.title })}
        onClick={() => void remix()}
      >
        {busy ? t('remixing') : t('remix')}
      </Button>
      {error && (
        <span className="remix-error field-error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}

export default RemixButton;
