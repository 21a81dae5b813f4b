import { type KeyboardEvent, type MouseEvent, useState } from "react";
import { linePath, niceTicks } from "../lib/chart-scale";
import { formatPercent } from "../lib/format";

export interface SeriesLine {
  key: string;
  label: string;
  color: string;
}

const WIDTH = 640;
const HEIGHT = 200;
const PAD = { top: 10, right: 12, bottom: 24, left: 48 };

/**
 * A line chart of buckets over time (SVG, scales with its container). Hover or arrow keys show
 * the values of one bucket.
 */
export function TimeSeriesChart<T extends { at: string }>({
  title,
  points,
  lines,
  value,
  formatValue,
  formatTime,
}: {
  title: string;
  points: readonly T[];
  lines: readonly SeriesLine[];
  value: (point: T, key: string) => number;
  formatValue: (value: number) => string;
  formatTime: (iso: string) => string;
}) {
  const [hover, setHover] = useState<number | null>(null);
  const innerW = WIDTH - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const max = Math.max(0, ...points.flatMap((p) => lines.map((l) => value(p, l.key))));
  const ticks = niceTicks(max);
  const top = ticks.at(-1) ?? 1;
  const x = (i: number) =>
    PAD.left + (points.length <= 1 ? innerW / 2 : (i / (points.length - 1)) * innerW);
  const y = (v: number) => PAD.top + innerH - (v / top) * innerH;
  const labelIndexes =
    points.length === 0
      ? []
      : [...new Set([0, Math.floor((points.length - 1) / 2), points.length - 1])];

  const onMove = (event: MouseEvent<SVGSVGElement>) => {
    const box = event.currentTarget.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * WIDTH;
    const i = Math.round(((px - PAD.left) / innerW) * (points.length - 1));
    setHover(points.length === 0 ? null : Math.max(0, Math.min(points.length - 1, i)));
  };
  const onKey = (event: KeyboardEvent<SVGSVGElement>) => {
    if (points.length === 0) return;
    if (event.key === "ArrowRight") setHover((h) => Math.min(points.length - 1, (h ?? -1) + 1));
    else if (event.key === "ArrowLeft") setHover((h) => Math.max(0, (h ?? points.length) - 1));
    else if (event.key === "Escape") setHover(null);
    else return;
    event.preventDefault();
  };
  const hovered = hover === null ? undefined : points[hover];
  const total = (key: string) => points.reduce((sum, p) => sum + value(p, key), 0);

  return (
    <figure style={{ margin: 0 }}>
      <svg
        className="chart"
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`${title}: ${lines.map((l) => `${l.label} ${formatValue(total(l.key))} in total`).join(", ")}. Use the arrow keys to read each point.`}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: arrow keys step through the points
        tabIndex={0}
        onMouseMove={onMove}
        onMouseLeave={() => setHover(null)}
        onKeyDown={onKey}
        onBlur={() => setHover(null)}
      >
        {ticks.map((tick) => (
          <g key={tick}>
            <line
              className="grid-line"
              x1={PAD.left}
              x2={WIDTH - PAD.right}
              y1={y(tick)}
              y2={y(tick)}
            />
            <text className="axis-label" x={PAD.left - 6} y={y(tick) + 4} textAnchor="end">
              {formatValue(tick)}
            </text>
          </g>
        ))}
        {labelIndexes.map((i) => (
          <text
            key={i}
            className="axis-label"
            x={x(i)}
            y={HEIGHT - 6}
            textAnchor={i === 0 ? "start" : i === points.length - 1 ? "end" : "middle"}
          >
            {formatTime(points[i]!.at)}
          </text>
        ))}
        {lines.map((line) => {
          const pts = points.map((p, i) => ({ x: x(i), y: y(value(p, line.key)) }));
          if (pts.length === 0) return null;
          const d = linePath(pts);
          const area = `${d}L${pts.at(-1)!.x.toFixed(1)},${y(0)}L${pts[0]!.x.toFixed(1)},${y(0)}Z`;
          return (
            <g key={line.key}>
              <path className="area" d={area} fill={line.color} />
              <path d={d} fill="none" stroke={line.color} strokeWidth={2} strokeLinejoin="round" />
            </g>
          );
        })}
        {hovered !== undefined && hover !== null ? (
          <g>
            <line
              className="grid-line"
              x1={x(hover)}
              x2={x(hover)}
              y1={PAD.top}
              y2={PAD.top + innerH}
            />
            {lines.map((line) => (
              <circle
                key={line.key}
                cx={x(hover)}
                cy={y(value(hovered, line.key))}
                r={4}
                fill={line.color}
              />
            ))}
          </g>
        ) : null}
      </svg>
      <figcaption className="chart-legend" aria-live="polite">
        {hovered !== undefined ? <span>{formatTime(hovered.at)}</span> : null}
        {lines.map((line) => (
          <span key={line.key}>
            <span className="legend-swatch" style={{ background: line.color }} />
            {line.label}
            {hovered !== undefined ? `: ${formatValue(value(hovered, line.key))}` : ""}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

/** Horizontal bars, largest first (top users, destinations, regions). */
export function BarList({
  label,
  items,
  color = "var(--chart-1)",
}: {
  label: string;
  items: readonly { name: string; value: number; display: string }[];
  color?: string;
}) {
  const max = Math.max(1, ...items.map((i) => i.value));
  return (
    <ul className="bar-list" aria-label={label}>
      {items.map((item) => (
        <li key={item.name} className="bar-row">
          <span className="bar-name" title={item.name}>
            {item.name || "—"}
          </span>
          <span className="bar-value">{item.display}</span>
          <span className="bar-track" aria-hidden="true">
            <span
              className="bar-fill"
              style={{ width: `${(item.value / max) * 100}%`, background: color, display: "block" }}
            />
          </span>
        </li>
      ))}
    </ul>
  );
}

/** One bar split into parts (allow vs block), with a legend giving counts and shares. */
export function SplitBar({
  label,
  parts,
  formatValue,
}: {
  label: string;
  parts: readonly { label: string; value: number; color: string }[];
  formatValue: (value: number) => string;
}) {
  const total = parts.reduce((sum, p) => sum + p.value, 0);
  return (
    <div className="stack">
      <div
        className="split-bar"
        role="img"
        aria-label={`${label}: ${parts.map((p) => `${p.label} ${formatValue(p.value)} (${formatPercent(p.value, total)})`).join(", ")}`}
      >
        {parts.map((part) =>
          part.value > 0 ? (
            <span
              key={part.label}
              style={{ width: `${(part.value / total) * 100}%`, background: part.color }}
            />
          ) : null,
        )}
      </div>
      <div className="chart-legend">
        {parts.map((part) => (
          <span key={part.label}>
            <span className="legend-swatch" style={{ background: part.color }} />
            {part.label}: <strong>{formatValue(part.value)}</strong> (
            {formatPercent(part.value, total)})
          </span>
        ))}
      </div>
    </div>
  );
}
