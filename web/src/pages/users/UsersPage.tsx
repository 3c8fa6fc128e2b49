import { useMemo, useState } from 'react';
import { ApiError } from '../../api/client';
import { useApi } from '../../api/useApi';
import {
  Alert,
  Badge,
  Button,
  Card,
  CopyButton,
  Dialog,
  EmptyState,
  FormDialog,
  LoadFailedAlert,
  Loading,
  NotAllowedPage,
  NoticeAlert,
  PageHeader,
  SearchField,
  Select,
  Table,
  TextArea,
  TextField,
  type Column,
  type Notice,
} from '../../components';
import { useFormat, useT } from '../../i18n';
import { Link, useLocation } from '../../router';
import { paths } from '../../routes';
import { useRequiredSession } from '../../session';
import { adminApi, passwordProblem, requiredProblem, type PolicyEntry, type User } from '../keys/admin';
import { ConfirmDialog } from '../keys/ConfirmDialog';
import { KeysPanel } from '../keys/KeysPanel';
import { SecretValue } from '../keys/SecretDialog';
import { usersStrings } from './strings';
import '../usage/usage.css';
import '../keys/keys.css';
import './users.css';

type Generated = { user: User; password: string } | null;

export default function UsersPage() {
  const session = useRequiredSession();
  const t = useT(usersStrings);
  const location = useLocation();
  const userId = new URLSearchParams(location.search).get('user');
  if (!session.can.manageUsers) {
    return (
      <NotAllowedPage title={t('title')} heading={t('notAllowedTitle')}>
        {t('notAllowedBody')}
      </NotAllowedPage>
    );
  }
  return userId ? <UserDetail key={userId} userId={userId} /> : <UserList />;
}

const userPath = (id: string) => `${paths.users}?user=${encodeURIComponent(id)}`;

function RoleBadge({ role }: { role: string }) {
  const t = useT(usersStrings);
  return role === 'admin' ? <Badge tone="info">{t('roleAdmin')}</Badge> : <Badge>{t('roleUser')}</Badge>;
}

