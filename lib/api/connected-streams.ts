/**
 * ConnectedStreams: two streams, possibly of different types, processed by one operator with
 * a function per input (Flink's connect). The operator is a vertex with two input edges,
 * marked `input: 1` and `input: 2`.
 */
import type { KeySelector } from '../descriptor/types.ts';
import { CloudflinkError } from '../errors/index.ts';
import { captureFunction, type FunctionRef } from './capture.ts';
import { DataStream, SingleOutputStreamOperator } from './data-stream.ts';
import type { OperatorOptions, StreamExecutionEnvironment } from './environment.ts';
import type { ProcessContext } from './keyed-stream.ts';

export class ConnectedStreams<A, B> {
  constructor(
    private readonly environment: StreamExecutionEnvironment,
    private readonly first: DataStream<A>,
    private readonly second: DataStream<B>,
  ) {}

  /** `fn1` maps each record of the first stream, `fn2` each of the second (Flink's CoMapFunction). */
  map<R1, R2 = R1>(fn1: ((value: A) => R1) | FunctionRef, fn2: ((value: B) => R2) | FunctionRef, options?: OperatorOptions): SingleOutputStreamOperator<R1 | R2> {
    return this.withFunctions<R1 | R2>('coMap', fn1, fn2, options);
  }

  /**
   * Keys both streams alike, for `process(fn1, fn2)` with keyed state shared by both: records of
   * either stream with the same key meet in the same subtask and see the same state.
   */
  keyBy<K = unknown>(key1: keyof A | number | ((value: A) => unknown) | FunctionRef, key2: keyof B | number | ((value: B) => unknown) | FunctionRef): KeyedConnectedStreams<A, B, K> {
    return new KeyedConnectedStreams<A, B, K>(this.environment, this.first, this.second, this.first.keySelectorOf(key1), this.second.keySelectorOf(key2));
  }

  /**
   * With a broadcast stream (`a.connect(rules.broadcast())`), Flink's broadcast state pattern:
   * `fn2(rule, ctx)` keeps what it needs in `ctx.broadcastState(name)` on every subtask, and
   * `fn1(value, ctx)` reads it. See BroadcastConnectedStream.
   */
  process<R>(
    fn1: ((value: A, ctx: BroadcastProcessContext<never>) => Iterable<R> | void) | FunctionRef,
    fn2: ((value: B, ctx: BroadcastSideContext<never>) => Iterable<R> | void) | FunctionRef,
    options?: OperatorOptions,
  ): SingleOutputStreamOperator<R> {
    if (!this.second.isBroadcast) {
      throw new CloudflinkError('DESCRIPTOR_INVALID',
        'connect(other).process(fn1, fn2) is the broadcast state pattern: connect a broadcast stream, other.broadcast(); for a keyed co-process, use connect(other).keyBy(k1, k2).process(fn1, fn2)');
    }
    return new BroadcastConnectedStream<A, B>(this.first, this.second).process(fn1, fn2, options);
  }

  /** `fn1` and `fn2` return the output records (an iterable) for a record of their stream (Flink's CoFlatMapFunction). */
  flatMap<R1, R2 = R1>(fn1: ((value: A) => Iterable<R1>) | FunctionRef, fn2: ((value: B) => Iterable<R2>) | FunctionRef, options?: OperatorOptions): SingleOutputStreamOperator<R1 | R2> {
    return this.withFunctions<R1 | R2>('coFlatMap', fn1, fn2, options);
  }

  private withFunctions<R>(operator: 'coMap' | 'coFlatMap', fn1: unknown, fn2: unknown, options?: OperatorOptions): SingleOutputStreamOperator<R> {
    const first = captureFunction(fn1, `connect().${operator === 'coMap' ? 'map' : 'flatMap'}() fn1`);
    const second = captureFunction(fn2, `connect().${operator === 'coMap' ? 'map' : 'flatMap'}() fn2`);
    const name = first.name && second.name ? `${first.name}/${second.name}` : operator;
    const node = this.first.transform<R>({ operator, fn1: first.fn, fn2: second.fn }, name, options, { input: 1 }).node;
    node.moreInputs = [{ ...this.second.asInput(), input: 2 }];
    return new SingleOutputStreamOperator<R>(this.environment, node);
  }
}

/** Two connected streams keyed alike (Flink's connect(...).keyBy(...)). */
export class KeyedConnectedStreams<A, B, K = unknown> {
  constructor(
    private readonly environment: StreamExecutionEnvironment,
    private readonly first: DataStream<A>,
    private readonly second: DataStream<B>,
    private readonly key1: KeySelector,
    private readonly key2: KeySelector,
  ) {}

