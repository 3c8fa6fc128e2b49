import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { Button, Table, type Column } from '../../components';
import { useT } from '../../i18n';
import { usageStrings } from './strings';
import { niceScale } from './usage';

// Hand-made SVG bar charts (stacked when there are several series). The SVG is one labelled
// image with a summary for screen readers, every bar has a <title> (hover tooltip), and a
// toggle shows the same numbers as a table.

export interface Series {
  name: string;
  color: string;
}

export interface Datum {
  key: string;
  /** Axis / row label. */
  label: string;
  /** One value per series. */
  values: number[];
}

interface ChartProps {
  title: string;
  series: Series[];
  data: Datum[];
  format: (n: number) => string;
  /** Compact tick labels (e.g. 1.2K). */
  formatTick?: (n: number) => string;
  /** What the key column of the table fallback is called. */
  keyHeader: string;
  orientation: 'vertical' | 'horizontal';
  /** A sentence for screen readers (the largest bar and the total). */
  summary: string;
}

function useWidth<T extends HTMLElement>(fallback: number) {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(fallback);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const update = () => setWidth(Math.max(240, Math.floor(el.getBoundingClientRect().width)));
    update();
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(update);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return [ref, width] as const;
}

const total = (d: Datum) => d.values.reduce((a, b) => a + b, 0);

function ellipsize(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, Math.max(1, max - 1)) + '…';
}

export function BarChart(props: ChartProps) {
  const t = useT(usageStrings);
  const { title, series, data, format, keyHeader, summary } = props;
  const [showTable, setShowTable] = useState(false);
  const titleId = useId();
  const descId = useId();
  const tableId = useId();
  const [ref, width] = useWidth<HTMLDivElement>(640);

  const columns: Column<Datum>[] = [
    { key: 'key', header: keyHeader, cell: (d) => d.label },
    ...series.map((s, i) => ({
      key: `s${i}`,
      header: s.name,
      align: 'right' as const,
      cell: (d: Datum) => format(d.values[i] ?? 0),
    })),
    ...(series.length > 1
      ? [
          {
            key: 'total',
            header: t('total'),
            align: 'right' as const,
            cell: (d: Datum) => format(total(d)),
          },
        ]
      : []),
  ];

  return (
    <figure className="chart" aria-labelledby={titleId}>
      <div className="chart-head">
        <figcaption id={titleId} className="chart-title">
          {title}
        </figcaption>
        {series.length > 1 && (
          <ul className="chart-legend" aria-label={t('legend')}>
            {series.map((s) => (
              <li key={s.name}>
                <span className="chart-swatch" style={{ background: s.color }} aria-hidden="true" />
                {s.name}
              </li>
            ))}
          </ul>
        )}
        <Button
          size="sm"
          variant="link"
          aria-expanded={showTable}
          aria-controls={tableId}
          onClick={() => setShowTable((v) => !v)}
        >
          {showTable ? t('showChart') : t('showTable')}
        </Button>
      </div>
      <p id={descId} className="visually-hidden">
        {summary}
      </p>
      <div ref={ref} className="chart-canvas" hidden={showTable}>
        {props.orientation === 'vertical' ? (
          <VerticalBars {...props} width={width} titleId={titleId} descId={descId} />
        ) : (
          <HorizontalBars {...props} width={width} titleId={titleId} descId={descId} />
        )}
      </div>
      <div id={tableId} hidden={!showTable}>
        {showTable && (
          <Table caption={title} columns={columns} rows={data} rowKey={(d) => d.key} />
        )}
      </div>
    </figure>
  );
}

interface DrawProps extends ChartProps {
  width: number;
  titleId: string;
  descId: string;
}

function barTitle(d: Datum, series: Series[], format: (n: number) => string) {
  const parts = series.map((s, i) => `${s.name}: ${format(d.values[i] ?? 0)}`);
  return `${d.label} — ${parts.join(', ')}`;
}

/** The drawing of both charts: an image named by the figure's title and summary. */
function ChartSvg({
  width,
  height,
  titleId,
  descId,
  children,
}: {
  width: number;
  height: number;
  titleId: string;
  descId: string;
  children: ReactNode;
}) {
  return (
    <svg
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-labelledby={titleId}
      aria-describedby={descId}
      className="chart-svg"
    >
      {children}
    </svg>
  );
}

