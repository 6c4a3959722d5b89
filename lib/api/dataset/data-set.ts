/**
 * DataSet: a bounded collection of records of type T (Flink's DataSet API). Each operation adds
 * a vertex to the environment's graph and returns the DataSet it produces; nothing runs until
 * execute(). Grouping operators read a `hash` edge by their key; see plan.ts for the combiners.
 */
import type {
  BatchAggregateVertex, BatchCrossVertex, BatchJoinVertex, BatchSortPartitionVertex, JoinStrategy, KeySelector, OperatorSpec, Partitioning,
} from '../../descriptor/types.ts';
import { CloudflinkError } from '../../errors/index.ts';
import { captureFunction, type FunctionRef } from '../capture.ts';
import type { StreamInput, StreamNode } from '../environment.ts';
import type { ExecutionEnvironment } from './environment.ts';
import { Grouping } from './grouping.ts';
import { CoGroupOperatorSets, JoinOperatorSets, type JoinOptions } from './joins.ts';
import {
  aggregationKind, count, CONSTANT_KEY, delimiter, describe, field, keySelector, order, path, WHOLE_RECORD,
  type Field, type Key, type Order,
} from './keys.ts';
import { combiner, type Aggregation } from './plan.ts';

/** The vertex param that carries project()'s fields to its function. */
export const PROJECT_FIELDS_PARAM = 'cloudflink.project';

/** How the next operator reads a DataSet, when not by the default (forward, or rebalance between parallelisms). */
interface PendingEdge { partition: Extract<Partitioning, 'hash' | 'rebalance' | 'custom'>; key?: KeySelector }

export interface CsvSinkOptions {
  /** The record fields to write, in column order. */
  fields: string[];
  /** A first line naming the columns; default false. */
  header?: boolean;
  /** One character; default ','. */
  delimiter?: string;
}

export type MapFunction<T, R> = ((value: T) => R) | FunctionRef;

/** Each round of an unrolled iteration adds its vertices to the plan: past this many, the descriptor would be unwieldy. */
const MAX_ROUNDS = 100;

export class DataSet<T> {
  constructor(
    protected readonly environment: ExecutionEnvironment,
    /** @internal The vertex that produces this DataSet. */
    readonly node: StreamNode,
    private readonly edge?: PendingEdge,
  ) {}

  getExecutionEnvironment(): ExecutionEnvironment {
    return this.environment;
  }

  map<R>(fn: MapFunction<T, R>): Operator<Awaited<R>> {
    return this.withFunction('map', fn);
  }

  /** `fn` returns the output records as an iterable (an array, or a generator). */
  flatMap<R>(fn: ((value: T) => Iterable<R>) | FunctionRef): Operator<R> {
    return this.withFunction('flatMap', fn);
  }

  filter(fn: ((value: T) => boolean | Promise<boolean>) | FunctionRef): Operator<T> {
    return this.withFunction('filter', fn);
  }

  /** `fn(records)` once per subtask with all of its records (an array); returns the output records as an iterable. */
  mapPartition<R>(fn: ((records: T[]) => Iterable<R>) | FunctionRef): Operator<R> {
    const captured = captureFunction(fn, 'mapPartition()');
    return this.next<R>({ operator: 'batch.mapPartition', fn: captured.fn }, captured.name ?? 'mapPartition');
  }

