import { CloudflinkError } from '../../../lib/errors/index.ts';
import type { KeyedStateBackend, KeyedStateStore } from '../../../lib/state/index.ts';
import type { Collector, OperatorLogic, UserFn } from './types.ts';

export function mapLogic(fn: UserFn): OperatorLogic {
  return { process: (record, out) => out.emit(fn(record)) };
}

export function filterLogic(fn: UserFn): OperatorLogic {
  return { process: (record, out) => { if (fn(record)) out.emit(record); } };
}

export function flatMapLogic(fn: UserFn): OperatorLogic {
  return { process: (record, out) => emitAll(fn(record), out, 'a flatMap function') };
}

/** Emits what a function returned: an array or another iterable, or nothing. */
function emitAll(results: unknown, out: Collector, what: string): void {
  if (results === undefined || results === null) return;
  if (typeof (results as Iterable<unknown>)[Symbol.iterator] !== 'function' || typeof results === 'string') {
    throw new CloudflinkError('UDF_FAILED', `${what} must return an array or another iterable, not ${describe(results)}`);
  }
  for (const item of results as Iterable<unknown>) out.emit(item);
}

/** What a keyed process function gets besides the record: its key and the state of that key. */
export interface ProcessContext {
  key: unknown;
  state: KeyedStateStore;
}

/** Keyed process function: any output (an iterable, or nothing) and any keyed state, per record. */
export function processLogic(fn: UserFn, keyOf: (record: unknown) => unknown, state: KeyedStateBackend): OperatorLogic {
  return {
    process(record, out: Collector) {
      const key = keyOf(record);
      state.setCurrentKey(key);
      emitAll(fn(record, { key, state: state.store } satisfies ProcessContext), out, 'a process function');
    },
  };
}

/** Keyed rolling reduce: emits the running result of the record's key after each record; the result is keyed state. */
export function reduceLogic(fn: UserFn, keyOf: (record: unknown) => unknown, state: KeyedStateBackend): OperatorLogic {
  return {
    process(record, out: Collector) {
      state.setCurrentKey(keyOf(record));
      const current = state.store.value<unknown>('reduce');
      const previous = current.value();
      const next = previous === undefined ? record : fn(previous, record);
      current.update(next);
      out.emit(next);
    },
  };
}

/** Keyed rolling sum of one field; the other fields come from the key's first record (as in Flink). */
export function sumLogic(field: string | number, keyOf: (record: unknown) => unknown, state: KeyedStateBackend): OperatorLogic {
  const what = `sum(${JSON.stringify(field)})`;
  const add = (a: unknown, b: unknown): unknown => {
    const x = (a as Record<string | number, unknown>)[field];
    const y = (b as Record<string | number, unknown>)[field];
    if (typeof x !== typeof y) throw new CloudflinkError('UDF_FAILED', `${what} cannot add ${describe(y)} to ${describe(x)}: use numbers or bigints throughout`);
    const copy = (Array.isArray(a) ? [...a] : { ...(a as object) }) as Record<string | number, unknown>;
    copy[field] = (x as number) + (y as number);
    return copy;
  };
  // Every record is checked, the first of each key too, before it reaches the rolling state.
  return reduceLogic((a, b) => add(a, b), (record) => {
    if (record === null || typeof record !== 'object') {
      throw new CloudflinkError('UDF_FAILED', `${what} needs records that are arrays or objects, got ${describe(record)}`);
    }
    const value = (record as Record<string | number, unknown>)[field];
    if (typeof value !== 'number' && typeof value !== 'bigint') {
      throw new CloudflinkError('UDF_FAILED', `${what} needs a number in that field, got ${describe(value)}`);
    }
    return keyOf(record);
  }, state);
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return `${typeof value} ${text && text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
}
