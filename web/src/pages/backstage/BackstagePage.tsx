import { useMemo } from 'react';
import { useApi } from '../../api/useApi';
import { Badge, Button, Card, LoadFailedAlert, Loading, PageHeader, Table, type Column, type Tone } from '../../components';
import { useFormat, useLang, useT } from '../../i18n';
import { Link } from '../../router';
import { paths } from '../../routes';
import { BarChart, type Datum } from '../usage/charts';
import { appsApi, type AppRun, type BackstageApp, type BackstageData } from './appsApi';
import { fillDays, mergeRuns, runAppTitle, runRunner, runSeconds, runStarted, usedShare } from './backstage';
import { backstageStrings } from './strings';
import '../usage/usage.css';
import './backstage.css';

const CHART_DAYS = 30;
/** Apps whose runs by anyone are fetched for "Runs of your apps" (newest apps first). */
const RUN_APPS = 20;

/** Backstage (/backstage): the user's apps with their runs and the credits the user's own
 *  runs used, credits per day (chart and table), today's allowance, and recent runs. */
export default function BackstagePage() {
  const t = useT(backstageStrings);
  const data = useApi((s) => appsApi.backstage(s), []);
  // Runs of the caller's own apps by anyone (Backstage itself lists the caller's own runs).
  const ownRuns = useApi(
    async (s): Promise<AppRun[] | undefined> => {
      if (!data.data) return undefined;
      const own = (data.data?.apps ?? []).filter((a) => a.isOwner !== false && a.appId).slice(0, RUN_APPS);
      const lists = await Promise.all(
        own.map(async (a) => ({ appId: a.appId, title: a.title, runs: await appsApi.runs(a.appId, s).catch(() => [] as AppRun[]) })),
      );
      return mergeRuns(lists, 20);
    },
    [data.data],
  );
  return (
    <>
      <PageHeader
        title={t('backstageTitle')}
        description={t('backstageDescription')}
        actions={
          <Button onClick={() => void data.reload()} loading={(data.loading && !!data.data) || (ownRuns.loading && !!ownRuns.data)}>
            {t('refresh')}
          </Button>
        }
      />
      {!data.data && data.loading ? (
        <Loading />
      ) : data.error && !data.data ? (
        <LoadFailedAlert title={t('backstageLoadFailed')} error={data.error} onRetry={() => void data.reload()} />
      ) : (
        <Backstage data={data.data!} appRuns={ownRuns.data} />
      )}
    </>
  );
}

function Backstage({ data, appRuns }: { data: BackstageData; appRuns: AppRun[] | undefined }) {
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
  const appName = (a: BackstageApp) =>
    !a.appId ? (
      <span className="muted">{t('generateUsage')}</span>
    ) : a.isOwner === false ? (
      <>
        {a.title} <Badge>{t('othersApp')}</Badge>
      </>
    ) : (
      <Link to={paths.app(a.appId)}>{a.title || a.appId}</Link>
    );
  const appColumns: Column<BackstageApp>[] = [
    { key: 'app', header: t('colApp'), cell: appName },
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
  const ownIds = new Set(apps.filter((a) => a.isOwner !== false && a.appId).map((a) => a.appId));
  const runColumns = (withRunner: boolean): Column<AppRun>[] => [
    {
      key: 'app',
      header: t('colApp'),
      cell: (r) => {
        const title = runAppTitle(r, apps);
        return r.appId && ownIds.has(r.appId) ? (
          <Link to={paths.app(r.appId)}>{title || r.appId}</Link>
        ) : (
          (title || <span className="muted">{t('deletedApp')}</span>)
        );
      },
    },
    ...(withRunner ? [{ key: 'runner', header: t('colRunner'), cell: (r: AppRun) => runRunner(r) || '—' }] : []),
    { key: 'status', header: t('colStatus'), cell: (r) => statusBadge(r.status) },
    {
      key: 'started',
      header: t('colStarted'),
      cell: (r) => {
        const s = runStarted(r);
        return s ? <time dateTime={s}>{fmt.dateTime(s)}</time> : '—';
      },
    },
    {
      key: 'took',
      header: t('colTook'),
      align: 'right',
      cell: (r) => {
        const sec = runSeconds(r);
        return sec === null ? '—' : t('seconds', { n: fmt.number(sec, { maximumFractionDigits: 1 }) });
      },
    },
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

      <Card title={t('appsTableTitle')} level={2}>
        <p className="muted backstage-help">{t('appsTableHelp')}</p>
        <Table caption={t('appsTableCaption')} columns={appColumns} rows={apps} rowKey={(a) => a.appId || '(generate)'} empty={t('noAppsBackstage')} />
      </Card>
      <div className="backstage-cols">
        <Card title={t('appRunsTitle')} level={2}>
          <p className="muted backstage-help">{t('appRunsHelp')}</p>
          {appRuns === undefined ? (
            <Loading />
          ) : (
            <Table caption={t('appRunsTitle')} columns={runColumns(true)} rows={appRuns} rowKey={(r) => r.runId} empty={t('noAppRuns')} />
          )}
        </Card>
        <Card title={t('recentRuns')} level={2}>
          <p className="muted backstage-help">{t('recentRunsHelp')}</p>
          <Table caption={t('recentCaption')} columns={runColumns(false)} rows={runs} rowKey={(r) => r.runId} empty={t('noRuns')} />
        </Card>
      </div>
    </div>
  );
}
