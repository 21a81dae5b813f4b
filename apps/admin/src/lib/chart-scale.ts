/**
 * "Nice" axis ticks for a chart whose values go from 0 to `max`: steps of 1, 2 or 5 times a power
 * of ten, at most `count` + 1 ticks, the top tick at or above `max`.
 */
export function niceTicks(max: number, count = 4): number[] {
  if (!Number.isFinite(max) || max <= 0) return [0, 1];
  const rough = max / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 5, 10].find((m) => m * power >= rough) ?? 10) * power;
  const ticks: number[] = [];
  for (let value = 0; value < max + step; value += step) {
    ticks.push(Number(value.toPrecision(12)));
    if (value >= max) break;
  }
  return ticks;
}

export interface Point {
  x: number;
  y: number;
}

/** SVG path `d` through the points (already in pixels). */
export function linePath(points: readonly Point[]): string {
  return points.map((p, i) => `${i === 0 ? "M" : "L"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join("");
}

/**
 * A series with its gaps (buckets without sessions) filled with zeros, from `fromMs` to `toMs` in
 * `bucketMs` steps, so a quiet hour draws as zero instead of a straight line across it.
 */
export function fillSeries<T extends { at: string }>(
  series: readonly T[],
  options: { fromMs: number; toMs: number; bucketMs: number; zero: (at: string) => T },
): T[] {
  const { fromMs, toMs, bucketMs } = options;
  const byBucket = new Map(series.map((point) => [Date.parse(point.at), point]));
  const out: T[] = [];
  const first = Math.floor(fromMs / bucketMs) * bucketMs;
  // Bounded: stats.summary picks buckets so that a window has at most ~200 of them.
  for (let at = first; at <= toMs && out.length < 2000; at += bucketMs) {
    out.push(byBucket.get(at) ?? options.zero(new Date(at).toISOString()));
  }
  return out;
}
