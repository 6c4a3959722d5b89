/**
 * Built-in window functions (`windowed.distinct`, `windowed.topN`, `windowed.sortBy`) as
 * incremental aggregates. Their accumulators are keyed state, checkpointed as msgpack, so they
 * are plain arrays and objects (no Map, no Set); they are changed in place and returned.
 *
 * Ranked values are numbers, bigints or strings, one kind per window; ties go by arrival.
 */
import { CloudflinkError } from '../../../lib/errors/index.ts';
import { canonicalKey } from '../../../lib/partition/index.ts';
import { describe } from './emit.ts';

export type Order = 'asc' | 'desc';

export type BuiltinWindowFunction =
  | { distinct: true | { key: (record: unknown) => unknown } }
  | { topN: { n: number; by: (record: unknown) => unknown; order: Order } }
  | { sort: { by?: (record: unknown) => unknown; order: Order } };

export interface WindowAggregate {
  create(): unknown;
  add(acc: unknown, record: unknown, timestamp: number): unknown;
  /** The records to emit, in order. */
  result(acc: unknown): unknown[];
  /** `a` is the earlier window's: the same as adding a's records, then b's. */
  merge(a: unknown, b: unknown): unknown;
}

type Ranked = number | bigint | string;

/** distinct: the canonical keys seen (a set as an object), and the first record of each, in arrival order. */
interface DistinctAcc { s: Record<string, 1>; r: unknown[] }
/** topN: how many records came (their arrival sequence), and the best n as [value, seq, record], in rank order. */
interface TopNAcc { c: number; e: [Ranked, number, unknown][] }
/** sort: every record with its value, in arrival order; sorted (stably) only for a result. */
type SortAcc = [Ranked, unknown][];

export function builtinWindowAggregate(fn: BuiltinWindowFunction, vertexName: string): WindowAggregate {
  if ('distinct' in fn) return distinctAggregate(fn.distinct, vertexName);
  if ('topN' in fn) return topNAggregate(fn.topN, vertexName);
  if ('sort' in fn) return sortAggregate(fn.sort, vertexName);
  throw new CloudflinkError('DESCRIPTOR_INVALID', `window '${vertexName}': unknown built-in window function ${describe(fn)}`);
}

function distinctAggregate(spec: true | { key: (record: unknown) => unknown }, vertexName: string): WindowAggregate {
  if (spec !== true && typeof spec?.key !== 'function') {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `window '${vertexName}': distinct takes true or { key: function }, got ${describe(spec)}`);
  }
  const keyOf = spec === true ? (record: unknown) => record : spec.key;
  const canonical = (record: unknown): string => {
    const key = keyOf(record);
    try {
      return canonicalKey(key);
    } catch {
      throw new CloudflinkError('UDF_FAILED', `distinct of window '${vertexName}' needs keys that msgpack can carry, got ${describe(key)}`);
    }
  };
  const addKeyed = (acc: DistinctAcc, key: string, record: unknown): void => {
    if (Object.hasOwn(acc.s, key)) return;
    acc.s[key] = 1;
    acc.r.push(record);
  };
  return {
    create: (): DistinctAcc => ({ s: {}, r: [] }),
    add(acc, record) {
      addKeyed(acc as DistinctAcc, canonical(record), record);
      return acc;
    },
    result: (acc) => [...(acc as DistinctAcc).r],
    merge(a, b) {
      const into = a as DistinctAcc;
      for (const record of (b as DistinctAcc).r) addKeyed(into, canonical(record), record);
      return into;
    },
  };
}

