import { CloudflinkError } from '../errors/index.ts';
import { keyGroupRangeFor } from './key-group-range.ts';

/**
 * Operator state of sources: a source is cut into maxParallelism splits (split s holds the
 * elements whose index ≡ s mod S, or the s-th byte range of a file), and a subtask owns the
 * splits of its key-group range, so a source rescales exactly like keyed state.
 */

/** Split → its next position. */
export type SplitPositions = Record<number, number>;

/** The splits of one subtask, ascending. */
export function splitsFor(subtask: number, parallelism: number, maxParallelism: number): number[] {
  const { start, end } = keyGroupRangeFor(subtask, parallelism, maxParallelism);
  return Array.from({ length: end - start }, (_, i) => start + i);
}

/**
 * The positions of the `own` splits found in the snapshots of every subtask of an earlier
 * run (missing snapshots are skipped); an owned split absent from all of them is absent here,
 * and the caller starts it from the beginning.
 */
export function restoreSplits(snapshots: readonly (SplitPositions | null | undefined)[], own: readonly number[]): SplitPositions {
  const owned = new Set(own);
  const positions: SplitPositions = {};
  for (const snapshot of snapshots) {
    // msgpack and JSON turn the numeric splits into strings.
    for (const [key, position] of Object.entries(snapshot ?? {})) {
      const split = Number(key);
      if (!owned.has(split)) continue;
      if (split in positions && positions[split] !== position) {
        throw new CloudflinkError('INTERNAL', `split ${split} is in two snapshots, at positions ${positions[split]} and ${position}`);
      }
      positions[split] = position;
    }
  }
  return positions;
}
