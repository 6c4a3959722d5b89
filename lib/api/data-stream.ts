/**
 * DataStream: a stream of records of type T. Each transformation adds a vertex to the
 * environment's graph and returns the stream it produces; nothing runs until execute().
 */
import type { KeySelector, OperatorSpec, WindowAssigner } from '../descriptor/types.ts';
import { CloudflinkError } from '../errors/index.ts';
import { captureFunction, type FunctionRef } from './capture.ts';
import type { OperatorOptions, StreamExecutionEnvironment, StreamInput, StreamNode } from './environment.ts';
import { KeyedStream } from './keyed-stream.ts';
import { connect, type ConnectedStreams } from './connected-streams.ts';
import { JoinedStreams } from './joins.ts';
import { CountEvictor, CountTrigger, GlobalWindows, PurgingTrigger, WindowedStream } from './windowed-stream.ts';
import { hasSideOutputs } from '../descriptor/graph.ts';

export class DataStream<T> {
  constructor(
    protected readonly environment: StreamExecutionEnvironment,
    /** @internal The vertex that produces this stream. */
    readonly node: StreamNode,
    private readonly partition?: 'rebalance' | 'broadcast',
    /** The side output of the node this stream is, when it is one. */
    private readonly tag?: string,
  ) {}

  getExecutionEnvironment(): StreamExecutionEnvironment {
    return this.environment;
  }

  map<R>(fn: ((value: T) => R) | FunctionRef, options?: OperatorOptions): SingleOutputStreamOperator<Awaited<R>> {
    return this.withFunction('map', fn, options);
  }

  filter(fn: ((value: T) => boolean | Promise<boolean>) | FunctionRef, options?: OperatorOptions): SingleOutputStreamOperator<T> {
    return this.withFunction('filter', fn, options);
  }

  /** `fn` returns the output records as an iterable (an array, or a generator); none for an empty one. */
  flatMap<R>(fn: ((value: T) => Iterable<R>) | FunctionRef, options?: OperatorOptions): SingleOutputStreamOperator<R> {
    return this.withFunction('flatMap', fn, options);
  }

  /** Partitions by key: a field name, an array index, or a key-selector function. */
  keyBy<F extends keyof T & (string | number)>(field: F): KeyedStream<T, T[F]>;
  keyBy(index: number): KeyedStream<T, unknown>;
  keyBy<K>(selector: ((value: T) => K) | FunctionRef): KeyedStream<T, K>;
  keyBy(key: keyof T | number | ((value: T) => unknown) | FunctionRef): KeyedStream<T, unknown> {
    return new KeyedStream<T, unknown>(this, keySelector(key));
  }

  /**
   * The records of this stream and of `others`, as they come (Flink's union). Here it is a
   * vertex of its own, so the streams meet in one operator that the next one can chain to.
   */
  union(...others: DataStream<T>[]): SingleOutputStreamOperator<T> {
    if (others.length === 0) throw new CloudflinkError('DESCRIPTOR_INVALID', 'union() needs at least one other stream');
    for (const other of others) {
      if (!(other instanceof DataStream) || other.environment !== this.environment) {
        throw new CloudflinkError('DESCRIPTOR_INVALID', 'union(): every stream must be a DataStream of the same environment');
      }
    }
    const union = this.addVertex({ operator: 'union' }, 'union');
    union.moreInputs = others.map((other) => other.asInput());
    return new SingleOutputStreamOperator<T>(this.environment, union);
  }

  /**
   * This stream and `other` into one operator with a function for each (Flink's connect):
   * `.map(fn1, fn2)`, `.flatMap(fn1, fn2)`, `.keyBy(k1, k2).process(fn1, fn2)`; with a broadcast
   * stream (`rules.broadcast()`), Flink's broadcast state pattern: `.process(fn1, fn2)`.
   */
  connect<U>(other: DataStream<U>): ConnectedStreams<T, U> {
    return connect(this, other);
  }

  /** A window join: `a.join(b).where(ka).equalTo(kb).window(assigner).apply((left, right) => ...)`. */
  join<U>(other: DataStream<U>): JoinedStreams<T, U, 'join'> {
    return new JoinedStreams(this, other, 'join');
  }

