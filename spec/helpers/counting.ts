import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CountingOutcome {
  lines: number;
  keys: number;
  /** Keys whose committed counts are not exactly 1, 2, …, perKey, once each. */
  wrongKeys: number[];
  /** Counts written more than once for a key (a record counted twice, or replayed output). */
  duplicates: number;
  /** The highest count per key: the key's total. */
  totals: Map<number, number>;
}

/**
 * Reads the committed `part-*` files of scripts/examples/keyed-counting.ts (`key count` lines)
 * and checks them against an unbroken run: each key's counts are exactly 1..perKey.
 */
export function checkCounting(directory: string, keys: number, perKey: number): CountingOutcome {
  const counts = new Map<number, number[]>();
  let lines = 0;
  for (const file of readdirSync(directory).filter((f) => f.startsWith('part-'))) {
    for (const line of readFileSync(join(directory, file), 'utf8').split('\n')) {
      if (!line) continue;
      const [key, count] = line.split(' ').map(Number) as [number, number];
      lines++;
      const seen = counts.get(key);
      if (seen) seen.push(count);
      else counts.set(key, [count]);
    }
  }
  const wrongKeys: number[] = [];
  let duplicates = 0;
  const totals = new Map<number, number>();
  for (let key = 0; key < keys; key++) {
    const seen = (counts.get(key) ?? []).sort((a, b) => a - b);
    duplicates += seen.length - new Set(seen).size;
    totals.set(key, seen.at(-1) ?? 0);
    if (seen.length !== perKey || seen.some((c, i) => c !== i + 1)) wrongKeys.push(key);
  }
  return { lines, keys: counts.size, wrongKeys, duplicates, totals };
}
