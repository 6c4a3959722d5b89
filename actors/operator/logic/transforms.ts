import { CloudflinkError } from '../../../lib/errors/index.ts';
import type { KeyedStateBackend, KeyedStateStore } from '../../../lib/state/index.ts';
import type { Collector, OperatorLogic, UserFn } from './types.ts';
import { describe, emitAll, sideOutput } from './emit.ts';

export function mapLogic(fn: UserFn): OperatorLogic {
  return { process: (record, out) => out.emit(fn(record)) };
}

export function filterLogic(fn: UserFn): OperatorLogic {
  return { process: (record, out) => { if (fn(record)) out.emit(record); } };
}

export function flatMapLogic(fn: UserFn): OperatorLogic {
  return { process: (record, out) => emitAll(fn(record), out, 'a flatMap function') };
}

/** What a keyed co-process function gets besides the record: its key, the state of that key, and its side outputs. */
export interface ProcessContext {
  key: unknown;
  state: KeyedStateStore;
  /** Emits `value` to the side output `tag`, read downstream with `getSideOutput(tag)`. */
  output(tag: string, value: unknown): void;
}

function contextFor(key: unknown, state: KeyedStateBackend, out: Collector): ProcessContext {
  return { key, state: state.store, output: (tag, value) => sideOutput(out, tag, value) };
}

/** Keyed rolling reduce: emits the running result of the record's key after each record; the result is keyed state. */
export function reduceLogic(fn: UserFn, keyOf: (record: unknown) => unknown, state: KeyedStateBackend): OperatorLogic {
  const current = state.store.value<unknown>('reduce');
  return {
    process(record, out: Collector) {
      state.setCurrentKey(keyOf(record));
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
  // The same state as reduce's, so that a sum's checkpoints stay what they were.
  const current = state.store.value<Record<string | number, unknown>>('reduce');
  return {
    process(record, out: Collector) {
      // Every record is checked, the first of each key too, before it reaches the rolling state.
      if (record === null || typeof record !== 'object') {
        throw new CloudflinkError('UDF_FAILED', `${what} needs records that are arrays or objects, got ${describe(record)}`);
      }
      const y = (record as Record<string | number, unknown>)[field];
      if (typeof y !== 'number' && typeof y !== 'bigint') {
        throw new CloudflinkError('UDF_FAILED', `${what} needs a number in that field, got ${describe(y)}`);
      }
      state.setCurrentKey(keyOf(record));
      const previous = current.value();
      let next: Record<string | number, unknown>;
      if (previous === undefined) {
        next = record as Record<string | number, unknown>;
      } else {
        const x = previous[field];
        if (typeof x !== typeof y) throw new CloudflinkError('UDF_FAILED', `${what} cannot add ${describe(y)} to ${describe(x)}: use numbers or bigints throughout`);
        // A copy: the previous sum went downstream by reference, and must not change there.
        next = (Array.isArray(previous) ? [...previous] : { ...previous }) as Record<string | number, unknown>;
        next[field] = (x as number) + (y as number);
      }
      current.update(next);
      out.emit(next);
    },
  };
}

export type Extremum = 'min' | 'max' | 'minBy' | 'maxBy';

/**
 * Keyed rolling extremum of one field, as Flink's: `min`/`max` keep the key's first record with
 * the field set to the extremum so far; `minBy`/`maxBy` keep the whole record that holds it (on
 * a tie the earlier one, unless `first` is false). Numbers, bigints or strings; one kind per key.
 */
export function extremumLogic(kind: Extremum, field: string | number, first: boolean, keyOf: (record: unknown) => unknown, state: KeyedStateBackend): OperatorLogic {
  const what = `${kind}(${JSON.stringify(field)})`;
  const lower = kind === 'min' || kind === 'minBy';
  const whole = kind === 'minBy' || kind === 'maxBy';
  const current = state.store.value<Record<string | number, unknown>>(kind);
  return {
    process(record, out: Collector) {
      if (record === null || typeof record !== 'object') {
        throw new CloudflinkError('UDF_FAILED', `${what} needs records that are arrays or objects, got ${describe(record)}`);
      }
      const y = (record as Record<string | number, unknown>)[field];
      if (typeof y !== 'number' && typeof y !== 'bigint' && typeof y !== 'string') {
        throw new CloudflinkError('UDF_FAILED', `${what} needs a number, a bigint or a string in that field, got ${describe(y)}`);
      }
      state.setCurrentKey(keyOf(record));
      const previous = current.value();
      let next: Record<string | number, unknown>;
      if (previous === undefined) {
        next = record as Record<string | number, unknown>;
      } else {
        const x = previous[field];
        if (typeof x !== typeof y) throw new CloudflinkError('UDF_FAILED', `${what} cannot compare ${describe(y)} with ${describe(x)}: use one kind of value per key`);
        const better = lower ? y < (x as typeof y) : y > (x as typeof y);
        const tie = y === x;
        next = previous;
        if (whole) {
          if (better || (tie && !first)) next = record as Record<string | number, unknown>;
        } else if (better) {
          // A copy: the previous result went downstream by reference, and must not change there.
          next = (Array.isArray(previous) ? [...previous] : { ...previous }) as Record<string | number, unknown>;
          next[field] = y;
        }
      }
      if (next !== previous) current.update(next);
      out.emit(next);
    },
  };
}

/** Flink's connect + CoMapFunction / CoFlatMapFunction: one function per input. */
export function coMapLogic(fn1: UserFn, fn2: UserFn, flat: boolean): OperatorLogic {
  if (flat) {
    return { process: (record, out, input) => emitAll((input === 2 ? fn2 : fn1)(record), out, `a coFlatMap function (fn${input ?? 1})`) };
  }
  return { process: (record, out, input) => out.emit((input === 2 ? fn2 : fn1)(record)) };
}

/** Flink's KeyedCoProcessFunction: per input its key selector and function; one keyed state for both. */
export function coProcessLogic(fns: [UserFn, UserFn], keysOf: [(record: unknown) => unknown, (record: unknown) => unknown], state: KeyedStateBackend): OperatorLogic {
  return {
    process(record, out: Collector, input = 1) {
      const side = input - 1;
      const key = keysOf[side]!(record);
      state.setCurrentKey(key);
      emitAll(fns[side]!(record, contextFor(key, state, out)), out, `a coProcess function (fn${input})`);
    },
  };
}

/** Flink's union: the records of every input, as they come. */
export function unionLogic(): OperatorLogic {
  return { process: (record, out) => out.emit(record) };
}