function VerticalBars({ series, data, format, formatTick, width, titleId, descId }: DrawProps) {
  const height = 220;
  const pad = { top: 12, right: 12, bottom: 28, left: 64 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const totals = data.map(total);
  const scale = niceScale(Math.max(0, ...totals));
  const n = Math.max(1, data.length);
  const slot = innerW / n;
  const barW = Math.max(2, Math.min(40, slot * 0.7));
  // Label every k-th bar so labels (about 44 px wide) never overlap.
  const every = Math.max(1, Math.ceil(48 / slot));
  const y = (v: number) => pad.top + innerH - (v / scale.max) * innerH;
  const tick = formatTick ?? format;
  return (
    <ChartSvg width={width} height={height} titleId={titleId} descId={descId}>
      <g aria-hidden="true">
        {scale.ticks.map((v) => (
          <g key={v}>
            <line x1={pad.left} x2={width - pad.right} y1={y(v)} y2={y(v)} className="chart-grid" />
            <text x={pad.left - 8} y={y(v)} dy="0.32em" textAnchor="end" className="chart-tick">
              {tick(v)}
            </text>
          </g>
        ))}
        {data.map((d, i) =>
          i % every === 0 ? (
            <text
              key={d.key}
              x={pad.left + slot * i + slot / 2}
              y={height - 8}
              textAnchor="middle"
              className="chart-tick"
            >
              {d.label}
            </text>
          ) : null,
        )}
      </g>
      {data.map((d, i) => {
        let acc = 0;
        const x = pad.left + slot * i + (slot - barW) / 2;
        return (
          <g key={d.key} className="chart-bar">
            <title>{barTitle(d, series, format)}</title>
            {/* A transparent full-height target so thin bars still show their tooltip. */}
            <rect x={pad.left + slot * i} y={pad.top} width={slot} height={innerH} fill="transparent" />
            {series.map((s, j) => {
              const v = d.values[j] ?? 0;
              if (v <= 0) return null;
              const y0 = y(acc);
              acc += v;
              const y1 = y(acc);
              return (
                <rect key={s.name} x={x} y={y1} width={barW} height={Math.max(1, y0 - y1)} fill={s.color} rx={1} />
              );
            })}
          </g>
        );
      })}
      <line
        x1={pad.left}
        x2={width - pad.right}
        y1={pad.top + innerH}
        y2={pad.top + innerH}
        className="chart-axis"
        aria-hidden="true"
      />
    </ChartSvg>
  );
}

function HorizontalBars({ series, data, format, width, titleId, descId }: DrawProps) {
  // One row per entry: the label on its own line (model IDs are long), the bar below it with
  // the value at its end.
  const rowH = 42;
  const valueW = 96;
  const pad = { top: 4, bottom: 4 };
  const height = pad.top + pad.bottom + rowH * Math.max(1, data.length);
  const innerW = Math.max(40, width - valueW - 8);
  const totals = data.map(total);
  const max = Math.max(0, ...totals) || 1;
  const chars = Math.max(8, Math.floor(width / 7.6));
  return (
    <ChartSvg width={width} height={height} titleId={titleId} descId={descId}>
      {data.map((d, i) => {
        const top = pad.top + rowH * i;
        const barY = top + 20;
        let acc = 0;
        return (
          <g key={d.key} className="chart-bar">
            <title>{barTitle(d, series, format)}</title>
            <rect x={0} y={top} width={width} height={rowH} fill="transparent" />
            <text x={0} y={top + 13} className="chart-label" aria-hidden="true">
              {ellipsize(d.label, chars)}
            </text>
            <rect x={0} y={barY} width={innerW} height={14} className="chart-track" rx={2} />
            {series.map((s, j) => {
              const v = d.values[j] ?? 0;
              if (v <= 0) return null;
              const x0 = (acc / max) * innerW;
              acc += v;
              const w = Math.max(1, (v / max) * innerW);
              return <rect key={s.name} x={x0} y={barY} width={w} height={14} fill={s.color} rx={2} />;
            })}
            <text x={innerW + 8} y={barY + 7} dy="0.32em" className="chart-value" aria-hidden="true">
              {format(totals[i])}
            </text>
          </g>
        );
      })}
    </ChartSvg>
  );
}
