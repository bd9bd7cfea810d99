import { useId } from 'react';
import { formatTime } from '../format';

export interface Series {
  name: string;
  /** One value per point in `times`; undefined leaves a gap. */
  values: (number | undefined)[];
  /** A CSS class giving the stroke colour (see .series-N in styles.css). */
  tone: number;
}

/** About the size it is drawn at on a desktop, so its 12px labels stay readable when scaled. */
const WIDTH = 440;
const HEIGHT = 170;
const PAD = { left: 40, right: 10, top: 10, bottom: 22 };

/** 0, 1, 2, 2.5, 5 × 10^n: an axis top that reads well. */
function niceMax(value: number): number {
  if (value <= 0) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * exp) return step * exp;
  return 10 * exp;
}

/** A value with no neighbour draws no line segment: it gets a dot instead. */
function isolated(values: (number | undefined)[], i: number): boolean {
  return values[i - 1] === undefined && values[i + 1] === undefined;
}

function pathOf(values: (number | undefined)[], x: (i: number) => number, y: (v: number) => number): string {
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === undefined || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  });
  return d;
}

/**
 * A hand-rolled SVG line chart (no library: a few hundred bytes instead of a hundred KB). The
 * figure's text and legend carry the latest values, so the picture is not the only way to read it.
 */
export function LineChart({ title, unit, times, series, format }: { title: string; unit: string; times: number[]; series: Series[]; format: (v: number) => string }) {
  const id = useId();
  const all = series.flatMap((s) => s.values).filter((v): v is number => v !== undefined && Number.isFinite(v));
  const top = niceMax(Math.max(0, ...all));
  const n = Math.max(times.length, 2);
  const x = (i: number) => PAD.left + (i / (n - 1)) * (WIDTH - PAD.left - PAD.right);
  const y = (v: number) => HEIGHT - PAD.bottom - (v / top) * (HEIGHT - PAD.top - PAD.bottom);
  const latest = series.map((s) => ({ name: s.name, tone: s.tone, value: [...s.values].reverse().find((v) => v !== undefined) }));
  const summary = latest.map((l) => `${l.name} ${l.value === undefined ? 'no data' : `${format(l.value)} ${unit}`}`).join(', ');
  const ticks = [0, top / 2, top];
  return (
    <figure className="chart" aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`}>
        <span className="chart-title">{title}</span>
        <span className="visually-hidden">. Latest: {summary}.</span>
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`${title}: ${summary}`} preserveAspectRatio="xMidYMid meet">
        {ticks.map((t) => (
          <g key={t} className="chart-grid">
            <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y(t)} y2={y(t)} />
            <text x={PAD.left - 6} y={y(t) + 4} textAnchor="end">
              {format(t)}
            </text>
          </g>
        ))}
        {times.length > 0 ? (
          <g className="chart-axis">
            <text x={PAD.left} y={HEIGHT - 6} textAnchor="start">
              {formatTime(times[0] ?? 0)}
            </text>
            <text x={WIDTH - PAD.right} y={HEIGHT - 6} textAnchor="end">
              {formatTime(times.at(-1) ?? 0)}
            </text>
          </g>
        ) : null}
        {series.map((s) => (
          <g key={s.name} className={`series-${s.tone}`}>
            <path d={pathOf(s.values, x, y)} className="chart-line" />
            {s.values.map((v, i) =>
              v !== undefined && Number.isFinite(v) && (i === s.values.length - 1 || isolated(s.values, i)) ? <circle key={i} cx={x(i)} cy={y(v)} r={3} className="chart-dot" /> : null,
            )}
          </g>
        ))}
        {times.length < 2 ? (
          <text x={WIDTH / 2} y={HEIGHT / 2} textAnchor="middle" className="chart-empty">
            Collecting data…
          </text>
        ) : null}
      </svg>
      <ul className="chart-legend">
        {latest.map((l) => (
          <li key={l.name}>
            <span className={`swatch series-${l.tone}`} aria-hidden="true" />
            {l.name}: <strong>{l.value === undefined ? '–' : format(l.value)}</strong> {unit}
          </li>
        ))}
      </ul>
    </figure>
  );
}