  /**
   * Keeps only `fields` of each record (Flink's project): names make an object of those fields,
   * array indexes an array of those elements, in the order given.
   */
  project(...fields: Field<T>[]): Operator<unknown> {
    if (fields.length === 0) throw new CloudflinkError('DESCRIPTOR_INVALID', 'project() needs at least one field');
    const checked = fields.map((f) => field(f, 'project()'));
    const byIndex = typeof checked[0] === 'number';
    if (checked.some((f) => (typeof f === 'number') !== byIndex)) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', 'project(): give field names (of objects) or array indexes, not both');
    }
    // The function cannot close over the fields, so they travel in the vertex's params.
    const fn = byIndex
      ? `(record) => params['${PROJECT_FIELDS_PARAM}'].map((index) => record[index])`
      : `(record) => Object.fromEntries(params['${PROJECT_FIELDS_PARAM}'].map((name) => [name, record[name]]))`;
    const projected = this.next<unknown>({ operator: 'map', fn }, 'project');
    this.environment.configure(projected.node, { params: { [PROJECT_FIELDS_PARAM]: checked } }, 'project()');
    return projected;
  }

  /**
   * Each distinct record once, by `key` or the whole record: a combiner drops each subtask's
   * duplicates before the records are partitioned by the key.
   */
  distinct(key?: Key<T>): Operator<T> {
    const selector = key === undefined ? undefined : keySelector(key, 'distinct()');
    const byKey = selector ?? WHOLE_RECORD;
    const combine = combiner(this.environment, this, byKey, { fn: '(first, second) => first' });
    const node = this.environment.addNode({ operator: 'batch.distinct', ...(selector ? { key: selector } : {}) }, 'distinct', { node: combine, partition: 'hash', key: byKey });
    return new Operator<T>(this.environment, node);
  }

  /** Groups the records by key, for reduce, reduceGroup, aggregate, minBy/maxBy or first per group. */
  groupBy(key: Key<T>): Grouping<T> {
    return new Grouping<T>(this, keySelector(key, 'groupBy()'));
  }

  /** All records down to one with `fn(a, b)`: a combiner per subtask, then one instance. */
  reduce(fn: ((a: T, b: T) => T) | FunctionRef): Operator<T> {
    const captured = captureFunction(fn, 'reduce()');
    const combine = combiner(this.environment, this, CONSTANT_KEY, { fn: captured.fn });
    return this.global<T>({ operator: 'batch.reduce', fn: captured.fn }, captured.name ?? 'reduce', combine);
  }

  /** The first record with `field` aggregated over all records; `.and(kind, field)` for more (Flink's aggregate). */
  aggregate(kind: Aggregation['kind'], on: Field<T>): AggregateOperator<T> {
    const first = { kind: aggregationKind(kind, 'aggregate()'), field: field(on, 'aggregate()') };
    const combine = combiner(this.environment, this, CONSTANT_KEY, { aggregations: [{ ...first }] });
    const node = this.environment.addNode({ operator: 'batch.aggregate', aggregations: [first] }, 'aggregate', { node: combine }, { parallelism: 1 });
    return new AggregateOperator<T>(this.environment, node, true, combine);
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

  /** The record with the smallest `field` (the first such on a tie): per subtask, then over those. */
  minBy(on: Field<T>): Operator<T> {
    return this.extremum('batch.minBy', on);
  }

  maxBy(on: Field<T>): Operator<T> {
    return this.extremum('batch.maxBy', on);
  }

  /** Any `n` records: the first n of each subtask, then the first n of those, in one instance. */
  first(n: number): Operator<T> {
    const spec = { operator: 'batch.first', n: count(n, 'first()') } as const;
    const local = this.environment.addNode({ ...spec }, 'first', this.asInput());
    this.environment.mirrorParallelism(this.node, local);
    return this.global<T>(spec, 'first', local);
  }

  /**
   * Joins with `other` on `.where(key1).equalTo(key2)`: the pairs [left, right], or `.with(fn)`'s
   * results. `options` is the type ('inner' by default) or { type, strategy }; without a
   * strategy, a small second input (fromElements, at most 10 000) is broadcast, else sort-merge.
   */
  join<U>(other: DataSet<U>, options?: JoinOptions): JoinOperatorSets<T, U> {
    return new JoinOperatorSets<T, U>(this, other, options, 'join()');
  }

  /** Every left record, with null for the right when none matches. */
  leftOuterJoin<U>(other: DataSet<U>, strategy?: JoinStrategy): JoinOperatorSets<T, U, T, U | null> {
    return new JoinOperatorSets<T, U, T, U | null>(this, other, { type: 'left', strategy }, 'leftOuterJoin()');
  }

  rightOuterJoin<U>(other: DataSet<U>, strategy?: JoinStrategy): JoinOperatorSets<T, U, T | null, U> {
    return new JoinOperatorSets<T, U, T | null, U>(this, other, { type: 'right', strategy }, 'rightOuterJoin()');
  }

  fullOuterJoin<U>(other: DataSet<U>, strategy?: JoinStrategy): JoinOperatorSets<T, U, T | null, U | null> {
    return new JoinOperatorSets<T, U, T | null, U | null>(this, other, { type: 'full', strategy }, 'fullOuterJoin()');
  }

  /** Per key of either input, `fn(lefts, rights, key)` → an iterable: `.where(key1).equalTo(key2).with(fn)`. */
  coGroup<U>(other: DataSet<U>): CoGroupOperatorSets<T, U> {
    return new CoGroupOperatorSets<T, U>(this, other);
  }

  /** Every pair of a record of this and one of `other` (broadcast to each subtask): [a, b], or `.with(fn)`'s results. */
  cross<U>(other: DataSet<U>): PairOperator<T, U, BatchCrossVertex> {
    this.sameEnvironment(other, 'cross()');
    const node = this.environment.addNode({ operator: 'batch.cross' }, 'cross', { ...this.asInput(), input: 1 });
    node.moreInputs = [{ node: other.node, partition: 'broadcast', input: 2 }];
    return new PairOperator<T, U, BatchCrossVertex>(this.environment, node, 'cross()');
  }

  /** The records of this DataSet and of `others`. */
  union(...others: DataSet<T>[]): Operator<T> {
    if (others.length === 0) throw new CloudflinkError('DESCRIPTOR_INVALID', 'union() needs at least one other DataSet');
    for (const other of others) this.sameEnvironment(other, 'union()');
    const node = this.environment.addNode({ operator: 'union' }, 'union', this.asInput());
    node.moreInputs = others.map((other) => other.asInput());
    return new Operator<T>(this.environment, node);
  }

  /**
   * A bulk iteration of `rounds` rounds (Flink's `iterate(n)` … `closeWith(next)`): `step` turns
   * the partial solution into the next one, and the result is the last. The rounds are unrolled
   * into the plan — each is its own stages, a DataSet it reads from outside (a graph's edges) is
   * stored once per round that reads it — so the number of rounds is fixed: there is no
   * termination criterion and no delta iteration.
   */
  iterate(rounds: number, step: (partial: DataSet<T>, round: number) => DataSet<T>): DataSet<T> {
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > MAX_ROUNDS) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `iterate(): rounds must be a whole number from 1 to ${MAX_ROUNDS}, got ${describe(rounds)}`);
    }
    if (typeof step !== 'function') throw new CloudflinkError('DESCRIPTOR_INVALID', `iterate(): step must be a function (partial, round) => DataSet, got ${describe(step)}`);
    let partial: DataSet<T> = this;
    for (let round = 0; round < rounds; round++) {
      const next = step(partial, round);
      if (!(next instanceof DataSet) || next.environment !== this.environment) {
        throw new CloudflinkError('DESCRIPTOR_INVALID',
          `iterate(): the step of round ${round + 1} must return a DataSet of the same ExecutionEnvironment, got ${next instanceof DataSet ? 'one of another environment' : describe(next)}`);
      }
      partial = next;
    }
    return partial;
  }

  /** Each subtask's records sorted by `key`; `.sortPartition(key2, order)` on the result sorts ties by key2. */
  sortPartition(key: Key<T>, direction: Order = 'asc'): SortPartitionOperator<T> {
    const by = { key: keySelector(key, 'sortPartition()'), order: order(direction, 'sortPartition()') };
    return new SortPartitionOperator<T>(this.environment, this.environment.addNode({ operator: 'batch.sortPartition', by: [by] }, 'sortPartition', this.asInput()));
  }

  /** The next operator reads the records partitioned by `key`: equal keys in one subtask. */
  partitionByHash(key: Key<T>): DataSet<T> {
    return new DataSet<T>(this.environment, this.node, { partition: 'hash', key: keySelector(key, 'partitionByHash()') });
  }

  /**
   * The next operator reads the records partitioned by ranges of `key` (Flink's
   * partitionByRange): subtask i gets keys no greater than subtask i + 1's (in `direction`), the
   * ranges cut from a sample of the keys so that each holds about as many records. Then
   * `sortPartition(key)` sorts the whole DataSet: write it to a directory, and its part files in
   * order are sorted.
   */
  partitionByRange(key: Key<T>, direction: Order = 'asc'): DataSet<T> {
    const selector = keySelector(key, 'partitionByRange()');
    const sample = this.environment.addNode({ operator: 'batch.sample', key: selector }, 'sample', this.asInput());
    const range = this.environment.addNode({ operator: 'batch.rangePartition', key: selector, order: order(direction, 'partitionByRange()') },
      'partitionByRange', { ...this.asInput(), input: 1 });
    range.moreInputs = [{ node: sample, partition: 'broadcast', input: 2 }];
    return new DataSet<T>(this.environment, range, { partition: 'custom' });
  }

  /** The next operator reads the records spread round-robin over its subtasks. */
  rebalance(): DataSet<T> {
    return new DataSet<T>(this.environment, this.node, { partition: 'rebalance' });
  }

  /** Writes each record to the Task Manager's stdout, after `prefix` when given. */
  print(prefix?: string): DataSink<T> {
    if (prefix !== undefined && typeof prefix !== 'string') throw new CloudflinkError('DESCRIPTOR_INVALID', 'print(): the prefix must be a string');
    return this.sink(prefix === undefined ? { operator: 'sink.print' } : { operator: 'sink.print', prefix });
  }

  /** One line per record (strings as they are, others as JSON): a file at parallelism 1, else a directory of part files. */
  writeAsText(filePath: string): DataSink<T> {
    return this.sink({ operator: 'sink.textFile', path: path(filePath, 'writeAsText()') });
  }

  /** One CSV line per record: `fields` in order, quoted as needed. */
  writeAsCsv(filePath: string, options: CsvSinkOptions): DataSink<T> {
    const role = 'writeAsCsv()';
    const checkedPath = path(filePath, role);
    const { fields, header } = options ?? ({} as CsvSinkOptions);
    if (!Array.isArray(fields) || fields.length === 0) throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: fields must name the record fields to write, at least one`);
    for (const name of fields) {
      if (typeof name !== 'string' || name === '') throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: each field is a non-empty name, got ${describe(name)}`);
    }
    if (header !== undefined && typeof header !== 'boolean') throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: header must be true or false`);
    const sep = delimiter(options.delimiter, role);
    return this.sink({
      operator: 'sink.csv', path: checkedPath, fields: [...fields],
      ...(header === undefined ? {} : { header }), ...(sep === undefined ? {} : { delimiter: sep }),
    });
  }

  /** One JSON document per line. */
  writeAsJsonLines(filePath: string): DataSink<T> {
    return this.sink({ operator: 'sink.jsonLines', path: path(filePath, 'writeAsJsonLines()') });
  }

  /** The records come back in the job's result: `result.collected[sink.id]`. */
  collect(): DataSink<T> {
    return this.sink({ operator: 'sink.collect' });
  }

  /** @internal This DataSet as the input of a vertex: its node and how the edge partitions. */
  asInput(): StreamInput {
    return { node: this.node, ...this.edge };
  }

  /** @internal Refuses anything but a DataSet of this environment. */
  sameEnvironment(other: unknown, role: string): void {
    if (!(other instanceof DataSet) || other.environment !== this.environment) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: the other input must be a DataSet of the same ExecutionEnvironment, got ${other instanceof DataSet ? 'one of another environment' : describe(other)}`);
    }
  }

  /** @internal A vertex reading this DataSet as it partitions, or as `input` says. */
  next<R>(spec: OperatorSpec, defaultName: string, input?: Omit<StreamInput, 'node'>): Operator<R> {
    return new Operator<R>(this.environment, this.environment.addNode(spec, defaultName, { ...this.asInput(), ...input }));
  }

  private withFunction<R>(operator: 'map' | 'filter' | 'flatMap', fn: unknown): Operator<R> {
    const captured = captureFunction(fn, `${operator}()`);
    return this.next<R>({ operator, fn: captured.fn }, captured.name ?? operator);
  }

  private extremum(operator: 'batch.minBy' | 'batch.maxBy', on: Field<T>): Operator<T> {
    const spec = { operator, field: field(on, `${operator.slice(6)}()`) };
    const local = this.environment.addNode({ ...spec }, operator.slice(6), this.asInput());
    this.environment.mirrorParallelism(this.node, local);
    return this.global<T>(spec, operator.slice(6), local);
  }

  /** The final vertex of a global operation: one instance, reading `from`. */
  private global<R>(spec: OperatorSpec, defaultName: string, from: StreamNode): Operator<R> {
    return new Operator<R>(this.environment, this.environment.addNode(spec, defaultName, { node: from }, { parallelism: 1 }), true);
  }

  private sink(spec: OperatorSpec): DataSink<T> {
    return new DataSink<T>(this.environment, this.environment.addNode(spec, spec.operator, this.asInput()));
  }
}

