import { useState } from 'react';
import type { CatalogModel } from '../../api/types';
import { useApi } from '../../api/useApi';
import { Alert, Badge, Button, buttonClass, Card, CopyButton, EmptyState, Loading, PageHeader, Tabs } from '../../components';
import { useLang, useT } from '../../i18n';
import { Link } from '../../router';
import { paths, playgroundPath } from '../../routes';
import { useRequiredSession } from '../../session';
import { AccessBadge, fetchCatalog, requestable } from '../access/access';
import { useRequestAccess } from '../access/useRequestAccess';
import { RequestResults } from '../access/Results';
import { contextText, modalityName, playgroundKind, priceText } from './format';
import { cliSample, isImageModel, jsSample, pythonSample } from './samples';
import { catalogStrings } from './strings';
import './catalog.css';

export default function ModelPage({ id }: { id: string }) {
  const t = useT(catalogStrings);
  const catalog = useApi((s) => fetchCatalog(s), []);
  const model = catalog.data?.models.find((m) => m.modelId === id || m.modelArn === id);
  const crumbs = [{ label: t('title'), to: paths.catalog }];

  if (catalog.error && !catalog.data) {
    return (
      <>
        <PageHeader title={id} breadcrumbs={[...crumbs, { label: id }]} />
        <Alert tone="error" title={t('loadFailed')} action={<Button onClick={() => void catalog.reload()}>↻</Button>}>
          {catalog.error.message}
        </Alert>
      </>
    );
  }
  if (!catalog.data) return <Loading />;
  if (!model) {
    return (
      <>
        <PageHeader title={t('notFoundTitle')} breadcrumbs={[...crumbs, { label: id }]} />
        <Card>
          <EmptyState
            title={t('notFoundTitle')}
            action={
              <Link to={paths.catalog} className={buttonClass('primary')}>
                {t('backToCatalog')}
              </Link>
            }
          >
            {t('notFoundBody', { id })}
          </EmptyState>
        </Card>
      </>
    );
  }
  return <ModelDetails model={model} reload={() => void catalog.reload()} crumbs={crumbs} />;
}

function ModelDetails({
  model: m,
  reload,
  crumbs,
}: {
  model: CatalogModel;
  reload: () => void;
  crumbs: { label: string; to?: string }[];
}) {
  const t = useT(catalogStrings);
  const { lang, locale } = useLang();
  const session = useRequiredSession();
  const req = useRequestAccess(reload);
  const [tab, setTab] = useState('cli');
  const name = m.modelName || m.modelId;
  const modalities = (list: string[]) => list.map((x) => modalityName(x, lang)).join(', ');
  const image = isImageModel(m);
  const input = {
    model: m,
    endpoint: session.endpoint,
    region: session.region,
    prompt: image ? t('sampleImagePrompt') : t('samplePrompt'),
  };
  const code = (label: string, text: string) => (
    <div className="code-wrap">
      <span className="code-lang" aria-hidden="true">
        {label}
      </span>
      <CopyButton text={text} what={t('copySample', { lang: label })} />
      <pre className="code-block" tabIndex={0} aria-label={label}>
        <code>{text}</code>
      </pre>
    </div>
  );

  const accessBody =
    !m.served
      ? t('accessNotAvailableBody')
      : m.access === 'GRANTED'
        ? t('accessGrantedBody')
        : m.access === 'IN_PROGRESS'
          ? t('accessInProgressBody')
          : m.access === 'DENIED'
            ? t('accessDeniedBody')
            : m.useCaseRequired
              ? t('accessAvailableUseCase')
              : t('accessAvailableBody');

  const requestButton = requestable(m) && (
    <Button variant={m.access === 'GRANTED' ? 'normal' : 'primary'} loading={req.busy} onClick={() => void req.request([m])}>
      {t('requestAccess')}
    </Button>
  );

  return (
    <>
      <PageHeader
        title={name}
        breadcrumbs={[...crumbs, { label: name }]}
        description={
          <>
            {m.providerName} · <code>{m.modelId}</code>
          </>
        }
        actions={
          <>
            {requestButton}
            {m.served && (
              <Link
                to={playgroundPath(playgroundKind(m), m.modelId)}
                className={buttonClass(m.access === 'GRANTED' ? 'primary' : 'normal')}
              >
                {t('openPlayground')}
              </Link>
            )}
          </>
        }
      />
      <div className="stack">
        <RequestResults results={req.results} onDismiss={req.clearResults} />
        {!m.served && (
          <Alert tone="warning" title={t('weightsMissing')}>
            {t('weightsMissingHint')}
          </Alert>
        )}
        <div className="model-layout">
          <div className="stack">
            <Card title={t('identifiers')}>
              <div className="id-row">
                <span className="id-label">{t('modelId')}</span>
                <code className="id-value" data-testid="model-id">
                  {m.modelId}
                </code>
                <CopyButton text={m.modelId} what={t('modelId')} />
              </div>
              <div className="id-row">
                <span className="id-label">{t('modelArn')}</span>
                <code className="id-value" data-testid="model-arn">
                  {m.modelArn}
                </code>
                <CopyButton text={m.modelArn} what={t('modelArn')} />
              </div>
            </Card>
            <Card title={t('samples')}>
              <p className="muted">
                {t(image ? 'samplesImageIntro' : 'samplesIntro', { endpoint: session.endpoint, region: session.region })}
              </p>
              <Tabs
                label={t('sampleTabs')}
                active={tab}
                onChange={setTab}
                tabs={[
                  { id: 'cli', label: t('tabCli'), content: code(t('tabCli'), cliSample(input)) },
                  { id: 'python', label: t('tabPython'), content: code(t('tabPython'), pythonSample(input)) },
                  { id: 'js', label: t('tabJs'), content: code(t('tabJs'), jsSample(input)) },
                ]}
              />
            </Card>
          </div>
          <div className="stack">
            <Card title={t('access')}>
              <div className="access-box">
                <div>{m.served ? <AccessBadge status={m.access} /> : <Badge tone="warning">{t('weightsMissing')}</Badge>}</div>
                <p>{accessBody}</p>
                <div className="row">
                  <Link to={paths.access} className={buttonClass('link', 'sm')}>
                    {t('manageAccess')}
                  </Link>
                </div>
              </div>
            </Card>
            <Card title={t('details')}>
              <dl className="kv">
                <dt>{t('providerName')}</dt>
                <dd>{m.providerName}</dd>
                <dt>{t('input')}</dt>
                <dd>{modalities(m.inputModalities)}</dd>
                <dt>{t('output')}</dt>
                <dd>{modalities(m.outputModalities)}</dd>
                <dt>{t('contextLength')}</dt>
                <dd>{contextText(m, t, locale)}</dd>
                <dt>{t('streaming')}</dt>
                <dd>{m.responseStreamingSupported ? t('yes') : t('no')}</dd>
                <dt>{t('price')}</dt>
                <dd>{priceText(m, t, locale)}</dd>
                <dt>{t('regions')}</dt>
                <dd>{m.regions.length ? m.regions.join(', ') : t('none')}</dd>
                <dt>{t('servedStatus')}</dt>
                <dd>{m.served ? t('served') : t('weightsMissing')}</dd>
              </dl>
            </Card>
          </div>
        </div>
      </div>
      {req.dialog}
    </>
  );
}
