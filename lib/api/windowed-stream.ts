/**
 * WindowedStream: a keyed stream cut into event-time windows (Flink's
 * `keyBy(...).window(...)`), then reduced or processed per window. Its source needs event
 * time: `assignTimestampsAndWatermarks(...)`.
 */
import type { KeySelector, WindowAssigner, WindowVertex } from '../descriptor/types.ts';
import { CloudflinkError } from '../errors/index.ts';
import { captureFunction, type FunctionRef } from './capture.ts';
import type { DataStream, SingleOutputStreamOperator } from './data-stream.ts';
import type { OperatorOptions } from './environment.ts';

export interface TimeWindow {
  start: number;
  /** Exclusive. */
  end: number;
}

export interface WindowContext<K> {
  key: K;
  window: TimeWindow;
}

/** Windows of `sizeMs`, one after another, aligned to the epoch plus `offsetMs`. */
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

export class WindowedStream<T, K = unknown> {
  private lateness = 0;
  private lateTag?: string;

  constructor(private readonly input: DataStream<T>, private readonly key: KeySelector, private readonly assigner: WindowAssigner) {}

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

  /** Reduces each window's records as they come, `fn(a, b)`; emits the result when the window fires. */
  reduce(fn: ((a: T, b: T) => T) | FunctionRef, options?: OperatorOptions): SingleOutputStreamOperator<T> {
    const captured = captureFunction(fn, 'window().reduce()');
    return this.window<T>({ reduce: captured.fn }, captured.name ?? 'window', options);
  }

  /**
   * Incremental aggregation (Flink's AggregateFunction): `create()` an empty accumulator,
   * `add(acc, value)` for each record as it comes, `result(acc)` when the window fires. Keeps
   * one accumulator per window, not its records: counts, sums, averages.
   */
  aggregate<A, R>(
    fn: { create: (() => A) | FunctionRef; add: ((acc: A, value: T) => A) | FunctionRef; result: ((acc: A) => R) | FunctionRef; merge?: ((a: A, b: A) => A) | FunctionRef },
    options?: OperatorOptions,
  ): SingleOutputStreamOperator<R> {
    if (fn === null || typeof fn !== 'object') throw new CloudflinkError('DESCRIPTOR_INVALID', 'window().aggregate() expects { create, add, result }');
    if (this.assigner.type === 'session' && fn.merge === undefined) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', 'window().aggregate(): session windows merge, so the aggregate needs merge(a, b) too');
    }
    const create = captureFunction(fn.create, 'window().aggregate() create');
    const add = captureFunction(fn.add, 'window().aggregate() add');
    const result = captureFunction(fn.result, 'window().aggregate() result');
    const merge = fn.merge === undefined ? undefined : captureFunction(fn.merge, 'window().aggregate() merge');
    return this.window<R>({ aggregate: { create: create.fn, add: add.fn, result: result.fn, ...(merge ? { merge: merge.fn } : {}) } }, add.name ?? 'window', options);
  }

  /** `fn(elements, ctx)` over all of a window's records when it fires, with `ctx.key` and `ctx.window`; returns the records to emit. */
  process<R>(fn: ((elements: T[], ctx: WindowContext<K>) => Iterable<R> | void) | FunctionRef, options?: OperatorOptions): SingleOutputStreamOperator<R> {
    const captured = captureFunction(fn, 'window().process()');
    return this.window<R>({ process: captured.fn }, captured.name ?? 'window', options);
  }

  private window<R>(fn: Pick<WindowVertex, 'reduce' | 'aggregate' | 'process'>, name: string, options?: OperatorOptions): SingleOutputStreamOperator<R> {
    const spec: WindowVertex = {
      operator: 'window',
      assigner: { ...this.assigner },
      ...fn,
      ...(this.lateness > 0 ? { allowedLatenessMs: this.lateness } : {}),
      ...(this.lateTag === undefined ? {} : { lateTag: this.lateTag }),
    };
    return this.input.transform<R>(spec, name, options, { partition: 'hash', key: this.key });
  }
}

function positive(ms: number, role: string): void {
  if (!Number.isInteger(ms) || ms < 1) throw new CloudflinkError('DESCRIPTOR_INVALID', `${role} must be a whole number of milliseconds, at least 1; got ${ms}`);
}

function offset(offsetMs: number | undefined): { offsetMs?: number } {
  if (offsetMs === undefined) return {};
  if (!Number.isInteger(offsetMs) || offsetMs < 0) throw new CloudflinkError('DESCRIPTOR_INVALID', `a window offset must be a whole number of milliseconds, 0 or more; got ${offsetMs}`);
  return { offsetMs };
}
