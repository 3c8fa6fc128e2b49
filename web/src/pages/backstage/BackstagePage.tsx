import { useMemo } from 'react';
import { useApi } from '../../api/useApi';
import { Badge, Button, Card, LoadFailedAlert, Loading, PageHeader, Table, type Column, type Tone } from '../../components';
import { useFormat, useLang, useT } from '../../i18n';
import { Link } from '../../router';
import { paths } from '../../routes';
import { BarChart, type Datum } from '../usage/charts';
import { appsApi, type AppRun, type BackstageData } from './appsApi';
import { fillDays, runAppTitle, runCredits, runRunner, runStarted, usedShare } from './backstage';
import { backstageStrings } from './strings';
import '../usage/usage.css';
import './backstage.css';

const CHART_DAYS = 14;

/** Backstage (/backstage): the user's apps with their runs and the credits the user's own
 *  runs used, credits per day (chart and table), today's allowance, and recent runs. */
export default function BackstagePage() {
  const t = useT(backstageStrings);
  const data = useApi((s) => appsApi.backstage(s), []);
  return (
    <>
      <PageHeader
        title={t('backstageTitle')}
        description={t('backstageDescription')}
        actions={
          <Button onClick={() => void data.reload()} loading={data.loading && !!data.data}>
            {t('refresh')}
          </Button>
        }
      />
      {!data.data && data.loading ? (
        <Loading />
      ) : data.error && !data.data ? (
        <LoadFailedAlert title={t('backstageLoadFailed')} error={data.error} onRetry={() => void data.reload()} />
      ) : (
        <Backstage data={data.data!} />
      )}
    </>
  );
}