/** The DataSet an operator produces, with Flink's fluent settings for that operator. */
export class Operator<T> extends DataSet<T> {
  constructor(
    environment: ExecutionEnvironment, node: StreamNode,
    /** A global reduce, aggregate, minBy/maxBy or first(n): one instance sees every record. */
    private readonly single = false,
  ) {
    super(environment, node);
  }

  /** The vertex id. */
  get id(): string {
    return this.node.id;
  }

  /** The name shown in events and errors. */
  name(name: string): this {
    this.environment.configure(this.node, { name }, `${this.node.id}.name()`);
    return this;
  }

  setParallelism(parallelism: number): this {
    if (this.single && parallelism !== 1) {
      throw new CloudflinkError('DESCRIPTOR_INVALID',
        `${this.node.id}.setParallelism(${parallelism}): ${this.node.spec.operator} over the whole DataSet runs in one instance; groupBy() first to run it in parallel`);
    }
    this.environment.configure(this.node, { parallelism }, `${this.node.id}.setParallelism()`);
    return this;
  }

  getParallelism(): number | undefined {
    return this.node.parallelism;
  }

  /** Params for this operator's functions, merged over the job's (Flink's withParameters). */
  withParameters(params: Record<string, unknown>): this {
    this.environment.configure(this.node, { params }, `${this.node.id}.withParameters()`);
    return this;
  }
}

