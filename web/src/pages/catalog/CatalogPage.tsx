import { useMemo, useState } from 'react';
import type { CatalogModel } from '../../api/types';
import { useApi } from '../../api/useApi';
import { Badge, Button, buttonClass, EmptyState, LoadFailedAlert, Loading, PageHeader, SearchField, Select } from '../../components';
import { useLang, useT } from '../../i18n';
import { Link, useNavigate, useSearchParams } from '../../router';
import { paths, playgroundPath } from '../../routes';
import { useRequiredSession } from '../../session';
import { AccessBadge, fetchCatalog } from '../access/access';
import { contextText, modalityName, playgroundKind, priceText } from './format';
import { catalogStrings } from './strings';
import './catalog.css';

export default function CatalogPage() {
  const t = useT(catalogStrings);
  const session = useRequiredSession();
  const catalog = useApi((s) => fetchCatalog(s), []);
  const params = useSearchParams();
  const navigate = useNavigate();
  const [query, setQuery] = useState(() => params.get('q') ?? '');
  const provider = params.get('provider') ?? '';

  const setProvider = (p: string) => {
    const next = new URLSearchParams(params);
    if (p) next.set('provider', p);
    else next.delete('provider');
    const s = next.toString();
    navigate(paths.catalog + (s ? `?${s}` : ''), { replace: true });
  };

  const models = useMemo(() => catalog.data?.models ?? [], [catalog.data]);
  const providers = useMemo(
    () => Array.from(new Set(models.map((m) => m.providerName))).sort((a, b) => a.localeCompare(b)),
    [models],
  );
  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    return models
      .filter((m) => !provider || m.providerName === provider)
      .filter((m) => !q || [m.modelName, m.modelId, m.providerName].some((s) => s.toLowerCase().includes(q)))
      .sort((a, b) => Number(b.served) - Number(a.served) || a.providerName.localeCompare(b.providerName) || a.modelName.localeCompare(b.modelName));
  }, [models, provider, query]);
  const noneServed = catalog.data !== undefined && models.length > 0 && !models.some((m) => m.served);

  let body;
  if (catalog.error && !catalog.data) {
    body = (
      <LoadFailedAlert title={t('loadFailed')} error={catalog.error} onRetry={() => void catalog.reload()} retryLabel="↻" />
    );
  } else if (!catalog.data) {
    body = <Loading />;
  } else if (models.length === 0) {
    body = (
      <EmptyState
        title={t('emptyCatalogTitle')}
        action={
          session.can.manageModels ? (
            <Link to={paths.models} className={buttonClass('primary')}>
              {t('pullModel')}
            </Link>
          ) : undefined
        }
      >
        {t('emptyCatalogBody')}
      </EmptyState>
    );
  } else {
    body = (
      <>
        <div className="catalog-toolbar" role="search">
          <SearchField
            label={t('search')}
            placeholder={t('searchPlaceholder')}
            value={query}
            onChange={setQuery}
            className="catalog-search"
          />
          <Select
            label={t('provider')}
            hideLabel
            value={provider}
            onChange={(e) => setProvider(e.target.value)}
            options={[{ value: '', label: t('allProviders') }, ...providers.map((p) => ({ value: p, label: p }))]}
            fieldClassName="catalog-provider"
          />
          <span className="catalog-count muted" aria-live="polite">
            {shown.length === 1 ? t('countOne') : t('count', { count: shown.length })}
          </span>
        </div>
        {shown.length === 0 ? (
          <EmptyState
            title={t('noMatchTitle')}
            action={
              <Button
                onClick={() => {
                  setQuery('');
                  setProvider('');
                }}
              >
                {t('clearFilters')}
              </Button>
            }
          >
            {t('noMatchBody')}
          </EmptyState>
        ) : (
          <ul className="catalog-grid" aria-label={t('cardsLabel')}>
            {shown.map((m) => (
              <ModelCard key={m.modelId} model={m} />
            ))}
          </ul>
        )}
      </>
    );
  }

  return (
    <>
      <PageHeader title={t('title')} description={t('description')} />
      {noneServed && (
        <div className="catalog-noserved" role="status">
          <div>
            <h2>{t('noServedTitle')}</h2>
            <p>{session.can.manageModels ? t('noServedBodyAdmin') : t('noServedBodyUser')}</p>
          </div>
          {session.can.manageModels && (
            <Link to={paths.models} className={buttonClass('primary')}>
              {t('pullModel')}
            </Link>
          )}
        </div>
      )}
      {body}
    </>
  );
}

function ModelCard({ model: m }: { model: CatalogModel }) {
  const t = useT(catalogStrings);
  const { lang, locale } = useLang();
  const titleId = `model-${m.modelId.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const modalities = (list: string[]) => list.map((x) => modalityName(x, lang)).join(', ');
  return (
    <li className={`card model-card ${m.served ? '' : 'model-card-missing'}`}>
      <div className="model-card-top">
        <span className="model-provider">{m.providerName}</span>
        <span className="spacer" />
        {!m.served ? (
          <Badge tone="warning" title={t('weightsMissingHint')}>
            {t('weightsMissing')}
          </Badge>
        ) : (
          <AccessBadge status={m.access} />
        )}
      </div>
      <h2 className="model-name" id={titleId}>
        <Link to={paths.model(m.modelId)}>{m.modelName || m.modelId}</Link>
      </h2>
      <code className="model-id">{m.modelId}</code>
      <dl className="model-facts">
        <div>
          <dt>{t('modalities')}</dt>
          <dd>
            {modalities(m.inputModalities)} → {modalities(m.outputModalities)}
          </dd>
        </div>
        <div>
          <dt>{t('contextLength')}</dt>
          <dd>{contextText(m, t, locale)}</dd>
        </div>
        <div>
          <dt>{t('price')}</dt>
          <dd>{priceText(m, t, locale)}</dd>
        </div>
        <div>
          <dt>{t('regions')}</dt>
          <dd>{m.regions.length ? m.regions.join(', ') : t('none')}</dd>
        </div>
      </dl>
      {!m.served && <p className="model-missing-note">{t('weightsMissingHint')}</p>}
      <div className="model-card-actions">
        <Link to={paths.model(m.modelId)} className={buttonClass('normal', 'sm')} aria-label={t('viewDetailsOf', { name: m.modelName || m.modelId })}>
          {t('viewDetails')}
        </Link>
        {m.served && m.access === 'GRANTED' && (
          <Link to={playgroundPath(playgroundKind(m), m.modelId)} className={buttonClass('link', 'sm')}>
            {t('openPlayground')}
          </Link>
        )}
      </div>
    </li>
  );
}