  /**
   * Flink's KeyedCoProcessFunction: `fn1(value, ctx)` for a record of the first stream,
   * `fn2(value, ctx)` for the second; `ctx.key` and `ctx.state` (the key's state, checkpointed,
   * shared by both functions); each returns the records to emit (an iterable), or nothing.
   */
  process<R>(
    fn1: ((value: A, ctx: ProcessContext<K>) => Iterable<R> | void) | FunctionRef,
    fn2: ((value: B, ctx: ProcessContext<K>) => Iterable<R> | void) | FunctionRef,
    options?: OperatorOptions,
  ): SingleOutputStreamOperator<R> {
    const first = captureFunction(fn1, 'connect().keyBy().process() fn1');
    const second = captureFunction(fn2, 'connect().keyBy().process() fn2');
    const name = first.name && second.name ? `${first.name}/${second.name}` : 'coProcess';
    const node = this.first.transform<R>({ operator: 'coProcess', fn1: first.fn, fn2: second.fn }, name, options,
      { input: 1, partition: 'hash', key: this.key1 }).node;
    node.moreInputs = [{ node: this.second.node, input: 2, partition: 'hash', key: this.key2 }];
    return new SingleOutputStreamOperator<R>(this.environment, node);
  }
}

export function connect<A, B>(first: DataStream<A>, second: DataStream<B>): ConnectedStreams<A, B> {
  const environment = first.getExecutionEnvironment();
  if (!(second instanceof DataStream) || second.getExecutionEnvironment() !== environment) {
    throw new CloudflinkError('DESCRIPTOR_INVALID', 'connect(): the other stream must be a DataStream of the same environment');
  }
  return new ConnectedStreams(environment, first, second);
}

/** What a broadcast process function sees of the broadcast state: read-only on the main input. */
export interface ReadOnlyBroadcastState<K = unknown, V = unknown> {
  get(key: K): V | undefined;
  contains(key: K): boolean;
  entries(): [K, V][];
  keys(): K[];
  values(): V[];
  isEmpty(): boolean;
}

/** The broadcast state, as the broadcast input's function may change it: the same on every subtask. */
export interface BroadcastState<K = unknown, V = unknown> extends ReadOnlyBroadcastState<K, V> {
  put(key: K, value: V): void;
  remove(key: K): void;
  clear(): void;
}

/** fn1's context: the broadcast state to read; keyed, also the record's key and its state. */
export interface BroadcastProcessContext<K> {
  key: K;
  state: ProcessContext<K>['state'];
  timestamp: number | undefined;
  broadcastState<SK = unknown, SV = unknown>(name: string): ReadOnlyBroadcastState<SK, SV>;
  output(tag: string, value: unknown): void;
}

/** fn2's context: the broadcast state to change; keyed, `applyToKeyedState` reaches every key's state. */
export interface BroadcastSideContext<K> {
  timestamp: number | undefined;
  broadcastState<SK = unknown, SV = unknown>(name: string): BroadcastState<SK, SV>;
  output(tag: string, value: unknown): void;
  applyToKeyedState(stateName: string, fn: (key: K, state: ProcessContext<K>['state']) => void): void;
}

/**
 * A stream connected to a broadcast stream (Flink's BroadcastConnectedStream): `fn2(rule, ctx)`
 * runs on every subtask for every record of the broadcast stream and keeps what it needs in
 * `ctx.broadcastState(name)`; `fn1(value, ctx)` reads it for each record of the main stream.
 * Keyed main stream: `ctx.key` and `ctx.state` in fn1, `ctx.applyToKeyedState` in fn2.
 */
export class BroadcastConnectedStream<A, B, K = never> {
  constructor(private readonly main: DataStream<A>, private readonly rules: DataStream<B>, private readonly key?: KeySelector) {}

  process<R>(
    fn1: ((value: A, ctx: BroadcastProcessContext<K>) => Iterable<R> | void) | FunctionRef,
    fn2: ((value: B, ctx: BroadcastSideContext<K>) => Iterable<R> | void) | FunctionRef,
    options?: OperatorOptions,
  ): SingleOutputStreamOperator<R> {
    const first = captureFunction(fn1, 'connect(broadcast).process() fn1');
    const second = captureFunction(fn2, 'connect(broadcast).process() fn2');
    const name = first.name && second.name ? `${first.name}/${second.name}` : 'broadcastProcess';
    const keyed = this.key === undefined ? {} : { partition: 'hash' as const, key: this.key };
    const node = this.main.transform<R>({ operator: 'broadcastProcess', fn1: first.fn, fn2: second.fn }, name, options, { input: 1, ...keyed }).node;
    node.moreInputs = [{ ...this.rules.asInput(), input: 2, partition: 'broadcast' }];
    return new SingleOutputStreamOperator<R>(this.main.getExecutionEnvironment(), node);
  }
}