/** A source (Flink's DataSource). */
export class DataSource<T> extends Operator<T> {}

/** aggregate(kind, field), to which `.and(kind, field)` adds aggregations to the same vertex (and its combiner). */
export class AggregateOperator<T> extends Operator<T> {
  constructor(environment: ExecutionEnvironment, node: StreamNode, single: boolean, private readonly combine: StreamNode) {
    super(environment, node, single);
  }

  and(kind: Aggregation['kind'], on: Field<T>): this {
    const aggregation = { kind: aggregationKind(kind, 'and()'), field: field(on, 'and()') };
    for (const node of [this.node, this.combine]) (node.spec as BatchAggregateVertex).aggregations.push({ ...aggregation });
    return this;
  }

  andSum(on: Field<T>): this {
    return this.and('sum', on);
  }

  andMin(on: Field<T>): this {
    return this.and('min', on);
  }

  andMax(on: Field<T>): this {
    return this.and('max', on);
  }
}

/** sortPartition(key, order), to which `.sortPartition(key2, order)` adds a secondary key of the same sort. */
export class SortPartitionOperator<T> extends Operator<T> {
  override sortPartition(key: Key<T>, direction: Order = 'asc'): this {
    (this.node.spec as BatchSortPartitionVertex).by.push({ key: keySelector(key, 'sortPartition()'), order: order(direction, 'sortPartition()') });
    return this;
  }
}

