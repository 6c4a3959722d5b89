/**
 * ConnectedStreams: two streams, possibly of different types, processed by one operator with
 * a function per input (Flink's connect). The operator is a vertex with two input edges,
 * marked `input: 1` and `input: 2`.
 */
import { CloudflinkError } from '../errors/index.ts';
import { captureFunction, type FunctionRef } from './capture.ts';
import { DataStream, SingleOutputStreamOperator } from './data-stream.ts';
import type { OperatorOptions, StreamExecutionEnvironment } from './environment.ts';

export class ConnectedStreams<A, B> {
  constructor(
    private readonly environment: StreamExecutionEnvironment,
    private readonly first: DataStream<A>,
    private readonly second: DataStream<B>,
  ) {}

  /** `fn1` maps each record of the first stream, `fn2` each of the second (Flink's CoMapFunction). */
  map<R>(fn1: ((value: A) => R) | FunctionRef, fn2: ((value: B) => R) | FunctionRef, options?: OperatorOptions): SingleOutputStreamOperator<R> {
    return this.withFunctions<R>('coMap', fn1, fn2, options);
  }

  /** `fn1` and `fn2` return the output records (an iterable) for a record of their stream (Flink's CoFlatMapFunction). */
  flatMap<R>(fn1: ((value: A) => Iterable<R>) | FunctionRef, fn2: ((value: B) => Iterable<R>) | FunctionRef, options?: OperatorOptions): SingleOutputStreamOperator<R> {
    return this.withFunctions<R>('coFlatMap', fn1, fn2, options);
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

export function connect<A, B>(first: DataStream<A>, second: DataStream<B>): ConnectedStreams<A, B> {
  const environment = first.getExecutionEnvironment();
  if (!(second instanceof DataStream) || second.getExecutionEnvironment() !== environment) {
    throw new CloudflinkError('DESCRIPTOR_INVALID', 'connect(): the other stream must be a DataStream of the same environment');
  }
  return new ConnectedStreams(environment, first, second);
}