function Backstage({ data }: { data: BackstageData }) {
  const t = useT(backstageStrings);
  const fmt = useFormat();
  const { locale } = useLang();
  const usd = (n: number) =>
    new Intl.NumberFormat(locale, {
      style: 'currency',
      currency: 'USD',
      currencyDisplay: 'narrowSymbol',
      minimumFractionDigits: 2,
      maximumFractionDigits: n !== 0 && Math.abs(n) < 0.01 ? 6 : 4,
    }).format(n);
  const days = useMemo(() => fillDays(data.days ?? [], CHART_DAYS), [data.days]);
  const today = data.today ?? { allowance: null, used: 0, remaining: null };
  const share = usedShare(today);
  const apps = data.apps ?? [];
  const runs = data.recentRuns ?? [];

  const chartData: Datum[] = days.map((d) => ({ key: d.day, label: d.day.slice(5), values: [d.credits] }));
  const from = days[0]?.day ?? '';
  const to = days[days.length - 1]?.day ?? '';
  const total = days.reduce((a, d) => a + d.credits, 0);
  const peak = days.reduce((p, d) => (d.credits > p.credits ? d : p), days[0] ?? { day: '', credits: 0, runs: 0 });
  const summary =
    total > 0
      ? t('chartSummary', { total: usd(total), from, to, peakDay: peak.day, peak: usd(peak.credits) })
      : t('chartSummaryEmpty', { from, to });

  const dayColumns: Column<(typeof days)[number]>[] = [
    { key: 'day', header: t('colDay'), cell: (d) => d.day },
    { key: 'runs', header: t('colRuns'), align: 'right', cell: (d) => fmt.number(d.runs) },
    { key: 'credits', header: t('colCredits'), align: 'right', cell: (d) => usd(d.credits) },
  ];
  const appColumns: Column<BackstageData['apps'][number]>[] = [
    { key: 'app', header: t('colApp'), cell: (a) => <Link to={paths.app(a.appId)}>{a.title || a.appId}</Link> },
    { key: 'runs', header: t('colRuns'), align: 'right', cell: (a) => fmt.number(a.runs) },
    { key: 'credits', header: t('colCredits'), align: 'right', cell: (a) => usd(a.credits) },
  ];
  const statusBadge = (s?: string) => {
    const map: Record<string, [Tone, Parameters<typeof t>[0]]> = {
      succeeded: ['success', 'statusSucceeded'],
      failed: ['error', 'statusFailed'],
      stopped: ['warning', 'statusStopped'],
      superseded: ['neutral', 'statusSuperseded'],
      running: ['info', 'statusRunning'],
    };
    const m = s ? map[s] : undefined;
    return m ? <Badge tone={m[0]}>{t(m[1])}</Badge> : s ? <Badge>{s}</Badge> : null;
  };
  const runColumns: Column<AppRun>[] = [
    {
      key: 'app',
      header: t('colApp'),
      cell: (r) => {
        const title = runAppTitle(r, apps);
        const mine = r.appId && apps.some((a) => a.appId === r.appId);
        return mine ? <Link to={paths.app(r.appId!)}>{title ?? r.appId}</Link> : (title ?? <span className="muted">{t('deletedApp')}</span>);
      },
    },
    { key: 'runner', header: t('colRunner'), cell: (r) => runRunner(r) || '—' },
    { key: 'status', header: t('colStatus'), cell: (r) => statusBadge(r.status) },
    {
      key: 'started',
      header: t('colStarted'),
      cell: (r) => {
        const s = runStarted(r);
        return s ? <time dateTime={s}>{fmt.dateTime(s)}</time> : '—';
      },
    },
    { key: 'credits', header: t('colCredits'), align: 'right', cell: (r) => usd(runCredits(r)) },
  ];

  return (
    <div className="stack backstage">
      <Card title={t('today')} level={2}>
        <dl className="usage-tiles backstage-tiles">
          <div className="usage-tile">
            <dt>{t('usedToday')}</dt>
            <dd data-testid="credits-used-today">{usd(today.used ?? 0)}</dd>
          </div>
          <div className="usage-tile">
            <dt>{t('remainingToday')}</dt>
            <dd data-testid="credits-remaining-today">
              {today.remaining === null || today.remaining === undefined ? t('noAllowance') : usd(today.remaining)}
            </dd>
          </div>
          <div className="usage-tile">
            <dt>{t('allowance')}</dt>
            <dd data-testid="credits-allowance">
              {today.allowance === null || today.allowance === undefined ? t('noAllowance') : usd(today.allowance)}
            </dd>
          </div>
        </dl>
        {share !== null && (
          <div className="backstage-meter">
            <progress
              className="backstage-progress"
              max={1}
              value={share}
              aria-label={t('allowanceMeter')}
              aria-valuetext={t('allowanceOf', { used: usd(today.used), allowance: usd(today.allowance!) })}
            />
            <span className="muted">{t('allowanceOf', { used: usd(today.used), allowance: usd(today.allowance!) })}</span>
          </div>
        )}
      </Card>

      <Card title={t('creditsPerDay')} level={2}>
        <p className="muted backstage-help">{t('creditsPerDayHelp')}</p>
        <BarChart
          title={t('lastDays', { count: CHART_DAYS })}
          series={[{ name: t('colCredits'), color: '#6842c2' }]}
          data={chartData}
          format={usd}
          keyHeader={t('colDay')}
          orientation="vertical"
          summary={summary}
        />
        <details className="backstage-days">
          <summary>{t('daysCaption')}</summary>
          <Table
            caption={t('daysCaption')}
            columns={dayColumns}
            rows={[...days].reverse()}
            rowKey={(d) => d.day}
            empty={t('noDays')}
          />
        </details>
      </Card>

      <div className="backstage-cols">
        <Card title={t('appsTableTitle')} level={2}>
          <Table caption={t('appsTableCaption')} columns={appColumns} rows={apps} rowKey={(a) => a.appId} empty={t('noAppsBackstage')} />
        </Card>
        <Card title={t('recentRuns')} level={2}>
          <Table
            caption={t('recentCaption')}
            columns={runColumns}
            rows={runs}
            rowKey={(r) => r.runId}
            empty={t('noRuns')}
          />
        </Card>
      </div>
    </div>
  );
}