function topNAggregate(spec: { n: number; by: (record: unknown) => unknown; order: Order }, vertexName: string): WindowAggregate {
  const { n, by, order } = spec ?? {};
  if (!Number.isInteger(n) || n < 1) throw new CloudflinkError('DESCRIPTOR_INVALID', `window '${vertexName}': topN needs n, a positive integer, got ${describe(n)}`);
  if (typeof by !== 'function') throw new CloudflinkError('DESCRIPTOR_INVALID', `window '${vertexName}': topN needs by, a function of the record, got ${describe(by)}`);
  checkOrder(order, vertexName, 'topN');
  const what = `topN of window '${vertexName}'`;
  const sign = order === 'asc' ? 1 : -1;
  /** Negative when x ranks before y. */
  const rank = (x: [Ranked, number, unknown], y: [Ranked, number, unknown]): number => sign * compare(x[0], y[0]) || x[1] - y[1];
  return {
    create: (): TopNAcc => ({ c: 0, e: [] }),
    add(acc, record) {
      const top = acc as TopNAcc;
      const entry: [Ranked, number, unknown] = [rankable(by(record), top.e[0]?.[0], what), top.c++, record];
      // Latest to arrive: after every entry it ties with.
      let low = 0;
      let high = top.e.length;
      while (low < high) {
        const mid = (low + high) >> 1;
        if (rank(top.e[mid]!, entry) <= 0) low = mid + 1;
        else high = mid;
      }
      if (low < n) {
        top.e.splice(low, 0, entry);
        if (top.e.length > n) top.e.pop();
      }
      return top;
    },
    result: (acc) => (acc as TopNAcc).e.map((entry) => entry[2]),
    merge(a, b) {
      const first = a as TopNAcc;
      const second = b as TopNAcc;
      // b's records came after all of a's.
      const later = second.e.map(([value, seq, record]): [Ranked, number, unknown] => [value, first.c + seq, record]);
      if (first.e.length > 0 && later.length > 0) rankable(later[0]![0], first.e[0]![0], what);
      const merged: [Ranked, number, unknown][] = [];
      let i = 0;
      let j = 0;
      while (merged.length < n && (i < first.e.length || j < later.length)) {
        if (j >= later.length || (i < first.e.length && rank(first.e[i]!, later[j]!) < 0)) merged.push(first.e[i++]!);
        else merged.push(later[j++]!);
      }
      first.e = merged;
      first.c += second.c;
      return first;
    },
  };
}

function sortAggregate(spec: { by?: (record: unknown) => unknown; order: Order }, vertexName: string): WindowAggregate {
  const { by, order } = spec ?? {};
  if (by !== undefined && typeof by !== 'function') {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `window '${vertexName}': sortBy takes a function of the record, or nothing for event time, got ${describe(by)}`);
  }
  checkOrder(order, vertexName, 'sortBy');
  const what = `sortBy of window '${vertexName}'`;
  const sign = order === 'asc' ? 1 : -1;
  return {
    create: (): SortAcc => [],
    add(acc, record, timestamp) {
      const entries = acc as SortAcc;
      if (by === undefined && typeof timestamp !== 'number') {
        throw new CloudflinkError('UDF_FAILED', `${what} sorts by event time, but a record came without a timestamp: give its source event time`);
      }
      entries.push([rankable(by === undefined ? timestamp : by(record), entries[0]?.[0], what), record]);
      return entries;
    },
    // Array.prototype.sort is stable: ties stay in arrival order.
    result: (acc) => [...(acc as SortAcc)].sort((x, y) => sign * compare(x[0], y[0])).map((entry) => entry[1]),
    merge(a, b) {
      const first = a as SortAcc;
      const second = b as SortAcc;
      if (first.length > 0 && second.length > 0) rankable(second[0]![0], first[0]![0], what);
      for (const entry of second) first.push(entry);
      return first;
    },
  };
}

function checkOrder(order: unknown, vertexName: string, what: string): void {
  if (order !== 'asc' && order !== 'desc') throw new CloudflinkError('DESCRIPTOR_INVALID', `window '${vertexName}': ${what} needs order 'asc' or 'desc', got ${describe(order)}`);
}

/** The value, if it can be ranked with `other` (of the same window): a number (not NaN), a bigint or a string, of other's kind. */
function rankable(value: unknown, other: Ranked | undefined, what: string): Ranked {
  if ((typeof value !== 'number' || Number.isNaN(value)) && typeof value !== 'bigint' && typeof value !== 'string') {
    throw new CloudflinkError('UDF_FAILED', `${what} ranks numbers, bigints or strings, got ${describe(value)}`);
  }
  if (other !== undefined && typeof other !== typeof value) {
    throw new CloudflinkError('UDF_FAILED', `${what} cannot rank ${describe(value)} with ${describe(other)}: use one kind of value per window`);
  }
  return value;
}

function compare(x: Ranked, y: Ranked): number {
  return x < y ? -1 : x > y ? 1 : 0;
}
