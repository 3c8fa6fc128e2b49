import { useState, type ReactNode } from 'react';
import { ApiError } from '../../api/client';
import { useApi } from '../../api/useApi';
import {
  Alert,
  Badge,
  Button,
  Card,
  EmptyState,
  FormDialog,
  LoadFailedAlert,
  Loading,
  NoticeAlert,
  Select,
  Table,
  TextField,
  type Column,
  type Notice,
} from '../../components';
import { useFormat, useT } from '../../i18n';
import { adminApi, type AccessKey, type ApiKey } from './admin';
import { ConfirmDialog } from './ConfirmDialog';
import { SecretDialog, type CreatedSecret } from './SecretDialog';
import { keysStrings } from './strings';

type Confirm =
  | { kind: 'access'; id: string }
  | { kind: 'api'; id: string }
  | null;

/** Access keys and API keys of one user (the signed-in user when `userId` is left out). */
export function KeysPanel({ userId, headingLevel = 2 }: { userId?: string; headingLevel?: 2 | 3 }) {
  const t = useT(keysStrings);
  const fmt = useFormat();
  const access = useApi((s) => adminApi.listAccessKeys(userId, s), [userId]);
  const apiKeys = useApi((s) => adminApi.listApiKeys(userId, s), [userId]);
  const [secret, setSecret] = useState<CreatedSecret | null>(null);
  const [confirm, setConfirm] = useState<Confirm>(null);
  const [notice, setNotice] = useState<Notice>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [createApiOpen, setCreateApiOpen] = useState(false);
  const [shortFrom, setShortFrom] = useState<string | null>(null);

  const run = async (key: string, fn: () => Promise<unknown>, ok: string, reload: () => Promise<void>) => {
    setBusy(key);
    setNotice(null);
    try {
      await fn();
      setNotice({ tone: 'success', text: ok });
    } catch (e) {
      setNotice({ tone: 'error', text: e instanceof ApiError ? e.message : String(e) });
    } finally {
      setBusy(null);
      await reload();
    }
  };

  const createAccessKey = async () => {
    setBusy('create-access');
    setNotice(null);
    try {
      const r = await adminApi.createAccessKey(userId);
      setSecret({ kind: 'access', key: r.AccessKey, snippet: r.CredentialsFileSnippet });
    } catch (e) {
      setNotice({ tone: 'error', text: e instanceof ApiError ? e.message : String(e) });
    } finally {
      setBusy(null);
      await access.reload();
    }
  };

  const statusBadge = (status: string, expiresAt?: string | null) => {
    if (expiresAt && Date.parse(expiresAt) <= Date.now()) return <Badge tone="warning">{t('expired')}</Badge>;
    return status === 'Active' ? <Badge tone="success">{t('active')}</Badge> : <Badge tone="neutral">{t('inactive')}</Badge>;
  };

  // Activate or deactivate, and delete: the same for both kinds of key.
  const keyActions = (
    kind: 'access' | 'api',
    id: string,
    status: string,
    setStatus: (s: 'Active' | 'Inactive') => Promise<unknown>,
    reload: () => Promise<void>,
  ) => {
    const activeNow = status === 'Active';
    return (
      <>
        <Button
          size="sm"
          loading={busy === `s-${id}`}
          aria-label={t(activeNow ? 'deactivateLabel' : 'activateLabel', { id })}
          onClick={() =>
            void run(`s-${id}`, () => setStatus(activeNow ? 'Inactive' : 'Active'), t(activeNow ? 'deactivated' : 'activated', { id }), reload)
          }
        >
          {activeNow ? t('deactivate') : t('activate')}
        </Button>
        <Button size="sm" variant="danger" aria-label={t('deleteLabel', { id })} onClick={() => setConfirm({ kind, id })}>
          {t('delete')}
        </Button>
      </>
    );
  };

  const accessColumns: Column<AccessKey>[] = [
    { key: 'id', header: t('colAccessKeyId'), cell: (k) => <code className="key-id">{k.AccessKeyId}</code> },
    { key: 'status', header: t('colStatus'), cell: (k) => statusBadge(k.Status) },
    { key: 'created', header: t('colCreated'), cell: (k) => fmt.dateTime(k.CreateDate) },
    {
      key: 'actions',
      header: t('colActions'),
      align: 'right',
      cell: (k) => (
        <div className="key-actions">
          {k.Status === 'Active' && (
            <Button size="sm" variant="link" aria-label={t('shortTermLabel', { id: k.AccessKeyId })} onClick={() => setShortFrom(k.AccessKeyId)}>
              {t('shortTerm')}
            </Button>
          )}
          {keyActions('access', k.AccessKeyId, k.Status, (s) => adminApi.updateAccessKey(k.AccessKeyId, s), access.reload)}
        </div>
      ),
    },
  ];

  const apiColumns: Column<ApiKey>[] = [
    { key: 'id', header: t('colApiKeyId'), cell: (k) => <code className="key-id">{k.ApiKeyId}</code> },
    { key: 'status', header: t('colStatus'), cell: (k) => statusBadge(k.Status, k.ExpiresAt) },
    { key: 'expires', header: t('colExpires'), cell: (k) => (k.ExpiresAt ? fmt.dateTime(k.ExpiresAt) : t('never')) },
    { key: 'created', header: t('colCreated'), cell: (k) => fmt.dateTime(k.CreateDate) },
    {
      key: 'actions',
      header: t('colActions'),
      align: 'right',
      cell: (k) => (
        <div className="key-actions">
          {keyActions('api', k.ApiKeyId, k.Status, (s) => adminApi.updateApiKey(k.ApiKeyId, s, userId), apiKeys.reload)}
        </div>
      ),
    },
  ];

  const section = (
    title: string,
    help: string,
    action: ReactNode,
    state: { data: unknown[] | undefined; error: ApiError | null; loading: boolean; reload: () => Promise<void> },
    table: ReactNode,
    emptyTitle: string,
    emptyBody: string,
  ) => (
    <Card title={title} level={headingLevel} actions={action}>
      <p className="muted key-help">{help}</p>
      {state.error && !state.data ? (
        <LoadFailedAlert title={t('loadFailed')} error={state.error} onRetry={() => void state.reload()} />
      ) : state.loading && !state.data ? (
        <Loading />
      ) : state.data && state.data.length === 0 ? (
        <EmptyState level={headingLevel === 2 ? 3 : 3} title={emptyTitle}>
          {emptyBody}
        </EmptyState>
      ) : (
        table
      )}
    </Card>
  );

  return (
    <div className="stack">
      <NoticeAlert notice={notice} onDismiss={() => setNotice(null)} />
      {section(
        t('accessKeys'),
        t('accessKeysHelp'),
        <Button variant="primary" size="sm" loading={busy === 'create-access'} onClick={() => void createAccessKey()}>
          {t('createAccessKey')}
        </Button>,
        access,
        <Table caption={t('accessKeysCaption')} columns={accessColumns} rows={access.data ?? []} rowKey={(k) => k.AccessKeyId} />,
        t('noAccessKeysTitle'),
        t('noAccessKeysBody'),
      )}
      {section(
        t('apiKeys'),
        t('apiKeysHelp'),
        <Button variant="primary" size="sm" onClick={() => setCreateApiOpen(true)}>
          {t('createApiKey')}
        </Button>,
        apiKeys,
        <Table caption={t('apiKeysCaption')} columns={apiColumns} rows={apiKeys.data ?? []} rowKey={(k) => k.ApiKeyId} />,
        t('noApiKeysTitle'),
        t('noApiKeysBody'),
      )}

      <CreateApiKeyDialog
        open={createApiOpen}
        onClose={() => setCreateApiOpen(false)}
        onCreate={async (seconds) => {
          const r = await adminApi.createApiKey(userId, seconds);
          setCreateApiOpen(false);
          setSecret({ kind: 'api', key: r.ApiKey });
          await apiKeys.reload();
        }}
      />
      <ShortTermDialog
        accessKeyId={shortFrom}
        onClose={() => setShortFrom(null)}
        onCreate={async (seconds) => {
          const r = await adminApi.createShortTermKey(shortFrom!, seconds);
          setShortFrom(null);
          setSecret({ kind: 'short', key: r });
        }}
      />
      <SecretDialog secret={secret} onClose={() => setSecret(null)} />
      <ConfirmDialog
        open={confirm !== null}
        title={confirm?.kind === 'api' ? t('deleteApiKeyTitle') : t('deleteAccessKeyTitle')}
        confirmLabel={t('delete')}
        onClose={() => setConfirm(null)}
        onConfirm={async () => {
          if (!confirm) return;
          if (confirm.kind === 'access') await adminApi.deleteAccessKey(confirm.id);
          else await adminApi.deleteApiKey(confirm.id, userId);
          setNotice({ tone: 'success', text: t('deleted', { id: confirm.id }) });
          await (confirm.kind === 'access' ? access.reload() : apiKeys.reload());
        }}
      >
        {confirm &&
          (confirm.kind === 'api'
            ? t('deleteApiKeyBody', { id: confirm.id })
            : t('deleteAccessKeyBody', { id: confirm.id }))}
      </ConfirmDialog>
    </div>
  );
}

