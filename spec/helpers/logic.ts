/** For specs that drive an operator's logic directly. */
import { expect } from 'chai';
import type { OperatorLogic, UserFn } from '../../actors/operator/logic/types.ts';
import { decode, encode } from '../../lib/codec/index.ts';
import { KeyedStateBackend, keyGroupRangeFor } from '../../lib/state/index.ts';

/** The input a record came by into a two-input operator (absent: the first). */
export type Input = 1 | 2 | undefined;

/** Feeds records one at a time, each with the input it came by; returns what was emitted after each. */
export function runWithInputs(logic: OperatorLogic, records: [unknown, Input][]): unknown[][] {
  return records.map(([record, input]) => {
    const out: unknown[] = [];
    logic.process!(record, { emit: (r) => out.push(r) }, input);
    return out;
  });
}

/** A spec's function as the logic takes a user function. */
export const fn = (f: (...args: never[]) => unknown): UserFn => f as UserFn;

/** The error `action` throws; fails if it throws none. */
export function thrownBy(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  return expect.fail('expected an error');
}

/** The key groups of the specs' keyed state: the engine's default. */
export const MAX_P = 128;

/** The keyed state of subtask `subtask` of `parallelism`: its key groups of MAX_P. */
export const backend = (subtask = 0, parallelism = 1): KeyedStateBackend =>
  new KeyedStateBackend({ maxParallelism: MAX_P, range: keyGroupRangeFor(subtask, parallelism, MAX_P) });

/** State goes to checkpoint storage and back as msgpack. */
export const viaWire = <T>(state: T): T => decode<T>(encode(state));