  /** A window coGroup: `a.coGroup(b).where(ka).equalTo(kb).window(assigner).apply((lefts, rights, ctx) => ...)`. */
  coGroup<U>(other: DataStream<U>): JoinedStreams<T, U, 'coGroup'> {
    return new JoinedStreams(this, other, 'coGroup');
  }

  /** Windows over the whole stream, not keyed (Flink's windowAll): one instance, at parallelism 1, sees every record. */
  windowAll(assigner: WindowAssigner): WindowedStream<T, null> {
    return new WindowedStream<T, null>(this, undefined, assigner);
  }

  /** Windows of `size` records over the whole stream, or the last `size` every `slide` records (Flink's countWindowAll). */
  countWindowAll(size: number, slide?: number): WindowedStream<T, null> {
    return countWindow(this.windowAll(GlobalWindows.create()), size, slide);
  }

  /**
   * A process function on a stream that is not keyed (Flink's ProcessFunction): `fn(value, ctx)`
   * with `ctx.timestamp`, `ctx.output(tag, value)` and `ctx.timerService`'s clocks; it returns
   * the records to emit (an iterable), or nothing. Keyed state and timers need keyBy() first.
   */
  process<R>(fn: ((value: T, ctx: PlainProcessContext) => Iterable<R> | void) | FunctionRef, options?: OperatorOptions): SingleOutputStreamOperator<R> {
    const captured = captureFunction(fn, 'process()');
    return this.transform<R>({ operator: 'process', fn: captured.fn }, captured.name ?? 'process', options);
  }

  /**
   * The records in event-time order (a bounded out-of-orderness buffer, per subtask): each waits
   * until the watermark passes it. Records already behind the watermark go to the side output
   * `lateTag`, or are dropped. At parallelism 1 the whole stream comes out sorted.
   */
  sortByEventTime(options: OperatorOptions & { lateTag?: string } = {}): SingleOutputStreamOperator<T> {
    const { lateTag, ...operatorOptions } = options;
    if (lateTag !== undefined && (typeof lateTag !== 'string' || lateTag === '')) throw new CloudflinkError('DESCRIPTOR_INVALID', 'sortByEventTime(): lateTag must be a non-empty string');
    return this.transform<T>({ operator: 'eventTimeSort', ...(lateTag === undefined ? {} : { lateTag }) }, 'sortByEventTime', operatorOptions);
  }

  /** @internal A key as keyBy() takes it, checked, as the descriptor has it. */
  keySelectorOf(key: unknown): KeySelector {
    return keySelector(key);
  }

  /** @internal This stream as the input of a vertex: its node and how it partitions. */
  asInput(): StreamInput {
    return { node: this.node, ...(this.partition ? { partition: this.partition } : {}), ...(this.tag === undefined ? {} : { tag: this.tag }) };
  }

  /** Spreads the records round-robin over the next operator's subtasks. */
  rebalance(): DataStream<T> {
    return new DataStream<T>(this.environment, this.node, 'rebalance', this.tag);
  }

  /** Sends every record to every subtask of the next operator; `connect` it to a stream for Flink's broadcast state pattern. */
  broadcast(): DataStream<T> {
    return new DataStream<T>(this.environment, this.node, 'broadcast', this.tag);
  }

  /** @internal Whether every record goes to every subtask. */
  get isBroadcast(): boolean {
    return this.partition === 'broadcast';
  }

  /** Writes each record to the Task Manager's stdout, after `prefix` when given. */
  print(prefix?: string, options?: OperatorOptions): DataStreamSink<T> {
    return this.sink(prefix === undefined ? { operator: 'sink.print' } : { operator: 'sink.print', prefix }, options);
  }

  /** One line per record; `path` is a file at parallelism 1, else a directory of `part-<subtask>` files. */
  writeAsText(path: string, options?: OperatorOptions): DataStreamSink<T> {
    if (typeof path !== 'string' || path === '') throw new CloudflinkError('DESCRIPTOR_INVALID', 'writeAsText() expects a non-empty path');
    return this.sink({ operator: 'sink.textFile', path }, options);
  }

