/**
 * WindowedStream: a stream cut into windows, then reduced, aggregated or processed per window.
 * Keyed (Flink's `keyBy(...).window(...)`), each key has its own windows and they run in
 * parallel; not keyed (`windowAll(...)`), one instance sees every record. Event-time windows
 * need a source with event time: `assignTimestampsAndWatermarks(...)`.
 */
import type { CountEvictor as CountEvictorSpec, CountTrigger as CountTriggerSpec, KeySelector, UserFunction, SortOrder, WindowAssigner, WindowBuiltins, WindowVertex } from '../descriptor/types.ts';
import { CloudflinkError } from '../errors/index.ts';
import { captureFunction, isFunctionRef, type FunctionRef } from './capture.ts';
import type { DataStream, SingleOutputStreamOperator } from './data-stream.ts';
import type { OperatorOptions } from './environment.ts';

export interface TimeWindow {
  start: number;
  /** Exclusive. */
  end: number;
}

export interface WindowContext<K> {
  /** null in a window that is not keyed (windowAll). */
  key: K;
  /** A global window's is { start: -Infinity, end: Infinity }. */
  window: TimeWindow;
}

/** Windows of `sizeMs`, one after another, aligned to the epoch plus `offsetMs`, on event time. */
export const TumblingEventTimeWindows = {
  of(sizeMs: number, offsetMs?: number): WindowAssigner {
    positive(sizeMs, 'TumblingEventTimeWindows.of(): the size');
    return { type: 'tumbling', sizeMs, ...offset(offsetMs) };
  },
};

/** Windows of `sizeMs` starting every `slideMs`, aligned to the epoch plus `offsetMs`: a record is in sizeMs / slideMs of them. */
export const SlidingEventTimeWindows = {
  of(sizeMs: number, slideMs: number, offsetMs?: number): WindowAssigner {
    positive(sizeMs, 'SlidingEventTimeWindows.of(): the size');
    positive(slideMs, 'SlidingEventTimeWindows.of(): the slide');
    return { type: 'sliding', sizeMs, slideMs, ...offset(offsetMs) };
  },
};

/** A window per burst of a key's records: it closes after `gapMs` without one; windows that come to touch merge. */
export const EventTimeSessionWindows = {
  withGap(gapMs: number): WindowAssigner {
    positive(gapMs, 'EventTimeSessionWindows.withGap(): the gap');
    return { type: 'session', gapMs };
  },
};

/** Tumbling windows on the Task Manager's clock: a record belongs to the window of the moment it arrives. */
export const TumblingProcessingTimeWindows = {
  of(sizeMs: number, offsetMs?: number): WindowAssigner {
    positive(sizeMs, 'TumblingProcessingTimeWindows.of(): the size');
    return { type: 'tumbling', sizeMs, ...offset(offsetMs), time: 'processing' };
  },
};

/** Sliding windows on the Task Manager's clock. */
export const SlidingProcessingTimeWindows = {
  of(sizeMs: number, slideMs: number, offsetMs?: number): WindowAssigner {
    positive(sizeMs, 'SlidingProcessingTimeWindows.of(): the size');
    positive(slideMs, 'SlidingProcessingTimeWindows.of(): the slide');
    return { type: 'sliding', sizeMs, slideMs, ...offset(offsetMs), time: 'processing' };
  },
};

/** Sessions on the Task Manager's clock: a key's window closes `gapMs` after its last record arrived. */
export const ProcessingTimeSessionWindows = {
  withGap(gapMs: number): WindowAssigner {
    positive(gapMs, 'ProcessingTimeSessionWindows.withGap(): the gap');
    return { type: 'session', gapMs, time: 'processing' };
  },
};

/** One window per key that never ends: only a trigger fires it (`trigger(CountTrigger.of(n))`). */
export const GlobalWindows = {
  create(): WindowAssigner {
    return { type: 'global' };
  },
};

/** Fires a window each time `count` records came into it since it last fired, instead of when its time passes. */
export const CountTrigger = {
  of(count: number): CountTriggerSpec {
    atLeastOne(count, 'CountTrigger.of()');
    return { type: 'count', count };
  },
};

/** A trigger that drops the window's contents each time it fires. */
export const PurgingTrigger = {
  of(trigger: CountTriggerSpec): CountTriggerSpec {
    if (trigger?.type !== 'count') throw new CloudflinkError('DESCRIPTOR_INVALID', 'PurgingTrigger.of() expects a CountTrigger.of(n)');
    return { ...trigger, purge: true };
  },
};

/** Keeps only a window's last `count` records; the window's function sees those. */
export const CountEvictor = {
  of(count: number): CountEvictorSpec {
    atLeastOne(count, 'CountEvictor.of()');
    return { type: 'count', count };
  },
};

/** A field name, an array index, or a function of the record, as keyBy() takes it. */
export type FieldOrFunction<T> = keyof T | number | ((value: T) => unknown) | FunctionRef;

