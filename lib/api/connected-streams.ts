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
