/**
 * The DataSet operators on a grouping (Flink's reduce, reduceGroup, aggregate, minBy/maxBy,
 * first, distinct on a grouped DataSet) and on a whole partition (sortPartition, mapPartition).
 *
 * With a key (the operator's hash input edge's), process() adds [canonicalKey(key), arrival,
 * record] to an ExternalSorter, so that each group comes out contiguous and in input order (or,
 * with sortGroup, in the order of its sort keys, then input order);
 * drain() pulls the sorted records and emits each group's results as it completes. Groups come
 * in the order of their canonical key text, which is no order a user should rely on. Without a
 * key, the subtask's whole partition is one group and is folded as it arrives, without a sort.
 *
 * reduce, aggregate, minBy/maxBy and distinct stream through a group and hold one record;
 * first holds up to n; reduceGroup and mapPartition hand the user function the whole group as
 * an array, so a group must fit in memory: past BatchResources.groupBytesLimit (estimated) the
 * task fails with a message that says so, rather than exhaust the heap.
 */
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { ExternalSorter, estimateHeapBytes } from '../../../../lib/batch/index.ts';
import type {
  BatchAggregateVertex, BatchDistinctVertex, BatchExtremumVertex, BatchFirstVertex, BatchMapPartitionVertex,
  BatchReduceGroupVertex, BatchReduceVertex, BatchSortPartitionVertex,
} from '../../../../lib/descriptor/types.ts';
import type { Collector, OperatorLogic, UserFn } from '../types.ts';
import { describe, iterableOf } from '../emit.ts';
import { aggregator } from './aggregations.ts';
import { Drainer } from './drain.ts';
import { type Ranked, canonicalOf, defaultGroupBytesLimit, fieldsOf, rankable } from './values.ts';
import { sortOrder, sortPartitionLogic, type SortKeyFn } from './sort-partition.ts';

export { batchCombineLogic } from './combine.ts';
export { PARTIAL_MARKER } from './aggregations.ts';

export interface BatchResources {
  /** The operator's share of its slot's batch memory: past it, the sorter spills to `directory`. */
  memoryBytes: number;
  directory: string;
  /** How large (estimated) a group held whole may grow (reduceGroup, mapPartition, first); default a quarter of the heap limit. */
  groupBytesLimit?: number;
}

export type BatchGroupingVertex =
  | BatchReduceVertex | BatchReduceGroupVertex | BatchAggregateVertex | BatchExtremumVertex | BatchFirstVertex | BatchDistinctVertex
  | BatchSortPartitionVertex | BatchMapPartitionVertex;

export interface BatchGroupingFns {
  fn?: UserFn;
  /** The group key; for batch.distinct, the distinct key (absent: the whole record). */
  key?: (record: unknown) => unknown;
  sortKeys?: SortKeyFn[];
}

/** One group's computation: its records one at a time, then what it emits. */
interface GroupFold {
  add(record: unknown): void;
  results(): Iterable<unknown>;
}

/** A sorted record: its key's canonical text, its arrival number, the record, and its sortGroup values when there are any. */
type Entry = [canonical: string, seq: number, record: unknown, within?: (Ranked | null)[]];

export function batchGroupingLogic(spec: BatchGroupingVertex, fns: BatchGroupingFns, resources: BatchResources, vertexName: string): OperatorLogic {
  const label = `${spec.operator} '${vertexName}'`;
  if (spec.operator === 'batch.sortPartition') return sortPartitionLogic(fns.sortKeys, resources, label);
  const open = foldFor(spec, fns, resources, label);
  // mapPartition never groups; distinct always does, by its own key.
  const keyOf = spec.operator === 'batch.mapPartition' ? undefined : spec.operator === 'batch.distinct' ? fns.key ?? ((record: unknown) => record) : fns.key;
  // sortGroup: the records of each group in the order of those keys (reduceGroup, first).
  const within = fns.sortKeys === undefined ? undefined : sortOrder(fns.sortKeys, label);
  if (keyOf === undefined) {
    if (within) throw new CloudflinkError('DESCRIPTOR_INVALID', `${label}: sortGroup sorts the records of each group, and there is no group key (a hash input)`);
    return wholePartition(open, spec.operator === 'batch.mapPartition');
  }
  return grouped(open, keyOf, resources, label, within);
}

/** The partition as one group, folded as records arrive. */
function wholePartition(open: (key: unknown) => GroupFold, evenIfEmpty: boolean): OperatorLogic {
  let group: GroupFold | undefined;
  const drainer = new Drainer(() => {
    // Flink calls a mapPartition function on an empty partition too, but reduces nothing.
    if (group === undefined && evenIfEmpty) group = open(undefined);
    return (group?.results() ?? [])[Symbol.iterator]();
  });
  return {
    process(record) { (group ??= open(undefined)).add(record); },
    drain: (out, max) => drainer.drain(out, max),
    close() { drainer.close(); group = undefined; },
  };
}

