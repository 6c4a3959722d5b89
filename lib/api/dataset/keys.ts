/**
 * What the DataSet operators take as keys and fields, checked at call time with the call named,
 * and turned into the descriptor's KeySelector.
 */
import type { AggregationKind, KeySelector } from '../../descriptor/types.ts';
import { CloudflinkError } from '../../errors/index.ts';
import { captureFunction, type FunctionRef } from '../capture.ts';

/** A key: a field name, an array index, or a key-selector function. */
export type Key<T> = (keyof T & string) | number | ((value: T) => unknown) | FunctionRef;

/** A field: a name or an array index. */
export type Field<T> = (keyof T & string) | number;

/** Flink's Aggregations, as the descriptor names them. */
export const Aggregations = { SUM: 'sum', MIN: 'min', MAX: 'max', COUNT: 'count', AVG: 'avg' } as const satisfies Record<string, AggregationKind>;

const AGGREGATION_KINDS: readonly AggregationKind[] = Object.values(Aggregations);

export type Order = 'asc' | 'desc';

/** Flink's Order. */
export const Order = { ASCENDING: 'asc', DESCENDING: 'desc' } as const satisfies Record<string, Order>;

// Every record in one group: the key of a combiner before a global reduce or aggregate.
export const CONSTANT_KEY: KeySelector = { fn: '() => 0' };
// The whole record as its key: distinct() without one.
export const WHOLE_RECORD: KeySelector = { fn: '(record) => record' };

export function keySelector(key: unknown, role: string): KeySelector {
  if (typeof key === 'string' || typeof key === 'number') return { field: field(key, role) };
  if (typeof key === 'function' || (typeof key === 'object' && key !== null)) return { fn: captureFunction(key, role).fn };
  throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: a key is a field name, an array index or a key-selector function, got ${describe(key)}`);
}

export function field(value: unknown, role: string): string | number {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: a field is a non-empty name or a non-negative array index, got ${describe(value)}`);
}

export function aggregationKind(kind: unknown, role: string): AggregationKind {
  if (!AGGREGATION_KINDS.includes(kind as AggregationKind)) {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: unknown aggregation ${describe(kind)}; use one of: ${AGGREGATION_KINDS.join(', ')} (or Aggregations.SUM, …)`);
  }
  return kind as AggregationKind;
}

export function order(value: unknown, role: string): Order {
  if (value !== 'asc' && value !== 'desc') {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: the order is 'asc' or 'desc' (Order.ASCENDING, Order.DESCENDING), got ${describe(value)}`);
  }
  return value;
}

export function count(n: unknown, role: string): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: n must be a whole number, at least 1, got ${describe(n)}`);
  }
  return n;
}

export function path(value: unknown, role: string): string {
  if (typeof value !== 'string' || value === '') throw new CloudflinkError('DESCRIPTOR_INVALID', `${role} expects a non-empty path`);
  return value;
}

export function delimiter(value: unknown, role: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length !== 1) {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: the delimiter is a single character, got ${describe(value)}`);
  }
  return value;
}

export function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}
