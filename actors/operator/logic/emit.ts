/** What every operator does with what a user function returns, and with `ctx.output`. */
import { CloudflinkError } from '../../../lib/errors/index.ts';
import type { Collector } from './types.ts';

/**
 * Emits what a user function returned: an array or another iterable, or nothing (undefined or
 * null). `what` names the function in the error; `timestamp` defaults to the record's.
 */
export function emitAll(results: unknown, out: Collector, what: string, timestamp?: number): void {
  for (const result of iterableOf(results, what)) out.emit(result, timestamp);
}

/** What a user function returned, as records: an iterable, none for undefined or null; anything else is its error. */
export function iterableOf(results: unknown, what: string): Iterable<unknown> {
  if (results === undefined || results === null) return [];
  if (typeof (results as Iterable<unknown>)[Symbol.iterator] !== 'function' || typeof results === 'string') {
    throw new CloudflinkError('UDF_FAILED', `${what} must return an array or another iterable, not ${describe(results)}`);
  }
  return results as Iterable<unknown>;
}

/** `ctx.output(tag, value)`: to the side output `tag`, read downstream with `getSideOutput(tag)`. */
export function sideOutput(out: Collector, tag: string, value: unknown, timestamp?: number): void {
  if (typeof tag !== 'string' || tag === '') throw new CloudflinkError('UDF_FAILED', `ctx.output(tag, value) needs a non-empty string tag, got ${describe(tag)}`);
  out.emitTo?.(tag, value, timestamp);
}

/** A value as an error message shows it: its type and the start of its text. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return `${typeof value} ${text && text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
}