  /**
   * Exactly-once files (Flink's FileSink): one line per record in `part-…` files of the
   * directory, committed when the checkpoint that covers them completes (and at end of input).
   */
  sinkToFiles(directory: string, options?: OperatorOptions): DataStreamSink<T> {
    if (typeof directory !== 'string' || directory === '') throw new CloudflinkError('DESCRIPTOR_INVALID', 'sinkToFiles() expects a non-empty directory');
    return this.sink({ operator: 'sink.file', path: directory }, options);
  }

  /** The records come back in the job's result: `result.collected[sink.id]` (bounded jobs). */
  collect(options?: OperatorOptions): DataStreamSink<T> {
    return this.sink({ operator: 'sink.collect' }, options);
  }

  /** Drops every record (Flink's DiscardingSink): for benchmarks, where only the work before it counts. */
  discard(options?: OperatorOptions): DataStreamSink<T> {
    return this.sink({ operator: 'sink.discard' }, options);
  }

  /** Adds a vertex reading this stream; how the edge partitions is `input` or, failing that, this stream's. */
  transform<R>(spec: OperatorSpec, defaultName: string, options?: OperatorOptions, input?: Omit<StreamInput, 'node'>): SingleOutputStreamOperator<R> {
    return new SingleOutputStreamOperator<R>(this.environment, this.addVertex(spec, defaultName, options, input));
  }

  private withFunction<R>(operator: 'map' | 'filter' | 'flatMap', fn: unknown, options?: OperatorOptions): SingleOutputStreamOperator<R> {
    const captured = captureFunction(fn, `${operator}()`);
    return this.transform<R>({ operator, fn: captured.fn }, captured.name ?? operator, options);
  }

  private sink(spec: OperatorSpec, options?: OperatorOptions): DataStreamSink<T> {
    return new DataStreamSink<T>(this.environment, this.addVertex(spec, spec.operator, options));
  }

  private addVertex(spec: OperatorSpec, defaultName: string, options?: OperatorOptions, input?: Omit<StreamInput, 'node'>): StreamNode {
    return this.environment.addVertex(spec, defaultName, options, { ...this.asInput(), ...input });
  }
}

/** The stream an operator produces, with Flink's fluent settings for that operator. */
export class SingleOutputStreamOperator<T> extends DataStream<T> {
  constructor(environment: StreamExecutionEnvironment, node: StreamNode) {
    super(environment, node);
  }

  /** The vertex id. */
  get id(): string {
    return this.node.id;
  }

  /** The name shown in events and errors. */
  name(name: string): this {
    this.environment.configureVertex(this.node, { name }, `${this.node.id}.name()`);
    return this;
  }

  setParallelism(parallelism: number): this {
    const { spec, input } = this.node;
    if (spec.operator === 'window' && input?.partition !== 'hash' && parallelism !== 1) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `${this.node.id}.setParallelism(${parallelism}): a windowAll sees every record in one instance, so its parallelism is 1; keyBy() first to window in parallel`);
    }
    this.environment.configureVertex(this.node, { parallelism }, `${this.node.id}.setParallelism()`);
    return this;
  }

  /** Sets the vertex id (letters, digits, '_' and '-'); it must be unique in the job. */
  uid(id: string): this {
    this.environment.configureVertex(this.node, { uid: id }, `${this.node.id}.uid()`);
    return this;
  }

  /**
   * The records this operator's process function sent to `tag` with `ctx.output(tag, value)`
   * (Flink's side outputs); any number of operators may read it.
   */
  getSideOutput<S = unknown>(tag: string): DataStream<S> {
    if (typeof tag !== 'string' || tag === '') throw new CloudflinkError('DESCRIPTOR_INVALID', 'getSideOutput() expects a non-empty tag');
    const { operator } = this.node.spec;
    if (!hasSideOutputs(operator)) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `getSideOutput('${tag}'): ${operator} has no side outputs; process functions, interval joins, broadcast process functions, and windows and sorts (their late data) have`);
    }
    return new DataStream<S>(this.environment, this.node, undefined, tag);
  }

  /**
   * Event time for this source's records (Flink's WatermarkStrategy): each record's timestamp
   * from a field or a function (epoch ms), watermarks `outOfOrdernessMs` behind the largest seen
   * (0: ascending), every `intervalMs` (200); with `idleTimeoutMs`, a subtask that emits
   * nothing that long stops holding windows back.
   */
  assignTimestampsAndWatermarks(strategy: {
    timestamp: keyof T | number | ((value: T) => number) | FunctionRef;
    outOfOrdernessMs?: number;
    idleTimeoutMs?: number;
    intervalMs?: number;
  }): this {
    if (!this.node.spec.operator.startsWith('source.')) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `assignTimestampsAndWatermarks(): ${this.node.spec.operator} is not a source; assign event time at the source`);
    }
    const { timestamp, ...rest } = strategy;
    for (const [name, value] of Object.entries(rest)) {
      if (value !== undefined && (!Number.isInteger(value) || (value as number) < (name === 'outOfOrdernessMs' ? 0 : 1))) {
        throw new CloudflinkError('DESCRIPTOR_INVALID', `assignTimestampsAndWatermarks(): ${name} must be a whole number of milliseconds, got ${String(value)}`);
      }
    }
    this.node.watermarks = {
      timestamp: this.keySelectorOf(timestamp),
      ...Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined)),
    };
    return this;
  }

  /** Params for this operator's functions, merged over the job's. */
  setParams(params: Record<string, unknown>): this {
    this.environment.configureVertex(this.node, { params }, `${this.node.id}.setParams()`);
    return this;
  }

  /** Never chains this operator to the one before or after it: records reach it in frames. */
  disableChaining(): this {
    this.node.chaining = 'disableChaining';
    return this;
  }

  /** Begins a new chain here: this operator is not chained to the one before it. */
  startNewChain(): this {
    this.node.chaining = 'startNewChain';
    return this;
  }
}

