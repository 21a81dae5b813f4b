/**
 * The known key closest to `key` by edit distance, when it is close enough to
 * be a typo (at most a third of the key's length, and at least one edit).
 */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(key.length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** `unknown key "socks_methd" (did you mean "socks_method"?)`, or the known keys when none is close. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const close = closestKey(key, known);
  return close !== undefined
    ? `unknown key "${key}" (did you mean "${close}"?)`
    : `unknown key "${key}" (known keys: ${known.join(", ")})`;
}

/** Levenshtein distance (insert, delete, substitute), one row at a time. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitute));
    }
    previous = current;
  }
  return previous[b.length]!;
}
