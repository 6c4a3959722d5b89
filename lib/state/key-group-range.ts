import { CloudflinkError } from '../errors/index.ts';
import type { KeyGroupRange } from './types.ts';

/**
 * The key groups [start, end) of one subtask: Flink's
 * KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex. It is the exact inverse of
 * `subtaskForKeyGroup` (kg → ⌊kg·p / maxP⌋), so state lives where the partitioner sends keys.
 */
export function keyGroupRangeFor(subtask: number, parallelism: number, maxParallelism: number): KeyGroupRange {
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1) {
    throw new CloudflinkError('INTERNAL', `maxParallelism must be a positive integer, not ${maxParallelism}`);
  }
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > maxParallelism) {
    throw new CloudflinkError('INTERNAL', `parallelism must be an integer in [1, ${maxParallelism}] (the maxParallelism), not ${parallelism}`);
  }
  if (!Number.isInteger(subtask) || subtask < 0 || subtask >= parallelism) {
    throw new CloudflinkError('INTERNAL', `subtask must be an integer in [0, ${parallelism}), not ${subtask}`);
  }
  // kg belongs to subtask i iff i·maxP ≤ kg·p < (i+1)·maxP, that is ⌈i·maxP / p⌉ ≤ kg < ⌈(i+1)·maxP / p⌉.
  return {
    start: Math.ceil((subtask * maxParallelism) / parallelism),
    end: Math.ceil(((subtask + 1) * maxParallelism) / parallelism),
  };
}

export function contains(range: KeyGroupRange, keyGroup: number): boolean {
  return keyGroup >= range.start && keyGroup < range.end;
}