/** What a process function on a stream that is not keyed sees besides the record. */
export interface PlainProcessContext {
  /** The record's event time; undefined without event time. */
  timestamp: number | undefined;
  output(tag: string, value: unknown): void;
  timerService: { currentWatermark(): number; currentProcessingTime(): number };
}

/** Flink's countWindow: `size` records per window (purged as it fires), or the last `size` every `slide`. */
export function countWindow<T, K>(windows: WindowedStream<T, K>, size: number, slide?: number): WindowedStream<T, K> {
  for (const [name, count] of [['size', size], ['slide', slide ?? 1]] as const) {
    if (!Number.isInteger(count) || count < 1) throw new CloudflinkError('DESCRIPTOR_INVALID', `countWindow(${size}${slide === undefined ? '' : `, ${slide}`}): the ${name} must be a whole number, at least 1`);
  }
  if (slide === undefined) return windows.trigger(PurgingTrigger.of(CountTrigger.of(size)));
  return windows.evictor(CountEvictor.of(size)).trigger(CountTrigger.of(slide));
}

/** The end of a pipeline. */
export class DataStreamSink<T> {
  constructor(private readonly environment: StreamExecutionEnvironment, private readonly node: StreamNode) {}

  /** The vertex id; a collect() sink's records are in `result.collected[id]`. */
  get id(): string {
    return this.node.id;
  }

  name(name: string): this {
    this.environment.configureVertex(this.node, { name }, `${this.node.id}.name()`);
    return this;
  }

  setParallelism(parallelism: number): this {
    this.environment.configureVertex(this.node, { parallelism }, `${this.node.id}.setParallelism()`);
    return this;
  }

  uid(id: string): this {
    this.environment.configureVertex(this.node, { uid: id }, `${this.node.id}.uid()`);
    return this;
  }

  /** Never chains the sink to the operator before it. */
  disableChaining(): this {
    this.node.chaining = 'disableChaining';
    return this;
  }
}

function keySelector(key: unknown): KeySelector {
  if (typeof key === 'string') {
    if (key === '') throw new CloudflinkError('DESCRIPTOR_INVALID', 'keyBy(): the field name must not be empty');
    return { field: key };
  }
  if (typeof key === 'number') {
    if (!Number.isInteger(key) || key < 0) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `keyBy(${key}): an index must be a non-negative integer`);
    }
    return { field: key };
  }
  if (typeof key === 'symbol') {
    throw new CloudflinkError('DESCRIPTOR_INVALID', 'keyBy(): a symbol cannot be a key field; use a field name, an index or a function');
  }
  return { fn: captureFunction(key, 'keyBy()').fn };
}
