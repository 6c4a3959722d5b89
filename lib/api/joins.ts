/**
 * Joins of two streams, as Flink's: a window join or coGroup (`a.join(b).where(ka).equalTo(kb)
 * .window(assigner).apply(fn)`), and an interval join of two keyed streams
 * (`a.keyBy(ka).intervalJoin(b.keyBy(kb)).between(lower, upper).process(fn)`). Each is one vertex
 * with two `hash` input edges, the left stream's marked `input: 1`.
 */
import type { CountTrigger, KeySelector, OperatorSpec, WindowAssigner } from '../descriptor/types.ts';
import { CloudflinkError } from '../errors/index.ts';
import { captureFunction, type FunctionRef } from './capture.ts';
import { DataStream, SingleOutputStreamOperator } from './data-stream.ts';
import type { OperatorOptions } from './environment.ts';
import type { FieldOrFunction, WindowContext } from './windowed-stream.ts';

export type JoinKind = 'join' | 'coGroup';

/** Flink's JoinFunction: a record for each pair. */
export type JoinFunction<A, B, R> = ((left: A, right: B) => R) | FunctionRef;
/** Flink's CoGroupFunction: the records of each side, per key and window. */
export type CoGroupFunction<A, B, R> = ((lefts: A[], rights: B[], ctx: WindowContext<unknown>) => Iterable<R> | void) | FunctionRef;

/** Two streams joined by key, when it only lacks its keys and window. */
export class JoinedStreams<A, B, Kind extends JoinKind = 'join'> {
  constructor(private readonly first: DataStream<A>, private readonly second: DataStream<B>, private readonly kind: Kind) {
    sameEnvironment(first, second, `${kind}()`);
  }

  /** The left stream's key. */
  where(key: FieldOrFunction<A>): { equalTo(key: FieldOrFunction<B>): KeyedJoin<A, B, Kind> } {
    const left = this.first.keySelectorOf(key);
    return { equalTo: (right) => new KeyedJoin(this.first, this.second, this.kind, left, this.second.keySelectorOf(right)) };
  }
}

export class KeyedJoin<A, B, Kind extends JoinKind = 'join'> {
  constructor(
    private readonly first: DataStream<A>, private readonly second: DataStream<B>, private readonly kind: Kind,
    private readonly leftKey: KeySelector, private readonly rightKey: KeySelector,
  ) {}

  /** The windows the records meet in: any assigner of `keyBy().window()`. */
  window(assigner: WindowAssigner): WindowJoin<A, B, Kind> {
    return new WindowJoin(this.first, this.second, this.kind, this.leftKey, this.rightKey, assigner);
  }
}

export class WindowJoin<A, B, Kind extends JoinKind = 'join'> {
  private lateness = 0;
  private countTrigger?: CountTrigger;

  constructor(
    private readonly first: DataStream<A>, private readonly second: DataStream<B>, private readonly kind: Kind,
    private readonly leftKey: KeySelector, private readonly rightKey: KeySelector, private readonly assigner: WindowAssigner,
  ) {}

  /** How long after a window fired it still takes late records, firing again with each. */
  allowedLateness(ms: number): this {
    if (!Number.isInteger(ms) || ms < 0) throw new CloudflinkError('DESCRIPTOR_INVALID', `allowedLateness(${ms}): expected a whole number of milliseconds, 0 or more`);
    this.lateness = ms;
    return this;
  }

  /** Fires by count instead of by time (CountTrigger.of(n)). */
  trigger(trigger: CountTrigger): this {
    if (trigger?.type !== 'count') throw new CloudflinkError('DESCRIPTOR_INVALID', 'trigger() expects CountTrigger.of(n)');
    this.countTrigger = { ...trigger };
    return this;
  }

  /**
   * join: `fn(left, right)` for each pair of a key's records in the same window, emitting what it
   * returns (Flink's JoinFunction: an inner join). coGroup: `fn(lefts, rights, ctx)` once per key
   * and window with both sides' records (one side may be empty), returning an iterable.
   */
  apply<R>(fn: Kind extends 'join' ? JoinFunction<A, B, R> : CoGroupFunction<A, B, R>, options?: OperatorOptions): SingleOutputStreamOperator<R> {
    const captured = captureFunction(fn, `${this.kind}().apply()`);
    if (this.assigner.type === 'global' && this.countTrigger === undefined) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', 'a GlobalWindows window never ends, so only a trigger fires it: add .trigger(CountTrigger.of(n))');
    }
    return twoInputs<A, B, R>(this.first, this.second, {
      operator: 'windowJoin',
      assigner: { ...this.assigner },
      [this.kind]: captured.fn,
      ...(this.lateness > 0 ? { allowedLatenessMs: this.lateness } : {}),
      ...(this.countTrigger ? { trigger: this.countTrigger } : {}),
    }, captured.name ?? this.kind, [this.leftKey, this.rightKey], options);
  }
}

