/**
 * batch.aggregate's arithmetic, shared with batch.combine (its combiner before the shuffle).
 *
 * A group's result is its first record (a shallow copy) with each aggregated field set: sum
 * (numbers, or bigints), min and max (numbers, bigints or strings; one kind per group), count
 * (how many records) and avg (the sum of numbers over their count). A later aggregation of the
 * same field overwrites an earlier one.
 *
 * The combiner's partial records keep the shape of the input records, so that the key selector
 * of the shuffle after it reads them as it reads raw records: the group's first record with the
 * aggregated fields set to their values so far (avg's to sum/count so far), plus the state that
 * the final aggregate resumes from, under PARTIAL_MARKER —
 *   an object record:  { ...fields, __cloudflinkPartial: [acc₀, acc₁, …] }
 *   an array record:   [...items, { __cloudflinkPartial: [acc₀, acc₁, …] }]   (one more item at the end)
 * where accᵢ is aggregations[i]'s state: sum → the sum (number or bigint), min/max → the
 * extremum, count → the count (a number), avg → [sum, count]. The combiner and the final
 * aggregate must list the same aggregations in the same order. The final aggregate accepts raw
 * records and partials mixed, and strips the marker from what it emits.
 */
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import type { AggregationKind } from '../../../../lib/descriptor/types.ts';
import { describe } from '../emit.ts';
import { type Ranked, fieldsOf, rankable } from './values.ts';

export const PARTIAL_MARKER = '__cloudflinkPartial';

export interface Aggregation { kind: AggregationKind; field: string | number }
type Fields = Record<string | number, unknown>;
type Acc = number | bigint | string | [sum: number, count: number];

/** One group's aggregate so far: the record its result is built on, and each aggregation's state. */
export interface GroupAggregate { first: Fields; accs: Acc[] }

export interface Aggregator {
  start(record: unknown): GroupAggregate;
  add(group: GroupAggregate, record: unknown): void;
  /** The final record. */
  result(group: GroupAggregate): unknown;
  /** A partial record, for the final aggregate after a shuffle. */
  partial(group: GroupAggregate): unknown;
}

const KINDS: readonly AggregationKind[] = ['sum', 'min', 'max', 'count', 'avg'];

/** `label` names the vertex in errors, e.g. "batch.aggregate 'totals'". */
export function aggregator(aggregations: readonly Aggregation[], label: string): Aggregator {
  if (!Array.isArray(aggregations) || aggregations.length === 0) {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `${label} needs at least one aggregation, got ${describe(aggregations)}`);
  }
  for (const a of aggregations) {
    if (!KINDS.includes(a?.kind) || (typeof a.field !== 'string' && typeof a.field !== 'number')) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `${label}: an aggregation is { kind: ${KINDS.join('|')}, field: string or number }, got ${describe(a)}`);
    }
  }
  const what = (a: Aggregation): string => `${label}: ${a.kind} of field ${JSON.stringify(a.field)}`;

  const initial = (a: Aggregation, value: unknown): Acc => {
    switch (a.kind) {
      case 'sum':
        if (typeof value === 'number' || typeof value === 'bigint') return value;
        throw new CloudflinkError('UDF_FAILED', `${what(a)} needs numbers or bigints, got ${describe(value)}`);
      case 'avg':
        if (typeof value === 'number') return [value, 1];
        throw new CloudflinkError('UDF_FAILED', `${what(a)} needs numbers, got ${describe(value)}`);
      case 'min': case 'max':
        return rankable(value, what(a));
      case 'count':
        return 1;
      default:
        return unknownKind(a.kind);
    }
  };

  const merge = (a: Aggregation, x: Acc, y: Acc): Acc => {
    switch (a.kind) {
      case 'sum':
        if (typeof x !== typeof y) throw new CloudflinkError('UDF_FAILED', `${what(a)} cannot add ${describe(y)} to ${describe(x)}: use numbers or bigints throughout`);
        return (x as number) + (y as number);
      case 'count':
        return (x as number) + (y as number);
      case 'avg':
        return [(x as [number, number])[0] + (y as [number, number])[0], (x as [number, number])[1] + (y as [number, number])[1]];
      case 'min': case 'max': {
        const value = rankable(y, what(a), x as Ranked);
        // On a tie the earlier value stays (they are equal anyway).
        return (a.kind === 'min' ? value < (x as Ranked) : value > (x as Ranked)) ? value : x;
      }
      default:
        return unknownKind(a.kind);
    }
  };

  const read = (record: unknown): GroupAggregate => {
    const fields = fieldsOf(record, label);
    const partial = partialOf(fields);
    if (partial === undefined) return { first: fields, accs: aggregations.map((a) => initial(a, fields[a.field])) };
    if (!Array.isArray(partial.accs) || partial.accs.length !== aggregations.length) {
      throw new CloudflinkError('INTERNAL', `${label} got a partial aggregate of ${describe(partial.accs)} from a combiner with other aggregations than its ${aggregations.length}`);
    }
    return { first: partial.first, accs: [...partial.accs] };
  };

  const result = (group: GroupAggregate): Fields => {
    const record = (Array.isArray(group.first) ? [...group.first] : { ...group.first }) as Fields;
    aggregations.forEach((a, i) => {
      const acc = group.accs[i]!;
      record[a.field] = a.kind === 'avg' ? (acc as [number, number])[0] / (acc as [number, number])[1] : acc;
    });
    return record;
  };

  return {
    start: read,
    add(group, record) {
      const next = read(record);
      aggregations.forEach((a, i) => { group.accs[i] = merge(a, group.accs[i]!, next.accs[i]!); });
    },
    result,
    partial(group) {
      const record = result(group);
      const state = { [PARTIAL_MARKER]: group.accs };
      return Array.isArray(record) ? [...record, state] : { ...record, ...state };
    },
  };
}

/** A partial's first record (without the marker) and states; undefined for a raw record. */
function partialOf(fields: Fields): { first: Fields; accs: Acc[] } | undefined {
  if (Array.isArray(fields)) {
    const last: unknown = fields[fields.length - 1];
    if (last === null || typeof last !== 'object' || !Object.hasOwn(last, PARTIAL_MARKER)) return undefined;
    return { first: fields.slice(0, -1) as unknown as Fields, accs: (last as Record<string, Acc[]>)[PARTIAL_MARKER]! };
  }
  if (!Object.hasOwn(fields, PARTIAL_MARKER)) return undefined;
  const { [PARTIAL_MARKER]: accs, ...first } = fields;
  return { first, accs: accs as Acc[] };
}

function unknownKind(kind: never): never {
  throw new CloudflinkError('DESCRIPTOR_INVALID', `unknown aggregation ${describe(kind)}`);
}