const EXPIRY = ['never', '1', '7', '30', '90', '365', 'custom'] as const;

function CreateApiKeyDialog({
  open,
  onClose,
  onCreate,
}: {
  open: boolean;
  onClose: () => void;
  onCreate: (expiresInSeconds: number | undefined) => Promise<void>;
}) {
  const t = useT(keysStrings);
  const [choice, setChoice] = useState<(typeof EXPIRY)[number]>('never');
  const [days, setDays] = useState('14');
  const [error, setError] = useState<string | null>(null);
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const label = (c: (typeof EXPIRY)[number]) =>
    c === 'never'
      ? t('expiryNever')
      : c === 'custom'
        ? t('expiryCustom')
        : t(({ '1': 'expiry1', '7': 'expiry7', '30': 'expiry30', '90': 'expiry90', '365': 'expiry365' } as const)[c]);
  const close = () => {
    if (busy) return;
    setError(null);
    setFieldError(null);
    onClose();
  };
  const submit = async () => {
    setError(null);
    setFieldError(null);
    let seconds: number | undefined;
    if (choice === 'custom') {
      const n = Number(days);
      if (!/^\s*\d+\s*$/.test(days) || !Number.isSafeInteger(n) || n < 1) {
        setFieldError(t('expiryDaysProblem'));
        return;
      }
      seconds = n * 86400;
    } else if (choice !== 'never') {
      seconds = Number(choice) * 86400;
    }
    setBusy(true);
    try {
      await onCreate(seconds);
      setChoice('never');
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <FormDialog open={open} onClose={close} title={t('createApiKeyTitle')} onSubmit={() => void submit()} submitLabel={t('create')} busy={busy}>
      <div className="stack">
        <Select
          label={t('expiry')}
          value={choice}
          onChange={(e) => setChoice(e.target.value as (typeof EXPIRY)[number])}
          options={EXPIRY.map((c) => ({ value: c, label: label(c) }))}
          hint={choice === 'never' ? t('expiryHint') : undefined}
        />
        {choice === 'custom' && (
          <TextField
            label={t('expiryDays')}
            inputMode="numeric"
            value={days}
            onChange={(e) => setDays(e.target.value)}
            error={fieldError ?? undefined}
          />
        )}
        {error && <Alert tone="error">{error}</Alert>}
      </div>
    </FormDialog>
  );
}

function ShortTermDialog({
  accessKeyId,
  onClose,
  onCreate,
}: {
  accessKeyId: string | null;
  onClose: () => void;
  onCreate: (seconds: number) => Promise<void>;
}) {
  const t = useT(keysStrings);
  const [hours, setHours] = useState('12');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const close = () => {
    if (busy) return;
    setError(null);
    onClose();
  };
  return (
    <FormDialog
      open={accessKeyId !== null}
      onClose={close}
      title={t('shortTermTitle')}
      onSubmit={async () => {
        setBusy(true);
        setError(null);
        try {
          await onCreate(Number(hours) * 3600);
        } catch (e) {
          setError(e instanceof ApiError ? e.message : String(e));
        } finally {
          setBusy(false);
        }
      }}
      submitLabel={t('create')}
      busy={busy}
    >
      <div className="stack">
        <p style={{ margin: 0 }}>{t('shortTermHelp', { id: accessKeyId ?? '' })}</p>
        <Select
          label={t('shortTermExpiry')}
          value={hours}
          onChange={(e) => setHours(e.target.value)}
          options={[
            { value: '1', label: t('hours1') },
            { value: '4', label: t('hours4') },
            { value: '12', label: t('hours12') },
          ]}
        />
        {error && <Alert tone="error">{error}</Alert>}
      </div>
    </FormDialog>
  );
}
