/** For specs that drive an operator's logic directly. */
import { expect } from 'chai';
import type { OperatorLogic, UserFn } from '../../actors/operator/logic/types.ts';

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
