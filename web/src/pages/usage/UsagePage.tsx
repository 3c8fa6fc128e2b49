import { useEffect, useId, useMemo, useState, type FormEvent } from 'react';
import { apiFetch, get } from '../../api/client';
import { adminApi } from '../keys/admin';
import { useApi } from '../../api/useApi';
import {
  Button,
  buttonClass,
  Card,
  EmptyState,
  LoadFailedAlert,
  Loading,
  MenuButton,
  NotAllowedPage,
  NoticeAlert,
  PageHeader,
  Select,
  TextField,
  type Notice,
} from '../../components';
import { useFormat, useLang, useT } from '../../i18n';
import { Link } from '../../router';
import { paths } from '../../routes';
import { useRequiredSession } from '../../session';
import { BarChart, type Datum, type Series } from './charts';
import { usageStrings } from './strings';
import {
  byDay,
  byModel,
  checkRange,
  csvFileName,
  lastDays,
  usageQuery,
  type DayRange,
  type Keyed,
  type RangePreset,
  type Source,
  type UsageReport,
  type UsageSums,
} from './usage';
import './usage.css';

type Metric = 'tokens' | 'images' | 'cost';

const COLORS = {
  input: '#0972d3',
  output: '#c7511f',
  images: '#037f51',
  cost: '#6842c2',
};

