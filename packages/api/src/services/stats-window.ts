/** Buckets of one grain: bucket starts from `fromMs` (inclusive) to `toMs` (exclusive). */
export interface RollupPiece {
  grainMs: number;
  fromMs: number;
  toMs: number;
}

/** How a time window is read: whole rollup buckets, and raw sessions at the ragged edges. */
export interface WindowPlan {
  pieces: RollupPiece[];
  /** [fromMs, toMs) ranges of start times read from the sessions table (at most two). */
  raw: [number, number][];
}

const floorTo = (ms: number, grainMs: number) => Math.floor(ms / grainMs) * grainMs;
const ceilTo = (ms: number, grainMs: number) => Math.ceil(ms / grainMs) * grainMs;

/**
 * Cuts [fromMs, toMs) into the fewest rollup buckets: the coarsest grain that fits in the middle,
 * finer grains towards the edges, and raw sessions for what is left of a partial finest bucket
 * at either end. `grainsMs` is finest first, each a multiple of the one before; with no grains
 * the whole window is raw.
 */
export function planWindow(fromMs: number, toMs: number, grainsMs: readonly number[]): WindowPlan {
  const plan: WindowPlan = { pieces: [], raw: [] };
  if (fromMs >= toMs) return plan;
  const finest = grainsMs[0];
  if (finest === undefined || ceilTo(fromMs, finest) >= floorTo(toMs, finest)) {
    plan.raw.push([fromMs, toMs]);
    return plan;
  }
  let lo = ceilTo(fromMs, finest);
  let hi = floorTo(toMs, finest);
  if (fromMs < lo) plan.raw.push([fromMs, lo]);
  if (hi < toMs) plan.raw.push([hi, toMs]);
  let grainMs = finest;
  for (const coarser of grainsMs.slice(1)) {
    const a = ceilTo(lo, coarser);
    const b = floorTo(hi, coarser);
    if (a >= b) break;
    if (lo < a) plan.pieces.push({ grainMs, fromMs: lo, toMs: a });
    if (b < hi) plan.pieces.push({ grainMs, fromMs: b, toMs: hi });
    lo = a;
    hi = b;
    grainMs = coarser;
  }
  plan.pieces.push({ grainMs, fromMs: lo, toMs: hi });
  return plan;
}

/** The bucket starts of a piece. */
export function bucketsOf(piece: RollupPiece): number[] {
  const buckets: number[] = [];
  for (let ms = piece.fromMs; ms < piece.toMs; ms += piece.grainMs) buckets.push(ms);
  return buckets;
}

/** The grains whose buckets each fall inside one series bucket of `seriesMs`. */
export function grainsForSeries(grainsMs: readonly number[], seriesMs: number): number[] {
  return grainsMs.filter((grainMs) => grainMs <= seriesMs && seriesMs % grainMs === 0);
}

/** Sorted bucket starts as [from, to) ranges of adjacent buckets. */
export function contiguous(bucketsMs: readonly number[], grainMs: number): [number, number][] {
  const ranges: [number, number][] = [];
  for (const bucketMs of bucketsMs) {
    const last = ranges.at(-1);
    if (last !== undefined && last[1] === bucketMs) last[1] = bucketMs + grainMs;
    else ranges.push([bucketMs, bucketMs + grainMs]);
  }
  return ranges;
}