function UserList() {
  const t = useT(usersStrings);
  const fmt = useFormat();
  const session = useRequiredSession();
  const users = useApi((s) => adminApi.listUsers(s), []);
  const policies = useApi((s) => adminApi.listPolicies(s), []);
  const [query, setQuery] = useState('');
  const [createOpen, setCreateOpen] = useState(false);
  const [policyOpen, setPolicyOpen] = useState(false);
  const [notice, setNotice] = useState<Notice>(null);
  const [generated, setGenerated] = useState<Generated>(null);

  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    const list = users.data ?? [];
    if (!q) return list;
    return list.filter(
      (u) => u.UserName.toLowerCase().includes(q) || u.AttachedPolicies.some((p) => p.toLowerCase().includes(q)),
    );
  }, [users.data, query]);

  const columns: Column<User>[] = [
    {
      key: 'name',
      header: t('colName'),
      cell: (u) => (
        <span className="user-name-cell">
          <Link to={userPath(u.UserId)}>{u.UserName}</Link>
          {u.UserId === session.user.UserId && <span className="muted"> ({t('you')})</span>}
        </span>
      ),
    },
    { key: 'role', header: t('colRole'), cell: (u) => <RoleBadge role={u.Role} /> },
    {
      key: 'policies',
      header: t('colPolicies'),
      cell: (u) =>
        u.AttachedPolicies.length ? (
          <ul className="policy-list">
            {u.AttachedPolicies.map((p) => (
              <li key={p}>
                <code>{p}</code>
              </li>
            ))}
          </ul>
        ) : (
          <span className="muted">—</span>
        ),
    },
    {
      key: 'console',
      header: t('colConsole'),
      cell: (u) => (u.PasswordSet ? <Badge tone="success">{t('passwordSet')}</Badge> : <Badge>{t('noPassword')}</Badge>),
    },
    { key: 'created', header: t('colCreated'), cell: (u) => fmt.dateTime(u.CreateDate) },
  ];

  const policyColumns: Column<PolicyEntry>[] = [
    { key: 'name', header: t('colPolicy'), cell: (p) => <code>{p.PolicyName}</code> },
    {
      key: 'type',
      header: t('colType'),
      cell: (p) => (p.Type === 'BuiltIn' ? <Badge>{t('builtIn')}</Badge> : <Badge tone="info">{t('custom')}</Badge>),
    },
  ];

  return (
    <>
      <PageHeader
        title={t('title')}
        description={t('description', { account: session.user.AccountName })}
        actions={
          <Button variant="primary" onClick={() => setCreateOpen(true)}>
            {t('createUser')}
          </Button>
        }
      />
      <div className="stack">
        <NoticeAlert notice={notice} onDismiss={() => setNotice(null)} />
        {users.error && !users.data ? (
          <LoadFailedAlert title={t('loadFailed')} error={users.error} onRetry={() => void users.reload()} />
        ) : users.loading && !users.data ? (
          <Loading />
        ) : (users.data ?? []).length === 0 ? (
          <Card>
            <EmptyState
              title={t('emptyTitle')}
              action={
                <Button variant="primary" onClick={() => setCreateOpen(true)}>
                  {t('createUser')}
                </Button>
              }
            >
              {t('emptyBody')}
            </EmptyState>
          </Card>
        ) : (
          <>
            <SearchField
              label={t('search')}
              placeholder={t('searchPlaceholder')}
              value={query}
              onChange={setQuery}
              className="users-search"
            />
            <Table
              caption={t('usersCaption')}
              columns={columns}
              rows={shown}
              rowKey={(u) => u.UserId}
              empty={t('noMatch', { query })}
            />
          </>
        )}
        <Card
          title={t('accountPolicies')}
          actions={
            <Button size="sm" onClick={() => setPolicyOpen(true)}>
              {t('createPolicy')}
            </Button>
          }
        >
          {policies.error && !policies.data ? (
            <Alert tone="error">{policies.error.message}</Alert>
          ) : !policies.data ? (
            <Loading />
          ) : (
            <Table caption={t('accountPolicies')} columns={policyColumns} rows={policies.data} rowKey={(p) => p.PolicyName} />
          )}
        </Card>
      </div>
      <CreateUserDialog
        open={createOpen}
        policies={policies.data ?? []}
        onClose={() => setCreateOpen(false)}
        onCreated={(user, result) => {
          setCreateOpen(false);
          if (result.kind === 'failed')
            setNotice({ tone: 'error', text: t('createdButPassword', { name: user.UserName, message: result.message }) });
          else setNotice({ tone: 'success', text: t('created', { name: user.UserName }) });
          if (result.kind === 'generated') setGenerated({ user, password: result.password });
          void users.reload();
        }}
      />
      <PolicyDialog
        open={policyOpen}
        onClose={() => setPolicyOpen(false)}
        onSaved={(name) => {
          setPolicyOpen(false);
          setNotice({ tone: 'success', text: t('policySaved', { name }) });
          void policies.reload();
        }}
      />
      <GeneratedPasswordDialog generated={generated} onClose={() => setGenerated(null)} />
    </>
  );
}

type PasswordResult = { kind: 'none' } | { kind: 'set' } | { kind: 'generated'; password: string } | { kind: 'failed'; message: string };

type PasswordErrors = { pw?: string; pw2?: string };

/** A new password: its own problem, or else the confirmation that differs. */
function passwordErrors(pw: string, pw2: string, differ: string): PasswordErrors {
  const p = passwordProblem(pw);
  if (p) return { pw: p };
  return pw !== pw2 ? { pw2: differ } : {};
}

/** A new password and its confirmation, side by side. */
function PasswordFields({
  label,
  hint,
  pw,
  pw2,
  setPw,
  setPw2,
  errors,
}: {
  label: string;
  hint?: string;
  pw: string;
  pw2: string;
  setPw: (v: string) => void;
  setPw2: (v: string) => void;
  errors: PasswordErrors;
}) {
  const t = useT(usersStrings);
  return (
    <div className="form-row">
      <TextField
        label={label}
        type="password"
        autoComplete="new-password"
        hint={hint}
        value={pw}
        onChange={(e) => setPw(e.target.value)}
        error={errors.pw}
      />
      <TextField
        label={t('confirmPassword')}
        type="password"
        autoComplete="new-password"
        value={pw2}
        onChange={(e) => setPw2(e.target.value)}
        error={errors.pw2}
      />
    </div>
  );
}