/** A join or a cross: the pairs [a, b] until `.with(fn)` makes `fn(a, b)` of each pair the output. */
export class PairOperator<A, B, Spec extends BatchJoinVertex | BatchCrossVertex = BatchJoinVertex> extends Operator<[A, B]> {
  constructor(environment: ExecutionEnvironment, node: StreamNode, private readonly role: string) {
    super(environment, node);
  }

  with<R>(fn: ((left: A, right: B) => R) | FunctionRef): Operator<Awaited<R>> {
    const spec = this.node.spec as Spec;
    if (spec.fn !== undefined) throw new CloudflinkError('DESCRIPTOR_INVALID', `${this.role}.with(): this ${spec.operator} has its function already`);
    const captured = captureFunction(fn, `${this.role}.with()`);
    spec.fn = captured.fn;
    if (captured.name !== undefined && this.node.name === spec.operator.slice(6)) this.environment.configure(this.node, { name: captured.name }, `${this.role}.with()`);
    return new Operator<Awaited<R>>(this.environment, this.node);
  }
}

/** The end of a pipeline (Flink's DataSink). */
export class DataSink<T> {
  constructor(private readonly environment: ExecutionEnvironment, private readonly node: StreamNode) {}

  /** The vertex id; a collect() sink's records are in `result.collected[id]`. */
  get id(): string {
    return this.node.id;
  }

  name(name: string): this {
    this.environment.configure(this.node, { name }, `${this.node.id}.name()`);
    return this;
  }

  setParallelism(parallelism: number): this {
    this.environment.configure(this.node, { parallelism }, `${this.node.id}.setParallelism()`);
    return this;
  }
}