/** What an interval join's function sees besides the two records. */
export interface IntervalJoinContext<K> {
  key: K;
  leftTimestamp: number;
  rightTimestamp: number;
  /** The result's: the later of the two. */
  timestamp: number;
  output(tag: string, value: unknown): void;
}

/** Two keyed streams to join by event time, when it only lacks its bounds. */
export class IntervalJoin<A, B, K> {
  constructor(
    private readonly first: DataStream<A>, private readonly second: DataStream<B>, private readonly leftKey: KeySelector, private readonly rightKey: KeySelector,
  ) {
    sameEnvironment(first, second, 'intervalJoin()');
  }

  /** A left record at t meets each right record with a timestamp in [t + lowerMs, t + upperMs]. */
  between(lowerMs: number, upperMs: number): IntervalJoined<A, B, K> {
    for (const [name, value] of [['lower', lowerMs], ['upper', upperMs]] as const) {
      if (!Number.isInteger(value)) throw new CloudflinkError('DESCRIPTOR_INVALID', `between(): the ${name} bound must be a whole number of milliseconds, got ${value}`);
    }
    if (lowerMs > upperMs) throw new CloudflinkError('DESCRIPTOR_INVALID', `between(${lowerMs}, ${upperMs}): the lower bound must not exceed the upper one`);
    return new IntervalJoined(this.first, this.second, this.leftKey, this.rightKey, lowerMs, upperMs);
  }
}

export class IntervalJoined<A, B, K> {
  private lowerExclusive = false;
  private upperExclusive = false;

  constructor(
    private readonly first: DataStream<A>, private readonly second: DataStream<B>, private readonly leftKey: KeySelector, private readonly rightKey: KeySelector,
    private readonly lowerMs: number, private readonly upperMs: number,
  ) {}

  lowerBoundExclusive(): this {
    this.lowerExclusive = true;
    return this;
  }

  upperBoundExclusive(): this {
    this.upperExclusive = true;
    return this;
  }

  /** `fn(left, right, ctx)` for each pair that meets (Flink's ProcessJoinFunction); returns the records to emit, an iterable. */
  process<R>(fn: ((left: A, right: B, ctx: IntervalJoinContext<K>) => Iterable<R> | void) | FunctionRef, options?: OperatorOptions): SingleOutputStreamOperator<R> {
    const captured = captureFunction(fn, 'intervalJoin().process()');
    if (this.lowerMs + (this.lowerExclusive ? 1 : 0) > this.upperMs - (this.upperExclusive ? 1 : 0)) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `between(${this.lowerMs}, ${this.upperMs}) without its excluded bounds holds no millisecond: nothing could ever join`);
    }
    return twoInputs<A, B, R>(this.first, this.second, {
      operator: 'intervalJoin', lowerMs: this.lowerMs, upperMs: this.upperMs, fn: captured.fn,
      ...(this.lowerExclusive ? { lowerExclusive: true } : {}),
      ...(this.upperExclusive ? { upperExclusive: true } : {}),
    }, captured.name ?? 'intervalJoin', [this.leftKey, this.rightKey], options);
  }
}

/** A vertex reading `first` keyed as input 1 and `second` keyed as input 2. */
function twoInputs<A, B, R>(
  first: DataStream<A>, second: DataStream<B>, spec: OperatorSpec, name: string, [leftKey, rightKey]: [KeySelector, KeySelector], options?: OperatorOptions,
): SingleOutputStreamOperator<R> {
  const node = first.transform<R>(spec, name, options, { input: 1, partition: 'hash', key: leftKey }).node;
  node.moreInputs = [{ ...second.asInput(), input: 2, partition: 'hash', key: rightKey }];
  return new SingleOutputStreamOperator<R>(first.getExecutionEnvironment(), node);
}

function sameEnvironment<A, B>(first: DataStream<A>, second: DataStream<B>, what: string): void {
  if (!(second instanceof DataStream) || second.getExecutionEnvironment() !== first.getExecutionEnvironment()) {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `${what}: the other stream must be a DataStream of the same environment`);
  }
}
