/**
 * A DataSet grouped by key (Flink's UnsortedGrouping). Each operation is a vertex reading a
 * `hash` edge by the key; reduce and aggregate first pass a combiner that pre-reduces each
 * subtask's records per key, at the input's parallelism.
 */
import type { KeySelector, OperatorSpec, SortKey } from '../../descriptor/types.ts';
import { captureFunction, type FunctionRef } from '../capture.ts';
import type { StreamNode } from '../environment.ts';
import { AggregateOperator, Operator, type DataSet } from './data-set.ts';
import { aggregationKind, count, field, keySelector, order, type Field, type Key, type Order } from './keys.ts';
import { combiner, type Aggregation } from './plan.ts';

export class Grouping<T> {
  constructor(private readonly input: DataSet<T>, private readonly key: KeySelector) {}

  /** Each group down to one record with `fn(a, b)`. */
  reduce(fn: ((a: T, b: T) => T) | FunctionRef): Operator<T> {
    const captured = captureFunction(fn, 'groupBy().reduce()');
    const combine = combiner(this.input.getExecutionEnvironment(), this.input, this.key, { fn: captured.fn });
    return new Operator<T>(this.input.getExecutionEnvironment(), this.keyed({ operator: 'batch.reduce', fn: captured.fn }, captured.name ?? 'reduce', combine));
  }

  /** `fn(records, key)` once per group, with all of its records (an array); returns the output records as an iterable. */
  reduceGroup<R, K = unknown>(fn: ((records: T[], key: K) => Iterable<R>) | FunctionRef): Operator<R> {
    const captured = captureFunction(fn, 'groupBy().reduceGroup()');
    return new Operator<R>(this.input.getExecutionEnvironment(), this.keyed({ operator: 'batch.reduceGroup', fn: captured.fn }, captured.name ?? 'reduceGroup'));
  }

  /** Per group, its first record with `field` aggregated; `.and(kind, field)` for more (Flink's aggregate). */
  aggregate(kind: Aggregation['kind'], on: Field<T>): AggregateOperator<T> {
    const first = { kind: aggregationKind(kind, 'groupBy().aggregate()'), field: field(on, 'groupBy().aggregate()') };
    const combine = combiner(this.input.getExecutionEnvironment(), this.input, this.key, { aggregations: [{ ...first }] });
    const node = this.keyed({ operator: 'batch.aggregate', aggregations: [first] }, 'aggregate', combine);
    return new AggregateOperator<T>(this.input.getExecutionEnvironment(), node, false, combine);
  }

  sum(on: Field<T>): AggregateOperator<T> {
    return this.aggregate('sum', on);
  }

  min(on: Field<T>): AggregateOperator<T> {
    return this.aggregate('min', on);
  }

  max(on: Field<T>): AggregateOperator<T> {
    return this.aggregate('max', on);
  }

  /** Per group, the record with the smallest `field` (the first such on a tie). */
  minBy(on: Field<T>): Operator<T> {
    return new Operator<T>(this.input.getExecutionEnvironment(), this.keyed({ operator: 'batch.minBy', field: field(on, 'groupBy().minBy()') }, 'minBy'));
  }

  maxBy(on: Field<T>): Operator<T> {
    return new Operator<T>(this.input.getExecutionEnvironment(), this.keyed({ operator: 'batch.maxBy', field: field(on, 'groupBy().maxBy()') }, 'maxBy'));
  }

  /** Per group, its first `n` records. */
  first(n: number): Operator<T> {
    return new Operator<T>(this.input.getExecutionEnvironment(), this.keyed({ operator: 'batch.first', n: count(n, 'groupBy().first()') }, 'first'));
  }

  /** Each group's records sorted by `key` for the next reduceGroup or first(n) (Flink's sortGroup); `.sortGroup()` again for ties. */
  sortGroup(key: Key<T>, direction: Order = 'asc'): SortedGrouping<T> {
    return new SortedGrouping<T>(this.input, this.key, [sortKey(key, direction)]);
  }

  /** A vertex reading a hash edge by the group key, from the combiner when there is one, else from the input. */
  protected keyed(spec: OperatorSpec, defaultName: string, from?: StreamNode): StreamNode {
    return this.input.getExecutionEnvironment().addNode(spec, defaultName, { node: from ?? this.input.node, partition: 'hash', key: this.key });
  }
}

/** A grouping whose groups come sorted (Flink's SortedGrouping): reduceGroup and first(n) see their records in that order. */
export class SortedGrouping<T> extends Grouping<T> {
  constructor(input: DataSet<T>, key: KeySelector, private readonly sortKeys: SortKey[]) {
    super(input, key);
  }

  /** Ties of the keys before sorted by `key` too. */
  override sortGroup(key: Key<T>, direction: Order = 'asc'): SortedGrouping<T> {
    this.sortKeys.push(sortKey(key, direction));
    return this;
  }

  override reduceGroup<R, K = unknown>(fn: ((records: T[], key: K) => Iterable<R>) | FunctionRef): Operator<R> {
    return this.sorted(super.reduceGroup<R, K>(fn));
  }

  override first(n: number): Operator<T> {
    return this.sorted(super.first(n));
  }

  private sorted<R>(operator: Operator<R>): Operator<R> {
    (operator.node.spec as { sortGroup?: SortKey[] }).sortGroup = this.sortKeys.map((k) => ({ ...k }));
    return operator;
  }
}

function sortKey(key: unknown, direction: unknown): SortKey {
  return { key: keySelector(key, 'sortGroup()'), order: order(direction, 'sortGroup()') };
}