function grouped(
  open: (key: unknown) => GroupFold, keyOf: (record: unknown) => unknown, resources: BatchResources, label: string, within?: ReturnType<typeof sortOrder>,
): OperatorLogic {
  const sorter = new ExternalSorter<Entry>({
    compare: (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : (within?.compare(a[3]!, b[3]!) || a[1] - b[1])),
    memoryBytes: resources.memoryBytes,
    directory: resources.directory,
  });
  let seq = 0;
  const drainer = new Drainer(() => groupResults(sorter.sorted(), open, keyOf));
  let closed = false;
  return {
    process(record) {
      const canonical = canonicalOf(keyOf(record), label);
      sorter.add(within ? [canonical, seq++, record, within.valuesOf(record)] : [canonical, seq++, record]);
    },
    drain: (out: Collector, max: number) => drainer.drain(out, max),
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

/** Each group's results in turn: a group ends where the canonical key changes. */
function* groupResults(entries: Iterator<Entry>, open: (key: unknown) => GroupFold, keyOf: (record: unknown) => unknown): Generator<unknown> {
  let next = entries.next();
  while (!next.done) {
    const [canonical, , first] = next.value;
    // The key from the group's record as it came back from the sorter, rather than one more field per record.
    const group = open(keyOf(first));
    group.add(first);
    for (next = entries.next(); !next.done && next.value[0] === canonical; next = entries.next()) group.add(next.value[2]);
    yield* group.results();
  }
}

function foldFor(spec: Exclude<BatchGroupingVertex, BatchSortPartitionVertex>, fns: BatchGroupingFns, resources: BatchResources, label: string): (key: unknown) => GroupFold {
  const limit = resources.groupBytesLimit ?? defaultGroupBytesLimit();
  switch (spec.operator) {
    case 'batch.reduce': {
      const fn = needFn(fns.fn, label);
      return () => {
        let acc: unknown;
        let empty = true;
        return {
          add(record) {
            acc = empty ? record : fn(acc, record);
            empty = false;
          },
          results: () => [acc],
        };
      };
    }
    case 'batch.aggregate': {
      const aggregate = aggregator(spec.aggregations, label);
      return () => {
        let group: ReturnType<typeof aggregate.start> | undefined;
        return {
          add(record) {
            if (group === undefined) group = aggregate.start(record);
            else aggregate.add(group, record);
          },
          results: () => [aggregate.result(group!)],
        };
      };
    }
    case 'batch.minBy': case 'batch.maxBy': {
      const lower = spec.operator === 'batch.minBy';
      const field = spec.field;
      if (typeof field !== 'string' && typeof field !== 'number') throw new CloudflinkError('DESCRIPTOR_INVALID', `${label} needs a field (a string or a number), got ${describe(field)}`);
      const what = `${label}: field ${JSON.stringify(field)}`;
      return () => {
        let best: unknown;
        let bestValue: Ranked | undefined;
        return {
          add(record) {
            const value = rankable(fieldsOf(record, label)[field], what, bestValue);
            // Strictly better only: on a tie the earlier record stays.
            if (bestValue === undefined || (lower ? value < bestValue : value > bestValue)) {
              best = record;
              bestValue = value;
            }
          },
          results: () => [best],
        };
      };
    }
    case 'batch.first': {
      const n = spec.n;
      if (!Number.isSafeInteger(n) || n < 1) throw new CloudflinkError('DESCRIPTOR_INVALID', `${label} needs n, a whole number of at least 1, got ${describe(n)}`);
      return () => {
        const kept = new GroupBuffer(limit, label, 'first(n) holds up to n records of a group');
        return {
          add(record) { if (kept.records.length < n) kept.push(record); },
          results: () => kept.records,
        };
      };
    }
    case 'batch.distinct':
      return () => {
        let first: unknown;
        let empty = true;
        return {
          add(record) {
            if (empty) first = record;
            empty = false;
          },
          results: () => [first],
        };
      };
    case 'batch.reduceGroup': {
      const fn = needFn(fns.fn, label);
      return (key) => {
        const group = new GroupBuffer(limit, label, 'reduceGroup hands its function a whole group as an array; reduce or aggregate stream instead');
        return {
          add: (record) => group.push(record),
          results: () => iterableOf(fn(group.take(), key), `the reduceGroup function of ${label}`),
        };
      };
    }
    case 'batch.mapPartition': {
      const fn = needFn(fns.fn, label);
      return () => {
        const group = new GroupBuffer(limit, label, "mapPartition hands its function the subtask's whole partition as an array; a higher parallelism makes partitions smaller");
        return {
          add: (record) => group.push(record),
          results: () => iterableOf(fn(group.take()), `the mapPartition function of ${label}`),
        };
      };
    }
    default:
      return unknownOperator(spec);
  }
}

/** A group held whole, with a guard on its estimated size. */
class GroupBuffer {
  records: unknown[] = [];
  private bytes = 0;

  constructor(private readonly limit: number, private readonly label: string, private readonly why: string) {}

  push(record: unknown): void {
    this.bytes += 8 + estimateHeapBytes(record, 0);
    if (this.bytes > this.limit) {
      throw new CloudflinkError('TASK_FAILED',
        `${this.label}: one group passed ${Math.round(this.limit / 2 ** 20)} MB (estimated) after ${this.records.length} records, ` +
        `and a group must fit in memory here: ${this.why}`);
    }
    this.records.push(record);
  }

  /** The records, handed over: the buffer lets go of them. */
  take(): unknown[] {
    const records = this.records;
    this.records = [];
    return records;
  }
}

function needFn(fn: UserFn | undefined, label: string): UserFn {
  if (typeof fn !== 'function') throw new CloudflinkError('DESCRIPTOR_INVALID', `${label} needs a function, got ${describe(fn)}`);
  return fn;
}

function unknownOperator(spec: never): never {
  throw new CloudflinkError('DESCRIPTOR_INVALID', `not a batch grouping operator: ${describe((spec as { operator?: unknown }).operator)}`);
}