export default function UsagePage() {
  const t = useT(usageStrings);
  const session = useRequiredSession();
  const fmt = useFormat();
  const { locale } = useLang();
  const wholeAccount = session.can.viewAccountUsage;

  const [preset, setPreset] = useState<RangePreset>('7');
  const [custom, setCustom] = useState<DayRange>(() => lastDays(7));
  const [draft, setDraft] = useState<DayRange>(() => lastDays(7));
  const [rangeError, setRangeError] = useState<string | null>(null);
  const [source, setSource] = useState<Source>('');
  const [metric, setMetric] = useState<Metric>('tokens');
  const [notice, setNotice] = useState<Notice>(null);

  const range = useMemo<DayRange>(
    () => (preset === 'custom' ? custom : lastDays(Number(preset))),
    [preset, custom],
  );
  const report = useApi(
    (signal) => get<UsageReport>(usageQuery(range, { groupBy: 'day,model', source }), { signal }),
    [range.from, range.to, source],
  );

  // Administrators: the same period per user (names from the users list when they may see it).
  const perUser = useApi(
    (signal) =>
      wholeAccount
        ? get<UsageReport>(usageQuery(range, { groupBy: 'user', source }), { signal })
        : Promise.resolve(undefined),
    [wholeAccount, range.from, range.to, source],
  );
  const userNames = useApi(
    (signal) =>
      session.can.manageUsers
        ? adminApi.listUsers(signal).then((us) => Object.fromEntries(us.map((u) => [u.UserId, u.UserName])))
        : Promise.resolve({} as Record<string, string>),
    [session.can.manageUsers],
  );

  const compact = useMemo(
    () => new Intl.NumberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 }),
    [locale],
  );
  const usdShort = (n: number) =>
    new Intl.NumberFormat(locale, {
      style: 'currency',
      currency: 'USD',
      currencyDisplay: 'narrowSymbol',
      minimumFractionDigits: 2,
      maximumFractionDigits: n !== 0 && Math.abs(n) < 0.01 ? 6 : 4,
    }).format(n);

  const days = useMemo(() => (report.data ? byDay(report.data, range) : []), [report.data, range]);
  const models = useMemo(() => (report.data ? byModel(report.data) : []), [report.data]);
  const total = report.data?.total;

  const applyCustom = (e?: FormEvent) => {
    e?.preventDefault();
    const problem = checkRange(draft);
    if (problem) {
      setRangeError(t(problem));
      return;
    }
    setRangeError(null);
    setCustom(draft);
  };

  const download = async (kind: 'summary' | 'records') => {
    setNotice(null);
    const file = csvFileName(range, kind, source);
    try {
      const res = await apiFetch(
        usageQuery(range, { source, format: 'csv', groupBy: kind === 'summary' ? 'day,model' : undefined }),
        { headers: { Accept: 'text/csv' } },
      );
      const blob = await res.blob();
      const url = URL.createObjectURL(new Blob([blob], { type: 'text/csv' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = file;
      document.body.appendChild(a);
      a.click();
      a.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setNotice({ tone: 'success', text: t('downloaded', { file }) });
    } catch (e) {
      setNotice({ tone: 'error', text: t('downloadFailed', { message: (e as Error).message }) });
    }
  };

  // Chart data for the chosen metric.
  const metricName = metric === 'tokens' ? t('tokens') : metric === 'images' ? t('images') : t('cost');
  const series: Series[] =
    metric === 'tokens'
      ? [
          { name: t('inputTokens'), color: COLORS.input },
          { name: t('outputTokens'), color: COLORS.output },
        ]
      : metric === 'images'
        ? [{ name: t('images'), color: COLORS.images }]
        : [{ name: t('cost'), color: COLORS.cost }];
  const values = (k: Keyed) =>
    metric === 'tokens' ? [k.inputTokens, k.outputTokens] : metric === 'images' ? [k.images] : [k.cost];
  const valueFormat = metric === 'cost' ? usdShort : (n: number) => fmt.number(n);
  const tickFormat = metric === 'cost' ? usdShort : (n: number) => compact.format(n);
  const dayLabel = (d: string) => d.slice(5); // MM-DD; the table fallback has the full date
  const dayData: Datum[] = days.map((d) => ({ key: d.key, label: dayLabel(d.key), values: values(d) }));
  const dayTableData: Datum[] = days.map((d) => ({ key: d.key, label: d.key, values: values(d) }));
  const modelData: Datum[] = models.map((m) => ({ key: m.key, label: m.key || '—', values: values(m) }));
  const sum = (ds: Datum[]) => ds.reduce((a, d) => a + d.values.reduce((x, y) => x + y, 0), 0);
  const peak = (ds: Datum[]) =>
    ds.reduce<Datum | null>(
      (best, d) =>
        !best || d.values.reduce((x, y) => x + y, 0) > best.values.reduce((x, y) => x + y, 0) ? d : best,
      null,
    );
  const daySummary = () => {
    const p = peak(dayTableData);
    const all = sum(dayTableData);
    if (!p || all === 0) return t('chartSummaryEmpty', { metric: metricName });
    return t('chartSummaryDay', {
      metric: metricName,
      from: range.from,
      to: range.to,
      total: valueFormat(all),
      peakDay: p.key,
      peak: valueFormat(p.values.reduce((x, y) => x + y, 0)),
    });
  };
  const modelSummary = () => {
    const p = peak(modelData);
    const all = sum(modelData);
    if (!p || all === 0) return t('chartSummaryEmpty', { metric: metricName });
    return t('chartSummaryModel', {
      metric: metricName,
      total: valueFormat(all),
      peakModel: p.label,
      peak: valueFormat(p.values.reduce((x, y) => x + y, 0)),
    });
  };

  if (!session.can.viewUsage) {
    return (
      <NotAllowedPage title={t('title')} heading={t('noPermissionTitle')}>
        {t('noPermissionBody')}
      </NotAllowedPage>
    );
  }

  const empty = total !== undefined && total.requests === 0;

  return (
    <>
      <PageHeader
        title={t('title')}
        description={wholeAccount ? t('descAccount', { account: session.user.AccountName }) : t('descOwn')}
        actions={
          <MenuButton
            ariaLabel={t('download')}
            label={t('download')}
            className="usage-download"
            items={[
              { key: 'summary', label: t('downloadSummary'), onSelect: () => void download('summary') },
              { key: 'records', label: t('downloadRecords'), onSelect: () => void download('records') },
            ]}
          />
        }
      />
      <div className="stack">
        <section className="usage-filters card" aria-label={t('filters')}>
          <Segmented
            legend={t('range')}
            options={[['7', t('last7')], ['30', t('last30')], ['custom', t('custom')]] as const}
            value={preset}
            onChange={(p) => {
              setPreset(p);
              setRangeError(null);
              if (p === 'custom') setDraft(range);
            }}
          />
          {preset === 'custom' && (
            <form className="usage-custom" onSubmit={applyCustom} noValidate>
              <TextField
                label={t('from')}
                type="date"
                value={draft.from}
                max={draft.to || undefined}
                onChange={(e) => setDraft((d) => ({ ...d, from: e.target.value }))}
                error={rangeError && (rangeError === t('invalidFrom') || rangeError === t('tooLong')) ? rangeError : undefined}
              />
              <TextField
                label={t('to')}
                type="date"
                value={draft.to}
                min={draft.from || undefined}
                onChange={(e) => setDraft((d) => ({ ...d, to: e.target.value }))}
                error={rangeError && rangeError !== t('invalidFrom') && rangeError !== t('tooLong') ? rangeError : undefined}
              />
              <Button type="submit">{t('apply')}</Button>
            </form>
          )}
          <Select
            label={t('source')}
            value={source}
            onChange={(e) => setSource(e.target.value as Source)}
            options={[
              { value: '', label: t('sourceAll') },
              { value: 'api', label: t('sourceApi') },
              { value: 'console', label: t('sourceConsole') },
              { value: 'app', label: t('sourceApp') },
            ]}
            fieldClassName="usage-source"
          />
          <span className="spacer" />
          <Button
            onClick={() => {
              void report.reload();
              void perUser.reload();
            }}
            loading={report.loading && !!report.data}
          >
            {t('refresh')}
          </Button>
        </section>
        <p className="muted usage-note">
          <span className="usage-scope">{wholeAccount ? t('scopeAccount') : t('scopeOwn')}</span> ·{' '}
          {t('utcNote', { from: range.from, to: range.to })}
        </p>
        <NoticeAlert notice={notice} onDismiss={() => setNotice(null)} />
        {report.error && (
          <LoadFailedAlert title={t('loadFailed')} error={report.error} onRetry={() => void report.reload()} retryLabel={t('refresh')} />
        )}
        {!report.data && report.loading ? (
          <Loading />
        ) : total ? (
          <>
            <dl className="usage-tiles" aria-label={t('total')}>
              <Tile label={t('requests')} value={fmt.number(total.requests)} testId="total-requests" />
              <Tile label={t('inputTokens')} value={fmt.number(total.inputTokens)} testId="total-input" />
              <Tile label={t('outputTokens')} value={fmt.number(total.outputTokens)} testId="total-output" />
              <Tile label={t('images')} value={fmt.number(total.images)} testId="total-images" />
              <Tile label={t('cost')} value={usdShort(total.cost)} testId="total-cost" />
            </dl>
            {empty ? (
              <Card>
                <EmptyState
                  title={t('emptyTitle')}
                  action={
                    <div className="row">
                      <Link to={paths.chat} className={buttonClass('primary')}>
                        {t('tryPlayground')}
                      </Link>
                      {session.can.manageOwnKeys && (
                        <Link to={paths.keys} className={buttonClass('normal')}>
                          {t('createKey')}
                        </Link>
                      )}
                    </div>
                  }
                >
                  {source ? t('emptyFiltered') : wholeAccount ? t('emptyBodyAccount') : t('emptyBodyOwn')}
                </EmptyState>
              </Card>
            ) : (
              <>
                <Segmented
                  legend={t('metric')}
                  options={[['tokens', t('tokens')], ['images', t('images')], ['cost', t('cost')]] as const}
                  value={metric}
                  onChange={setMetric}
                  inline
                />
                <div className="usage-charts">
                  <Card title={t('byDay')} level={2}>
                    <BarChart
                      title={metric === 'tokens' ? t('chartTokensByDay') : metric === 'images' ? t('chartImagesByDay') : t('chartCostByDay')}
                      series={series}
                      data={dayData}
                      format={valueFormat}
                      formatTick={tickFormat}
                      keyHeader={t('day')}
                      orientation="vertical"
                      summary={daySummary()}
                    />
                  </Card>
                  <Card title={t('byModel')} level={2}>
                    <BarChart
                      title={metric === 'tokens' ? t('chartTokensByModel') : metric === 'images' ? t('chartImagesByModel') : t('chartCostByModel')}
                      series={series}
                      data={modelData}
                      format={valueFormat}
                      keyHeader={t('model')}
                      orientation="horizontal"
                      summary={modelSummary()}
                    />
                  </Card>
                </div>
                {perUser.data && perUser.data.rows.length > 0 && (
                  <UserTable report={perUser.data} names={userNames.data ?? {}} usd={usdShort} />
                )}
                <DetailsTable report={report.data!} usd={usdShort} />
              </>
            )}
          </>
        ) : null}
      </div>
    </>
  );
}

function Tile({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div className="usage-tile">
      <dt>{label}</dt>
      <dd data-testid={testId}>{value}</dd>
    </div>
  );
}

/** A row of radio buttons that reads as one segmented control. */
function Segmented<T extends string>({
  legend,
  options,
  value,
  onChange,
  inline,
}: {
  legend: string;
  options: readonly (readonly [T, string])[];
  value: T;
  onChange: (v: T) => void;
  inline?: boolean;
}) {
  const name = useId();
  return (
    <fieldset className={inline ? 'segmented segmented-inline' : 'segmented'}>
      <legend className="field-label">{legend}</legend>
      <div className="segmented-options">
        {options.map(([v, label]) => (
          <label key={v} className={`segmented-option ${value === v ? 'segmented-checked' : ''}`}>
            <input type="radio" name={name} value={v} checked={value === v} onChange={() => onChange(v)} />
            {label}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

// The five figures every usage table ends with: their headers, and one row's cells.
function FigureHeaders() {
  const t = useT(usageStrings);
  return (
    <>
      <th scope="col" className="num">{t('requests')}</th>
      <th scope="col" className="num">{t('inputTokens')}</th>
      <th scope="col" className="num">{t('outputTokens')}</th>
      <th scope="col" className="num">{t('images')}</th>
      <th scope="col" className="num">{t('cost')}</th>
    </>
  );
}

function FigureCells({ sums, usd }: { sums: UsageSums; usd: (n: number) => string }) {
  const n = useFormat().number;
  return (
    <>
      <td className="num">{n(sums.requests)}</td>
      <td className="num">{n(sums.inputTokens)}</td>
      <td className="num">{n(sums.outputTokens)}</td>
      <td className="num">{n(sums.images)}</td>
      <td className="num">{usd(sums.cost)}</td>
    </>
  );
}

function UserTable({ report, names, usd }: { report: UsageReport; names: Record<string, string>; usd: (n: number) => string }) {
  const t = useT(usageStrings);
  const rows = [...report.rows].sort((a, b) => b.inputTokens + b.outputTokens - (a.inputTokens + a.outputTokens) || b.requests - a.requests);
  return (
    <Card title={t('byUser')} level={2}>
      <div className="table-wrap">
        <table className="table usage-table" data-testid="usage-by-user">
          <caption className="visually-hidden">{t('byUserCaption')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('user')}</th>
              <FigureHeaders />
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const id = r.group.user ?? '';
              return (
                <tr key={id}>
                  <td>
                    {names[id] ? (
                      <>
                        <strong>{names[id]}</strong> <code className="usage-user-id">{id}</code>
                      </>
                    ) : (
                      <code>{id || '—'}</code>
                    )}
                  </td>
                  <FigureCells sums={r} usd={usd} />
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

function DetailsTable({ report, usd }: { report: UsageReport; usd: (n: number) => string }) {
  const t = useT(usageStrings);
  // Newest day first; within a day, by model.
  const rows = [...report.rows].sort((a, b) => {
    const da = a.group.day ?? '';
    const db = b.group.day ?? '';
    if (da !== db) return da < db ? 1 : -1;
    return (a.group.model ?? '') < (b.group.model ?? '') ? -1 : 1;
  });
  const [limit, setLimit] = useState(50);
  useEffect(() => setLimit(50), [report]);
  const shown = rows.slice(0, limit);
  return (
    <Card title={t('details')} level={2}>
      <div className="table-wrap">
        <table className="table usage-table" data-testid="usage-details">
          <caption className="visually-hidden">{t('detailsCaption')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('day')}</th>
              <th scope="col">{t('model')}</th>
              <FigureHeaders />
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => (
              <tr key={`${r.group.day}|${r.group.model}`}>
                <td className="mono">{r.group.day}</td>
                <td className="mono usage-model">{r.group.model}</td>
                <FigureCells sums={r} usd={usd} />
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr data-testid="usage-total-row">
              <th scope="row" colSpan={2}>
                {t('totalRow')}
              </th>
              <FigureCells sums={report.total} usd={usd} />
            </tr>
          </tfoot>
        </table>
      </div>
      {rows.length > limit && (
        <div className="usage-more">
          <Button size="sm" onClick={() => setLimit((l) => l + 200)}>
            {t('showMore', { count: Math.min(200, rows.length - limit) })}
          </Button>
        </div>
      )}
    </Card>
  );
}
