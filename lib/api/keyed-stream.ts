/**
 * KeyedStream: a DataStream partitioned by key. Its operators keep state per key; the
 * key travels on the `hash` edge into each of them.
 */
import type { KeySelector, WindowAssigner } from '../descriptor/types.ts';
import { GlobalWindows, WindowedStream } from './windowed-stream.ts';
import { CloudflinkError } from '../errors/index.ts';
import { captureFunction, type FunctionRef } from './capture.ts';
import { countWindow, type DataStream, type SingleOutputStreamOperator } from './data-stream.ts';
import { BroadcastConnectedStream, connect } from './connected-streams.ts';
import { IntervalJoin } from './joins.ts';
import type { OperatorOptions } from './environment.ts';
import type { KeyedStateStore } from '../state/types.ts';

/** What a keyed process function sees besides the record. */
export interface ProcessContext<K> {
  key: K;
  state: KeyedStateStore;
  /**
   * Emits `value` to the side output `tag`, which `getSideOutput(tag)` reads downstream. The tag
   * is a string: functions travel as source text, so an OutputTag object could not go with them.
   */
  output(tag: string, value: unknown): void;
  /** The record's event time (or, in onTimer, the timer's); undefined without event time. */
  timestamp: number | undefined;
  /** Timers for this key: `onTimer` is called when one comes due (event time: when the watermark passes it). */
  timerService: {
    currentWatermark(): number;
    currentProcessingTime(): number;
    registerEventTimeTimer(time: number): void;
    registerProcessingTimeTimer(time: number): void;
    deleteEventTimeTimer(time: number): void;
    deleteProcessingTimeTimer(time: number): void;
  };
  /** In onTimer: which clock the timer was set on. */
  timeDomain?: 'event' | 'processing';
}

export class KeyedStream<T, K = unknown> {
  /** Never set: keeps K in the type so streams keyed differently stay distinct. */
  declare readonly keyType?: K;

  /** @internal */
  constructor(readonly input: DataStream<T>, readonly key: KeySelector) {}

  /** Emits the running result per key: `fn(accumulated, next)` for each record after the key's first. */
  reduce(fn: ((a: T, b: T) => T) | FunctionRef, options?: OperatorOptions): SingleOutputStreamOperator<T> {
    const captured = captureFunction(fn, 'reduce()');
    return this.keyed({ operator: 'reduce', fn: captured.fn }, captured.name ?? 'reduce', options);
  }

  /** Emits the running sum of `field` per key; the other fields are those of the key's first record. */
  sum(field: keyof T | number, options?: OperatorOptions): SingleOutputStreamOperator<T> {
    return this.keyed({ operator: 'sum', field: fieldOf('sum', field) }, 'sum', options);
  }

  /**
   * Cuts each key's records into windows: `TumblingEventTimeWindows.of(ms)`,
   * `SlidingEventTimeWindows.of(size, slide)`, `EventTimeSessionWindows.withGap(ms)`, their
   * processing-time twins, or `GlobalWindows.create()` with a trigger.
   */
  window(assigner: WindowAssigner): WindowedStream<T, K> {
    return new WindowedStream<T, K>(this.input, this.key, assigner);
  }

  /** Windows of `size` records per key, or each key's last `size` records every `slide` of them (Flink's countWindow). */
  countWindow(size: number, slide?: number): WindowedStream<T, K> {
    return countWindow(this.window(GlobalWindows.create()), size, slide);
  }

  /** Joins with another keyed stream by event time: `.between(lowerMs, upperMs).process((left, right, ctx) => ...)`. */
  intervalJoin<U>(other: KeyedStream<U, K>): IntervalJoin<T, U, K> {
    if (!(other instanceof KeyedStream)) throw new CloudflinkError('DESCRIPTOR_INVALID', 'intervalJoin() expects another keyed stream: other.keyBy(...)');
    return new IntervalJoin<T, U, K>(this.input, other.input, this.key, other.key);
  }

  /** With a broadcast stream (`rules.broadcast()`): Flink's keyed broadcast state pattern, `.process(fn1, fn2)`. */
  connect<U>(other: DataStream<U>): BroadcastConnectedStream<T, U, K> {
    if (other?.isBroadcast !== true) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', 'keyBy(...).connect(other): a keyed stream connects to a broadcast stream, other.broadcast(); to connect two streams keyed alike, use a.connect(b).keyBy(k1, k2)');
    }
    connect(this.input, other);
    return new BroadcastConnectedStream<T, U, K>(this.input, other, this.key);
  }

  /** Emits, per key, the key's first record with `field` set to the smallest value so far (Flink's min). */
  min(field: keyof T | number, options?: OperatorOptions): SingleOutputStreamOperator<T> {
    return this.keyed({ operator: 'min', field: fieldOf('min', field) }, 'min', options);
  }

  /** Emits, per key, the key's first record with `field` set to the largest value so far (Flink's max). */
  max(field: keyof T | number, options?: OperatorOptions): SingleOutputStreamOperator<T> {
    return this.keyed({ operator: 'max', field: fieldOf('max', field) }, 'max', options);
  }

  /** Emits, per key, the record with the smallest `field` so far; on a tie the earlier one, or the later with `first` false. */
  minBy(field: keyof T | number, first = true, options?: OperatorOptions): SingleOutputStreamOperator<T> {
    return this.keyed({ operator: 'minBy', field: fieldOf('minBy', field), ...(first ? {} : { first }) }, 'minBy', options);
  }

  /** Emits, per key, the record with the largest `field` so far; on a tie the earlier one, or the later with `first` false. */
  maxBy(field: keyof T | number, first = true, options?: OperatorOptions): SingleOutputStreamOperator<T> {
    return this.keyed({ operator: 'maxBy', field: fieldOf('maxBy', field), ...(first ? {} : { first }) }, 'maxBy', options);
  }

  /**
   * A keyed process function: `fn(value, ctx)` sees the record's key (`ctx.key`) and that key's
   * state (`ctx.state.value(name)`, `.list`, `.map`, `.reducing`), which is checkpointed and
   * moves with the key on a rescale; it returns the records to emit (an iterable), or nothing.
   */
  process<R>(
    fn: ((value: T, ctx: ProcessContext<K>) => Iterable<R> | void) | FunctionRef,
    options: OperatorOptions & { onTimer?: ((timestamp: number, ctx: ProcessContext<K>) => Iterable<R> | void) | FunctionRef } = {},
  ): SingleOutputStreamOperator<R> {
    const captured = captureFunction(fn, 'process()');
    const { onTimer, ...operatorOptions } = options;
    const timer = onTimer === undefined ? {} : { onTimer: captureFunction(onTimer, 'process() onTimer').fn };
    return this.input.transform<R>({ operator: 'process', fn: captured.fn, ...timer }, captured.name ?? 'process', operatorOptions, { partition: 'hash', key: this.key });
  }

  private keyed(spec: Parameters<DataStream<T>['transform']>[0], name: string, options?: OperatorOptions): SingleOutputStreamOperator<T> {
    return this.input.transform<T>(spec, name, options, { partition: 'hash', key: this.key });
  }
}

function fieldOf(operator: string, field: unknown): string | number {
  if (typeof field === 'number' ? !Number.isInteger(field) || field < 0 : typeof field !== 'string' || field === '') {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `${operator}(${String(field)}): expected a field name or a non-negative array index`);
  }
  return field as string | number;
}
