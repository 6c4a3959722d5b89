/**
 * How the batch operators rank values (minBy/maxBy, min/max aggregations, sortPartition), as
 * extremumLogic does: numbers (not NaN), bigints or strings, compared with < and >, one kind of
 * value per comparison set.
 */
import { getHeapStatistics } from 'node:v8';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { canonicalKey } from '../../../../lib/partition/index.ts';
import { describe } from '../emit.ts';

export type Ranked = number | bigint | string;

/** `value` if it can be ranked (with `other`, of the same set, when given); else UDF_FAILED naming `what`. */
export function rankable(value: unknown, what: string, other?: Ranked): Ranked {
  if ((typeof value !== 'number' || Number.isNaN(value)) && typeof value !== 'bigint' && typeof value !== 'string') {
    throw new CloudflinkError('UDF_FAILED', `${what} needs a number, a bigint or a string, got ${describe(value)}`);
  }
  if (other !== undefined && typeof other !== typeof value) {
    throw new CloudflinkError('UDF_FAILED', `${what} cannot compare ${describe(value)} with ${describe(other)}: use one kind of value throughout`);
  }
  return value;
}

export function compareRanked(x: Ranked, y: Ranked): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A record's fields, when it is an object or an array; else UDF_FAILED naming `what`. */
export function fieldsOf(record: unknown, what: string): Record<string | number, unknown> {
  if (record === null || typeof record !== 'object') {
    throw new CloudflinkError('UDF_FAILED', `${what} needs records that are arrays or objects, got ${describe(record)}`);
  }
  return record as Record<string | number, unknown>;
}

/** Past this, a group held whole in memory fails its task clearly instead of exhausting the heap: a quarter of the heap limit. */
export function defaultGroupBytesLimit(): number {
  return Math.floor(getHeapStatistics().heap_size_limit / 4);
}

/** A key's canonical text (lib/partition); a key msgpack cannot carry is UDF_FAILED naming `label`. */
export function canonicalOf(key: unknown, label: string): string {
  try {
    return canonicalKey(key);
  } catch {
    throw new CloudflinkError('UDF_FAILED', `${label} needs keys that msgpack can carry, got ${describe(key)}`);
  }
}