export class WindowedStream<T, K = unknown> {
  private lateness = 0;
  private lateTag?: string;
  private windowTrigger?: CountTriggerSpec;
  private windowEvictor?: CountEvictorSpec;

  /** Without `key`, the windows are not keyed (windowAll): one instance, at parallelism 1. */
  constructor(private readonly input: DataStream<T>, private readonly key: KeySelector | undefined, private readonly assigner: WindowAssigner) {}

  /** Fires by count instead of by time: `CountTrigger.of(n)`, or `PurgingTrigger.of(CountTrigger.of(n))` to drop what fired. */
  trigger(trigger: CountTriggerSpec): this {
    if (trigger?.type !== 'count') throw new CloudflinkError('DESCRIPTOR_INVALID', 'trigger() expects CountTrigger.of(n) or PurgingTrigger.of(CountTrigger.of(n))');
    this.windowTrigger = { ...trigger };
    return this;
  }

  /** Keeps only each window's last records: `CountEvictor.of(n)`. The window then stores its records, whatever the function. */
  evictor(evictor: CountEvictorSpec): this {
    if (evictor?.type !== 'count') throw new CloudflinkError('DESCRIPTOR_INVALID', 'evictor() expects CountEvictor.of(n)');
    this.windowEvictor = { ...evictor };
    return this;
  }

  /** How long after a window fired it still takes late records, firing again with each. */
  allowedLateness(ms: number): this {
    if (!Number.isInteger(ms) || ms < 0) throw new CloudflinkError('DESCRIPTOR_INVALID', `allowedLateness(${ms}): expected a whole number of milliseconds, 0 or more`);
    this.lateness = ms;
    return this;
  }

  /** Records too late for all their windows go to the side output `tag` (read it with `getSideOutput(tag)`) instead of being dropped. */
  sideOutputLateData(tag: string): this {
    if (typeof tag !== 'string' || tag === '') throw new CloudflinkError('DESCRIPTOR_INVALID', 'sideOutputLateData() expects a non-empty tag');
    this.lateTag = tag;
    return this;
  }

  /**
   * Reduces each window's records as they come, `fn(a, b)`; emits the result when the window
   * fires, or hands it to `process(elements, ctx)` (elements: the result alone), which also
   * sees `ctx.key` and `ctx.window` (Flink's reduce with a ProcessWindowFunction).
   */
  reduce(fn: ((a: T, b: T) => T) | FunctionRef, options?: OperatorOptions): SingleOutputStreamOperator<T>;
  reduce<R>(fn: ((a: T, b: T) => T) | FunctionRef, process: WindowProcess<T, R, K>, options?: OperatorOptions): SingleOutputStreamOperator<R>;
  reduce<R>(fn: ((a: T, b: T) => T) | FunctionRef, ...rest: [OperatorOptions?] | [WindowProcess<T, R, K>, OperatorOptions?]): SingleOutputStreamOperator<R> {
    const captured = captureFunction(fn, 'window().reduce()');
    const [process, options] = withProcess(rest, 'window().reduce() process');
    return this.window<R>({ reduce: captured.fn, ...process }, captured.name ?? 'window', options);
  }

