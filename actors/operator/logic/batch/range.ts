/**
 * Range partitioning, for a total order sort (Flink's partitionByRange): each subtask samples
 * the keys of its input (`batch.sample`, a reservoir), every sample goes to every subtask of
 * `batch.rangePartition`, which turns them into the same boundaries everywhere and sends each
 * record to the subtask of its range. Subtask i then holds keys no greater than subtask i + 1's,
 * so sorting each partition sorts the whole.
 */
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import type { SortOrder } from '../../../../lib/descriptor/types.ts';
import { ExternalSorter } from '../../../../lib/batch/index.ts';
import { describe } from '../emit.ts';
import type { OperatorLogic } from '../types.ts';

/** What a sampler emits at its end: some of its keys, each standing for `count / keys.length` records. */
export interface KeySample { count: number; keys: unknown[] }

/** A reservoir of `size` keys of the subtask's records (Algorithm R), with a seeded generator so that a rerun samples alike. */
export function sampleLogic(keyOf: (record: unknown) => unknown, size: number, seed: number): OperatorLogic {
  const keys: unknown[] = [];
  let count = 0;
  let state = (seed * 2654435761) >>> 0 || 1;
  const random = (): number => {
    // xorshift32: deterministic, and enough for choosing a sample.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  let emitted = false;
  return {
    process(record) {
      count++;
      const key = keyOf(record);
      if (keys.length < size) keys.push(key);
      else {
        const slot = Math.floor(random() * count);
        if (slot < size) keys[slot] = key;
      }
    },
    drain(out) {
      if (!emitted) out.emit({ count, keys } satisfies KeySample);
      emitted = true;
      return true;
    },
  };
}

/** Orders keys as a sort does: null and undefined first, then numbers and bigints by value, or strings; never both. */
export function compareKeys(a: unknown, b: unknown, vertexName: string): number {
  const aNull = a === null || a === undefined;
  const bNull = b === null || b === undefined;
  if (aNull || bNull) return aNull && bNull ? 0 : aNull ? -1 : 1;
  const numeric = (v: unknown): boolean => typeof v === 'number' || typeof v === 'bigint';
  if (numeric(a) && numeric(b)) return a! < b! ? -1 : a! > b! ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new CloudflinkError('UDF_FAILED', `'${vertexName}' sorts by numbers, bigints or strings, one kind, but met ${describe(a)} and ${describe(b)}`);
}

/**
 * Input 1, the records: held (spilling past `memoryBytes`) until every sample came on input 2;
 * then each goes to the subtask of its range (its output edge is `custom`).
 */
export function rangePartitionLogic(
  keyOf: (record: unknown) => unknown, order: SortOrder, resources: { memoryBytes: number; directory: string }, vertexName: string,
): OperatorLogic {
  const compare = (a: unknown, b: unknown): number => compareKeys(a, b, vertexName);
  const samples: KeySample[] = [];
  // In arrival order: the sort comes downstream.
  const held = new ExternalSorter<unknown>({ compare: () => 0, memoryBytes: resources.memoryBytes, directory: resources.directory });
  let records: Iterator<unknown> | undefined;
  const boundariesFor = new Map<number, unknown[]>();

  /** The keys that close each range but the last, the same on every subtask: weighted quantiles of all the samples. */
  const boundaries = (channels: number): unknown[] => {
    const cached = boundariesFor.get(channels);
    if (cached) return cached;
    const weighted = samples.flatMap((s) => s.keys.map((key) => ({ key, weight: s.count / s.keys.length })));
    weighted.sort((a, b) => compare(a.key, b.key));
    const total = weighted.reduce((sum, w) => sum + w.weight, 0);
    const result: unknown[] = [];
    let cumulative = 0;
    let next = 1;
    for (const { key, weight } of weighted) {
      cumulative += weight;
      while (next < channels && cumulative >= (next * total) / channels) {
        result.push(key);
        next++;
      }
    }
    boundariesFor.set(channels, result);
    return result;
  };

  return {
    process(record, _out, input) {
      if (input === 2) samples.push(record as KeySample);
      else held.add(record);
    },
    drain(out, max) {
      records ??= held.sorted();
      for (let i = 0; i < max; i++) {
        const next = records.next();
        if (next.done) return true;
        out.emit(next.value);
      }
      return false;
    },
    channelOf(record, channels) {
      const bounds = boundaries(channels);
      const key = keyOf(record);
      // The first range whose closing key is not below the record's: equal keys stay together.
      let low = 0;
      let high = bounds.length;
      while (low < high) {
        const middle = (low + high) >> 1;
        if (compare(bounds[middle], key) < 0) low = middle + 1;
        else high = middle;
      }
      return order === 'asc' ? low : channels - 1 - low;
    },
    close() {
      held.close();
    },
  };
}