function defaultPolicies(role: string) {
  return [role === 'admin' ? 'BasaltAdministrator' : 'AmazonBedrockFullAccess'];
}

function CreateUserDialog({
  open,
  policies,
  onClose,
  onCreated,
}: {
  open: boolean;
  policies: PolicyEntry[];
  onClose: () => void;
  onCreated: (u: User, r: PasswordResult) => void;
}) {
  const t = useT(usersStrings);
  const [name, setName] = useState('');
  const [role, setRole] = useState('user');
  const [chosen, setChosen] = useState<string[]>(defaultPolicies('user'));
  const [touched, setTouched] = useState(false);
  const [consoleMode, setConsoleMode] = useState<'none' | 'set' | 'generate'>('set');
  const [pw, setPw] = useState('');
  const [pw2, setPw2] = useState('');
  const [errors, setErrors] = useState<{ name?: string; pw?: string; pw2?: string }>({});
  const [apiError, setApiError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const reset = () => {
    setName('');
    setRole('user');
    setChosen(defaultPolicies('user'));
    setTouched(false);
    setConsoleMode('set');
    setPw('');
    setPw2('');
    setErrors({});
    setApiError(null);
  };
  const close = () => {
    if (busy) return;
    reset();
    onClose();
  };

  const submit = async () => {
    const e: typeof errors = {};
    const n = requiredProblem(name, 'name', 64);
    if (n) e.name = n;
    if (consoleMode === 'set') Object.assign(e, passwordErrors(pw, pw2, t('passwordsDiffer')));
    setErrors(e);
    setApiError(null);
    if (Object.keys(e).length) return;
    setBusy(true);
    let user: User;
    try {
      user = await adminApi.createUser(name, role, chosen);
    } catch (err) {
      setBusy(false);
      setApiError(err instanceof ApiError ? err.message : String(err));
      return;
    }
    let result: PasswordResult = { kind: 'none' };
    try {
      if (consoleMode === 'set') {
        await adminApi.setPassword(user.UserId, pw);
        result = { kind: 'set' };
      } else if (consoleMode === 'generate') {
        const r = await adminApi.generatePassword(user.UserId);
        result = { kind: 'generated', password: r.Password };
      }
    } catch (err) {
      result = { kind: 'failed', message: err instanceof ApiError ? err.message : String(err) };
    }
    setBusy(false);
    reset();
    onCreated(user, result);
  };

  const allPolicies = policies.length
    ? policies
    : [
        { PolicyName: 'AmazonBedrockFullAccess', Type: 'BuiltIn' },
        { PolicyName: 'AmazonBedrockReadOnly', Type: 'BuiltIn' },
        { PolicyName: 'BasaltInvokeOnly', Type: 'BuiltIn' },
        { PolicyName: 'BasaltAdministrator', Type: 'BuiltIn' },
      ];

  return (
    <FormDialog
      open={open}
      onClose={close}
      title={t('createTitle')}
      size="lg"
      onSubmit={() => void submit()}
      submitLabel={t('create')}
      busy={busy}
    >
      <div className="stack">
        <TextField
          label={t('userName')}
          hint={t('userNameHint')}
          value={name}
          autoComplete="off"
          spellCheck={false}
          onChange={(e) => setName(e.target.value)}
          error={errors.name}
          autoFocus
        />
        <Select
          label={t('role')}
          hint={t('roleHint')}
          value={role}
          onChange={(e) => {
            setRole(e.target.value);
            if (!touched) setChosen(defaultPolicies(e.target.value));
          }}
          options={[
            { value: 'user', label: t('roleUser') },
            { value: 'admin', label: t('roleAdmin') },
          ]}
        />
        <fieldset className="checks checks-grid">
          <legend className="field-label">{t('policies')}</legend>
          <p className="field-hint">{t('policiesHint')}</p>
          {allPolicies.map((p) => (
            <label key={p.PolicyName} className="check">
              <input
                type="checkbox"
                className="checkbox"
                checked={chosen.includes(p.PolicyName)}
                onChange={(e) => {
                  setTouched(true);
                  setChosen((c) => (e.target.checked ? [...c, p.PolicyName] : c.filter((x) => x !== p.PolicyName)));
                }}
              />
              <code>{p.PolicyName}</code>
              <Badge tone={p.Type === 'BuiltIn' ? 'neutral' : 'info'}>{p.Type === 'BuiltIn' ? t('builtIn') : t('custom')}</Badge>
            </label>
          ))}
        </fieldset>
        <fieldset className="checks checks-inline">
          <legend className="field-label">{t('consoleAccess')}</legend>
          {(['set', 'generate', 'none'] as const).map((m) => (
            <label key={m} className="check">
              <input type="radio" name="console-mode" checked={consoleMode === m} onChange={() => setConsoleMode(m)} />
              {m === 'set' ? t('consoleSet') : m === 'generate' ? t('consoleGenerate') : t('consoleNone')}
            </label>
          ))}
        </fieldset>
        {consoleMode === 'set' && (
          <PasswordFields label={t('password')} hint={t('passwordHint')} pw={pw} pw2={pw2} setPw={setPw} setPw2={setPw2} errors={errors} />
        )}
        {apiError && <Alert tone="error">{apiError}</Alert>}
      </div>
    </FormDialog>
  );
}

function PolicyDialog({ open, onClose, onSaved }: { open: boolean; onClose: () => void; onSaved: (name: string) => void }) {
  const t = useT(usersStrings);
  const [name, setName] = useState('');
  const [doc, setDoc] = useState(
    JSON.stringify(
      {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['bedrock:InvokeModel', 'bedrock:Converse*'], Resource: '*' }],
      },
      null,
      2,
    ),
  );
  const [errors, setErrors] = useState<{ name?: string; doc?: string }>({});
  const [apiError, setApiError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const close = () => {
    if (busy) return;
    setErrors({});
    setApiError(null);
    onClose();
  };
  const submit = async () => {
    const e: typeof errors = {};
    if (!/^[A-Za-z0-9+=,.@_-]{1,128}$/.test(name)) e.name = t('policyNameProblem', { name });
    try {
      JSON.parse(doc);
    } catch (err) {
      e.doc = t('policyJsonProblem', { message: (err as Error).message });
    }
    setErrors(e);
    setApiError(null);
    if (Object.keys(e).length) return;
    setBusy(true);
    try {
      await adminApi.putPolicy(name, doc);
      setBusy(false);
      onSaved(name);
      setName('');
    } catch (err) {
      setBusy(false);
      setApiError(err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
    <FormDialog
      open={open}
      onClose={close}
      title={t('createPolicyTitle')}
      size="lg"
      onSubmit={() => void submit()}
      submitLabel={t('save')}
      busy={busy}
    >
      <div className="stack">
        <TextField
          label={t('policyName')}
          hint={t('policyNameHint')}
          value={name}
          spellCheck={false}
          autoComplete="off"
          onChange={(e) => setName(e.target.value)}
          error={errors.name}
        />
        <TextArea
          label={t('policyDocument')}
          hint={t('policyDocumentHint')}
          value={doc}
          rows={12}
          spellCheck={false}
          className="mono"
          onChange={(e) => setDoc(e.target.value)}
          error={errors.doc}
        />
        {apiError && <Alert tone="error">{apiError}</Alert>}
      </div>
    </FormDialog>
  );
}

function GeneratedPasswordDialog({ generated, onClose }: { generated: Generated; onClose: () => void }) {
  const t = useT(usersStrings);
  const session = useRequiredSession();
  const name = generated?.user.UserName ?? '';
  return (
    <Dialog
      open={generated !== null}
      onClose={onClose}
      title={t('generatedTitle')}
      footer={
        <Button variant="primary" onClick={onClose}>
          {t('done')}
        </Button>
      }
    >
      {generated && (
        <div className="stack">
          <Alert tone="warning" live={false}>
            {t('generatedOnce', { name })}
          </Alert>
          <dl className="detail-list">
            <dt>{t('consoleUrl')}</dt>
            <dd>
              <code>{window.location.origin}</code>
            </dd>
            <dt>{t('accountLabel')}</dt>
            <dd>
              <code>{session.user.AccountName}</code> <span className="muted">({generated.user.AccountId})</span>
            </dd>
            <dt>{t('userNameLabel')}</dt>
            <dd>
              <code>{name}</code>
            </dd>
          </dl>
          <SecretValue label={t('generatedPassword')} value={generated.password} testId="generated-password" />
        </div>
      )}
    </Dialog>
  );
}

function UserDetail({ userId }: { userId: string }) {
  const t = useT(usersStrings);
  const fmt = useFormat();
  const session = useRequiredSession();
  const user = useApi((s) => adminApi.getUser(userId, s), [userId]);
  const policies = useApi((s) => adminApi.listPolicies(s), []);
  const [notice, setNotice] = useState<Notice>(null);
  const [attachChoice, setAttachChoice] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [detach, setDetach] = useState<string | null>(null);
  const [removePw, setRemovePw] = useState(false);
  const [generated, setGenerated] = useState<Generated>(null);
  const [pw, setPw] = useState('');
  const [pw2, setPw2] = useState('');
  const [pwErrors, setPwErrors] = useState<PasswordErrors>({});

  const u = user.data;
  const fail = (e: unknown) => setNotice({ tone: 'error', text: e instanceof ApiError ? e.message : String(e) });
  const typeOf = (name: string) => policies.data?.find((p) => p.PolicyName === name)?.Type;

  if (user.error && !u) {
    return (
      <>
        <PageHeader title={t('userNotFound')} breadcrumbs={[{ label: t('back'), to: paths.users }, { label: userId }]} />
        <Alert tone="error">{user.error.message}</Alert>
      </>
    );
  }
  if (!u) return <Loading />;

  const attachable = (policies.data ?? []).filter((p) => !u.AttachedPolicies.includes(p.PolicyName));

  const attach = async () => {
    if (!attachChoice) return;
    setBusy('attach');
    setNotice(null);
    try {
      await adminApi.attachPolicy(u.UserId, attachChoice);
      setNotice({ tone: 'success', text: t('attached_', { policy: attachChoice, name: u.UserName }) });
      setAttachChoice('');
    } catch (e) {
      fail(e);
    } finally {
      setBusy(null);
      await user.reload();
    }
  };

  const setPassword = async () => {
    const e = passwordErrors(pw, pw2, t('passwordsDiffer'));
    setPwErrors(e);
    if (Object.keys(e).length) return;
    setBusy('password');
    setNotice(null);
    try {
      await adminApi.setPassword(u.UserId, pw);
      setPw('');
      setPw2('');
      setNotice({ tone: 'success', text: t('passwordSaved', { name: u.UserName }) });
    } catch (err) {
      fail(err);
    } finally {
      setBusy(null);
      await user.reload();
    }
  };

  const generate = async () => {
    setBusy('generate');
    setNotice(null);
    try {
      const r = await adminApi.generatePassword(u.UserId);
      setGenerated({ user: u, password: r.Password });
    } catch (err) {
      fail(err);
    } finally {
      setBusy(null);
      await user.reload();
    }
  };

  const policyColumns: Column<string>[] = [
    { key: 'name', header: t('colPolicy'), cell: (p) => <code>{p}</code> },
    {
      key: 'type',
      header: t('colType'),
      cell: (p) => (typeOf(p) === 'Custom' ? <Badge tone="info">{t('custom')}</Badge> : <Badge>{t('builtIn')}</Badge>),
    },
    {
      key: 'actions',
      header: t('colActions'),
      align: 'right',
      cell: (p) => (
        <Button size="sm" variant="danger" aria-label={t('detachLabel', { policy: p })} onClick={() => setDetach(p)}>
          {t('detach')}
        </Button>
      ),
    },
  ];

  return (
    <>
      <PageHeader
        title={u.UserName}
        breadcrumbs={[{ label: t('back'), to: paths.users }, { label: u.UserName }]}
        description={u.Arn}
      />
      <div className="stack">
        <NoticeAlert notice={notice} onDismiss={() => setNotice(null)} />
        <Card title={t('userDetails')}>
          <dl className="detail-grid">
            <div>
              <dt>{t('userId')}</dt>
              <dd>
                <code>{u.UserId}</code>
              </dd>
            </div>
            <div className="detail-wide">
              <dt>{t('arn')}</dt>
              <dd className="row">
                <code className="arn-text">{u.Arn}</code>
                <CopyButton text={u.Arn} what={t('copyArn')} />
              </dd>
            </div>
            <div>
              <dt>{t('colRole')}</dt>
              <dd>
                <RoleBadge role={u.Role} />
              </dd>
            </div>
            <div>
              <dt>{t('created_')}</dt>
              <dd>{fmt.dateTime(u.CreateDate)}</dd>
            </div>
          </dl>
        </Card>

        <Card title={t('attached')}>
          {u.AttachedPolicies.length === 0 ? (
            <Alert tone="warning" live={false}>
              {t('noPolicies')}
            </Alert>
          ) : (
            <Table
              caption={t('attachedCaption', { name: u.UserName })}
              columns={policyColumns}
              rows={u.AttachedPolicies}
              rowKey={(p) => p}
            />
          )}
          <form
            className="attach-form"
            onSubmit={(e) => {
              e.preventDefault();
              void attach();
            }}
          >
            {attachable.length === 0 && policies.data ? (
              <p className="muted">{t('allAttached')}</p>
            ) : (
              <>
                <Select
                  label={t('attachPolicy')}
                  value={attachChoice}
                  placeholder={t('choosePolicy')}
                  onChange={(e) => setAttachChoice(e.target.value)}
                  options={attachable.map((p) => ({
                    value: p.PolicyName,
                    label: `${p.PolicyName} (${p.Type === 'BuiltIn' ? t('builtIn') : t('custom')})`,
                  }))}
                />
                <Button type="submit" disabled={!attachChoice} loading={busy === 'attach'}>
                  {t('attach')}
                </Button>
              </>
            )}
          </form>
        </Card>

        <Card title={t('consoleTitle')}>
          <div className="stack">
            <p className="console-state">
              {u.PasswordSet ? (
                <Badge tone="success">{t('passwordSet')}</Badge>
              ) : (
                <Badge>{t('noPassword')}</Badge>
              )}{' '}
              {u.PasswordSet ? t('consoleOn', { name: u.UserName }) : t('consoleOff', { name: u.UserName })}{' '}
              <span className="muted">{t('signInWith', { account: session.user.AccountName, name: u.UserName })}</span>
            </p>
            <form
              className="password-form"
              onSubmit={(e) => {
                e.preventDefault();
                void setPassword();
              }}
              noValidate
            >
              <p className="field-hint">{t('passwordHint')}</p>
              <PasswordFields label={t('newPassword')} pw={pw} pw2={pw2} setPw={setPw} setPw2={setPw2} errors={pwErrors} />
              <div className="row">
                <Button type="submit" variant="primary" loading={busy === 'password'}>
                  {t('setPassword')}
                </Button>
                <Button onClick={() => void generate()} loading={busy === 'generate'}>
                  {t('generate')}
                </Button>
                {u.PasswordSet && (
                  <Button variant="danger" onClick={() => setRemovePw(true)}>
                    {t('removePassword')}
                  </Button>
                )}
              </div>
            </form>
          </div>
        </Card>

        <section className="user-keys" aria-labelledby="user-keys-title">
          <h2 id="user-keys-title" className="section-heading">
            {t('keysTitle', { name: u.UserName })}
          </h2>
          <KeysPanel userId={u.UserId} headingLevel={3} />
        </section>
      </div>

      <ConfirmDialog
        open={detach !== null}
        title={t('detachTitle')}
        confirmLabel={t('detach')}
        onClose={() => setDetach(null)}
        onConfirm={async () => {
          const p = detach!;
          await adminApi.detachPolicy(u.UserId, p);
          setNotice({ tone: 'success', text: t('detached', { policy: p, name: u.UserName }) });
          await user.reload();
        }}
      >
        {detach && t('detachBody', { name: u.UserName, policy: detach })}
      </ConfirmDialog>
      <ConfirmDialog
        open={removePw}
        title={t('removeTitle')}
        confirmLabel={t('removePassword')}
        onClose={() => setRemovePw(false)}
        onConfirm={async () => {
          await adminApi.deletePassword(u.UserId);
          setNotice({ tone: 'success', text: t('passwordRemoved', { name: u.UserName }) });
          await user.reload();
        }}
      >
        {t('removeBody', { name: u.UserName })}
      </ConfirmDialog>
      <GeneratedPasswordDialog generated={generated} onClose={() => setGenerated(null)} />
    </>
  );
}