  /**
   * Incremental aggregation (Flink's AggregateFunction): `create()` an empty accumulator,
   * `add(acc, value)` for each record as it comes, `result(acc)` when the window fires. Keeps
   * one accumulator per window, not its records: counts, sums, averages.
   */
  aggregate<A, R>(fn: AggregateFunction<T, A, R>, options?: OperatorOptions): SingleOutputStreamOperator<R>;
  /** The aggregate's result handed to `process(elements, ctx)` (elements: the result alone), with `ctx.key` and `ctx.window`. */
  aggregate<A, R, O>(fn: AggregateFunction<T, A, R>, process: WindowProcess<R, O, K>, options?: OperatorOptions): SingleOutputStreamOperator<O>;
  aggregate<A, R, O>(fn: AggregateFunction<T, A, R>, ...rest: [OperatorOptions?] | [WindowProcess<R, O, K>, OperatorOptions?]): SingleOutputStreamOperator<R | O> {
    if (fn === null || typeof fn !== 'object') throw new CloudflinkError('DESCRIPTOR_INVALID', 'window().aggregate() expects { create, add, result }');
    if (this.assigner.type === 'session' && fn.merge === undefined) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', 'window().aggregate(): session windows merge, so the aggregate needs merge(a, b) too');
    }
    const create = captureFunction(fn.create, 'window().aggregate() create');
    const add = captureFunction(fn.add, 'window().aggregate() add');
    const result = captureFunction(fn.result, 'window().aggregate() result');
    const merge = fn.merge === undefined ? undefined : captureFunction(fn.merge, 'window().aggregate() merge');
    const [process, options] = withProcess(rest, 'window().aggregate() process');
    return this.window<R | O>({ aggregate: { create: create.fn, add: add.fn, result: result.fn, ...(merge ? { merge: merge.fn } : {}) }, ...process }, add.name ?? 'window', options);
  }

  /** `fn(elements, ctx)` over all of a window's records when it fires, with `ctx.key` and `ctx.window`; returns the records to emit. */
  process<R>(fn: WindowProcess<T, R, K>, options?: OperatorOptions): SingleOutputStreamOperator<R> {
    const captured = captureFunction(fn, 'window().process()');
    return this.window<R>({ process: captured.fn }, captured.name ?? 'window', options);
  }

  /** Each distinct record of the window once, the first that came: whole records compared, or by `key`. */
  distinct(key?: FieldOrFunction<T>, options?: OperatorOptions): SingleOutputStreamOperator<T> {
    return this.window<T>({ distinct: key === undefined ? true : { key: this.input.keySelectorOf(key) } }, 'distinct', options);
  }

  /** The window's `n` records with the largest `by` (or smallest, with order 'asc'), in rank order. */
  topN(n: number, by: FieldOrFunction<T>, order: SortOrder = 'desc', options?: OperatorOptions): SingleOutputStreamOperator<T> {
    atLeastOne(n, 'topN(n)');
    return this.window<T>({ topN: { n, by: this.input.keySelectorOf(by), order: sortOrder(order, 'topN()') } }, 'topN', options);
  }

  /** All the window's records sorted by `by`, or by event time when `by` is absent. */
  sortBy(by?: FieldOrFunction<T>, order: SortOrder = 'asc', options?: OperatorOptions): SingleOutputStreamOperator<T> {
    return this.window<T>({ sort: { ...(by === undefined ? {} : { by: this.input.keySelectorOf(by) }), order: sortOrder(order, 'sortBy()') } }, 'sortBy', options);
  }

  private window<R>(fn: Pick<WindowVertex, 'reduce' | 'aggregate' | 'process'> | WindowBuiltins, name: string, options?: OperatorOptions): SingleOutputStreamOperator<R> {
    const spec: WindowVertex = {
      operator: 'window',
      assigner: { ...this.assigner },
      ...fn,
      ...(this.windowTrigger ? { trigger: this.windowTrigger } : {}),
      ...(this.windowEvictor ? { evictor: this.windowEvictor } : {}),
      ...(this.lateness > 0 ? { allowedLatenessMs: this.lateness } : {}),
      ...(this.lateTag === undefined ? {} : { lateTag: this.lateTag }),
    };
    if (this.assigner.type === 'global' && this.windowTrigger === undefined) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', 'a GlobalWindows window never ends, so only a trigger fires it: add .trigger(CountTrigger.of(n))');
    }
    if (this.key !== undefined) return this.input.transform<R>(spec, name, options, { partition: 'hash', key: this.key });
    if (options?.parallelism !== undefined && options.parallelism !== 1) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `windowAll(): one instance sees every record, so its parallelism is 1, not ${options.parallelism}; keyBy() first to window in parallel`);
    }
    return this.input.transform<R>(spec, name, { ...options, parallelism: 1 });
  }
}

/** Flink's ProcessWindowFunction: a window's elements (or a reduce's or aggregate's result, alone) with its key and bounds. */
export type WindowProcess<T, R, K> = ((elements: T[], ctx: WindowContext<K>) => Iterable<R> | void) | FunctionRef;

/** Flink's AggregateFunction. */
export interface AggregateFunction<T, A, R> {
  create: (() => A) | FunctionRef;
  add: ((acc: A, value: T) => A) | FunctionRef;
  result: ((acc: A) => R) | FunctionRef;
  merge?: ((a: A, b: A) => A) | FunctionRef;
}

/** The optional process function and the options after a reduce or an aggregate function. */
function withProcess(rest: unknown[], role: string): [{ process?: UserFunction }, OperatorOptions | undefined] {
  const [first, second] = rest;
  if (typeof first === 'function' || isFunctionRef(first)) return [{ process: captureFunction(first, role).fn }, second as OperatorOptions | undefined];
  return [{}, first as OperatorOptions | undefined];
}

function sortOrder(order: unknown, role: string): SortOrder {
  if (order !== 'asc' && order !== 'desc') throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: the order is 'asc' or 'desc', not ${String(order)}`);
  return order;
}

function atLeastOne(count: number, role: string): void {
  if (!Number.isInteger(count) || count < 1) throw new CloudflinkError('DESCRIPTOR_INVALID', `${role} expects a whole number, at least 1; got ${count}`);
}

function positive(ms: number, role: string): void {
  if (!Number.isInteger(ms) || ms < 1) throw new CloudflinkError('DESCRIPTOR_INVALID', `${role} must be a whole number of milliseconds, at least 1; got ${ms}`);
}

function offset(offsetMs: number | undefined): { offsetMs?: number } {
  if (offsetMs === undefined) return {};
  if (!Number.isInteger(offsetMs) || offsetMs < 0) throw new CloudflinkError('DESCRIPTOR_INVALID', `a window offset must be a whole number of milliseconds, 0 or more; got ${offsetMs}`);
  return { offsetMs };
}
