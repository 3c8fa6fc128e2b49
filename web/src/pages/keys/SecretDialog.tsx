import { useId } from 'react';
import { Alert, Button, CopyButton, Dialog } from '../../components';
import { useFormat, useT } from '../../i18n';
import { useRequiredSession } from '../../session';
import type { AccessKey, ApiKey, ShortTermKey } from './admin';
import { keysStrings } from './strings';

export type CreatedSecret =
  | { kind: 'access'; key: AccessKey; snippet: string }
  | { kind: 'api'; key: ApiKey }
  | { kind: 'short'; key: ShortTermKey };

/** A read-only value with its label and a copy button. */
export function SecretValue({ label, value, testId }: { label: string; value: string; testId?: string }) {
  const id = useId();
  return (
    <div className="field secret-field">
      <label htmlFor={id} className="field-label">
        {label}
      </label>
      <div className="secret-row">
        <input
          id={id}
          className="input mono secret-input"
          readOnly
          value={value}
          data-testid={testId}
          spellCheck={false}
          onFocus={(e) => e.currentTarget.select()}
        />
        <CopyButton text={value} what={label} />
      </div>
    </div>
  );
}

/** A code snippet (credentials file, environment lines) with its heading and a copy button. */
export function Snippet({ title, text, hint, testId }: { title: string; text: string; hint?: string; testId?: string }) {
  const id = useId();
  return (
    <div className="snippet">
      <div className="snippet-head">
        <span id={id} className="field-label">
          {title}
        </span>
        <CopyButton text={text} what={title} />
      </div>
      {hint && <p className="field-hint snippet-hint">{hint}</p>}
      <pre className="snippet-code" aria-labelledby={id} data-testid={testId} tabIndex={0}>
        <code>{text}</code>
      </pre>
    </div>
  );
}

export function SecretDialog({ secret, onClose }: { secret: CreatedSecret | null; onClose: () => void }) {
  const t = useT(keysStrings);
  const fmt = useFormat();
  const session = useRequiredSession();
  const endpoint = session.endpoint || window.location.origin;
  const region = session.region;

  let title = '';
  let body = null;
  if (secret?.kind === 'access') {
    const k = secret.key;
    const secretKey = k.SecretAccessKey ?? '';
    const credentials =
      secret.snippet ||
      `[basalt]\naws_access_key_id = ${k.AccessKeyId}\naws_secret_access_key = ${secretKey}\n`;
    const env =
      `export AWS_ACCESS_KEY_ID=${k.AccessKeyId}\n` +
      `export AWS_SECRET_ACCESS_KEY=${secretKey}\n` +
      `export AWS_REGION=${region}\n` +
      `export AWS_ENDPOINT_URL=${endpoint}\n`;
    title = t('accessKeyCreatedTitle');
    body = (
      <>
        <SecretValue label={t('accessKeyId')} value={k.AccessKeyId} testId="new-access-key-id" />
        <SecretValue label={t('secretAccessKey')} value={secretKey} testId="new-secret-access-key" />
        <Snippet title={t('credentialsFile')} text={credentials.trimEnd()} hint={t('credentialsHint')} testId="credentials-snippet" />
        <Snippet title={t('envVars')} text={env.trimEnd()} />
      </>
    );
  } else if (secret?.kind === 'api' || secret?.kind === 'short') {
    const token = secret.key.Token ?? '';
    const expires = secret.key.ExpiresAt;
    const env =
      `export AWS_BEARER_TOKEN_BEDROCK=${token}\n` +
      `export AWS_REGION=${secret.kind === 'short' ? secret.key.Region || region : region}\n` +
      `export AWS_ENDPOINT_URL=${endpoint}\n`;
    title = secret.kind === 'api' ? t('apiKeyCreatedTitle') : t('shortTermCreatedTitle');
    body = (
      <>
        {secret.kind === 'api' && <SecretValue label={t('apiKeyId')} value={secret.key.ApiKeyId} testId="new-api-key-id" />}
        <SecretValue label={t('token')} value={token} testId="new-api-key-token" />
        <p className="muted secret-expiry">
          {expires ? t('expiresAt', { date: fmt.dateTime(expires) }) : t('neverExpires')}
        </p>
        <Snippet title={t('bearerLine')} text={env.trimEnd()} hint={t('bearerHint')} testId="bearer-snippet" />
      </>
    );
  }

  return (
    <Dialog
      open={secret !== null}
      onClose={onClose}
      title={title}
      size="lg"
      footer={
        <Button variant="primary" onClick={onClose}>
          {t('done')}
        </Button>
      }
    >
      <div className="stack">
        <Alert tone="warning" live={false}>
          {t('shownOnce')}
        </Alert>
        {body}
      </div>
    </Dialog>
  );
}
