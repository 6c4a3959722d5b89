/**
 * batch.sortPartition: each subtask's records sorted by its keys, lexicographically (the
 * first key, then the next on a tie), each ascending or descending, and stable (records equal
 * on every key keep their input order). Key values are numbers (not NaN), bigints or strings,
 * one kind per key across the partition; null and undefined are equal to each other and come
 * before every value in ascending order (so after them in descending order: desc is asc reversed).
 */
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { ExternalSorter } from '../../../../lib/batch/index.ts';
import type { OperatorLogic } from '../types.ts';
import { describe } from '../emit.ts';
import { Drainer } from './drain.ts';
import type { BatchResources } from './grouping.ts';
import { type Ranked, compareRanked, rankable } from './values.ts';

export interface SortKeyFn { key: (record: unknown) => unknown; order: 'asc' | 'desc' }

/** A sorted record: its key values (null for null and undefined), its arrival number, the record. */
type Entry = [values: (Ranked | null)[], seq: number, record: unknown];

export function sortPartitionLogic(sortKeys: SortKeyFn[] | undefined, resources: BatchResources, label: string): OperatorLogic {
  const order = sortOrder(sortKeys, label);
  const compare = (a: Entry, b: Entry): number => order.compare(a[0], b[0]) || a[1] - b[1];
  const sorter = new ExternalSorter<Entry>({ compare, memoryBytes: resources.memoryBytes, directory: resources.directory });
  let seq = 0;
  const drainer = new Drainer(() => records(sorter.sorted()));
  let closed = false;
  return {
    process(record) { sorter.add([order.valuesOf(record), seq++, record]); },
    drain: (out, max) => drainer.drain(out, max),
    close() {
      if (closed) return;
      closed = true;
      try {
        drainer.close();
      } finally {
        sorter.close();
      }
    },
  };
}

/**
 * The order of some sort keys: each record's key values (null for null and undefined), and how
 * two records' values compare, the first key first. The first value seen of each key sets its
 * kind; a value of another kind fails clearly.
 */
export function sortOrder(sortKeys: SortKeyFn[] | undefined, label: string): {
  valuesOf(record: unknown): (Ranked | null)[];
  compare(a: (Ranked | null)[], b: (Ranked | null)[]): number;
} {
  if (!Array.isArray(sortKeys) || sortKeys.length === 0) throw new CloudflinkError('DESCRIPTOR_INVALID', `${label} needs at least one sort key, got ${describe(sortKeys)}`);
  for (const { key, order } of sortKeys) {
    if (typeof key !== 'function' || (order !== 'asc' && order !== 'desc')) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `${label}: a sort key is { key: function, order: 'asc' | 'desc' }, got ${describe({ key: typeof key, order })}`);
    }
  }
  const signs = sortKeys.map((k) => (k.order === 'desc' ? -1 : 1));
  const kinds: (Ranked | undefined)[] = sortKeys.map(() => undefined);
  return {
    valuesOf: (record) => sortKeys.map(({ key }, i) => {
      const value = key(record);
      if (value === null || value === undefined) return null;
      const ranked = rankable(value, `${label}: sort key ${i + 1}`, kinds[i]);
      kinds[i] ??= ranked;
      return ranked;
    }),
    compare(a, b) {
      for (let i = 0; i < signs.length; i++) {
        const x = a[i]!;
        const y = b[i]!;
        if (x === y) continue;
        const c = x === null ? -1 : y === null ? 1 : compareRanked(x, y);
        if (c !== 0) return signs[i]! * c;
      }
      return 0;
    },
  };
}

function* records(entries: Iterator<Entry>): Generator<unknown> {
  for (let next = entries.next(); !next.done; next = entries.next()) yield next.value[2];
}
