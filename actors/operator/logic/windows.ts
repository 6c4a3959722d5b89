/**
 * Keyed event-time windows, as Flink's WindowOperator with its EventTimeTrigger: a record goes
 * to every window its timestamp falls in; a window fires when the watermark passes its end,
 * and again for each late record within the allowed lateness; its state goes once the
 * watermark passes its end plus the lateness. A record too late for all its windows goes to
 * the late side output, if one is named, else it is dropped.
 *
 * State, per key (checkpointed, moving with its key group): window start → { accumulator,
 * fired }. The timers are not state: they are rebuilt from it on restore.
 */
import { CloudflinkError } from '../../../lib/errors/index.ts';
import type { KeyedStateBackend, MapState } from '../../../lib/state/index.ts';
import type { FixedWindowAssigner, WindowAssigner } from '../../../lib/descriptor/types.ts';
import type { Collector, OperatorLogic, UserFn } from './types.ts';
import { describe } from './transforms.ts';
import { TimerHeap } from './timer-heap.ts';

export interface TimeWindow {
  start: number;
  /** Exclusive. */
  end: number;
}

/** What a window's function computes: a reduce or an aggregate as records come, or a process over all of them at firing. */
export type WindowFunction = { reduce: UserFn } | { aggregate: { create: UserFn; add: UserFn; result: UserFn; merge?: UserFn } } | { process: UserFn };

export interface WindowSettings {
  assigner: WindowAssigner;
  fn: WindowFunction;
  allowedLatenessMs: number;
  lateTag?: string;
}

interface WindowState {
  /** The reduced value, the accumulator (aggregate), or the records (process). */
  a: unknown;
  /** Fired at least once (it waits for late records until cleanup). */
  f?: true;
  /** Its end, for a session window (the others end at start + size). */
  e?: number;
}

/** The start of every window `timestamp` belongs to, as Flink's assigners compute them. */
export function windowStarts(assigner: FixedWindowAssigner, timestamp: number): number[] {
  const offset = assigner.offsetMs ?? 0;
  const slide = assigner.type === 'tumbling' ? assigner.sizeMs : assigner.slideMs;
  const lastStart = timestamp - positiveModulo(timestamp - offset, slide);
  const starts: number[] = [];
  for (let start = lastStart; start > timestamp - assigner.sizeMs; start -= slide) starts.push(start);
  return starts;
}

function positiveModulo(value: number, modulus: number): number {
  return ((value % modulus) + modulus) % modulus;
}

interface Timer {
  key: unknown;
  start: number;
  kind: 'fire' | 'cleanup';
}

export function windowLogic(settings: WindowSettings, keyOf: (record: unknown) => unknown, backend: KeyedStateBackend, vertexName: string): OperatorLogic {
  const { assigner, fn, allowedLatenessMs: lateness, lateTag } = settings;
  const state: MapState<number, WindowState> = backend.store.map<number, WindowState>('window');
  const timers = new TimerHeap<Timer & { time: number }>();
  let watermark = Number.NEGATIVE_INFINITY;
  const merging = assigner.type === 'session';
  if (merging && 'aggregate' in fn && !fn.aggregate.merge) {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `window '${vertexName}': session windows merge, so an aggregate needs merge(a, b) too`);
  }
  const endOf = (start: number, window: WindowState): number => window.e ?? start + (assigner as { sizeMs: number }).sizeMs;

  const schedule = (key: unknown, start: number, end: number, fired: boolean): void => {
    if (!fired) timers.add({ key, start, kind: 'fire', time: end - 1 });
    // Without lateness, firing cleans up; with it, cleanup comes strictly after firing.
    if (lateness > 0) timers.add({ key, start, kind: 'cleanup', time: end - 1 + lateness });
  };

  const fire = (key: unknown, start: number, window: WindowState, out: Collector): void => {
    const bounds: TimeWindow = { start, end: endOf(start, window) };
    const timestamp = bounds.end - 1;
    if ('reduce' in fn) {
      out.emit(window.a, timestamp);
      return;
    }
    if ('aggregate' in fn) {
      out.emit(fn.aggregate.result(window.a), timestamp);
      return;
    }
    // A copy: the list keeps growing with late records, and what was emitted must not change.
    const results = fn.process([...(window.a as unknown[])], { key, window: bounds });
    if (results === undefined || results === null) return;
    if (typeof (results as Iterable<unknown>)[Symbol.iterator] !== 'function' || typeof results === 'string') {
      throw new CloudflinkError('UDF_FAILED', `the process function of window '${vertexName}' must return an array or another iterable, not ${describe(results)}`);
    }
    for (const result of results as Iterable<unknown>) out.emit(result, timestamp);
  };

  /** One record into the accumulator of a window that may not exist yet. */
  const accumulate = (previous: unknown, record: unknown): unknown => {
    if ('reduce' in fn) return previous === undefined ? record : fn.reduce(previous, record);
    if ('aggregate' in fn) return fn.aggregate.add(previous === undefined ? fn.aggregate.create() : previous, record);
    if (previous === undefined) return [record];
    // In place: state is only read here, and a snapshot is encoded before the next record.
    (previous as unknown[]).push(record);
    return previous;
  };

  /** Two session windows' accumulators, the earlier window's first. */
  const merge = (earlier: unknown, later: unknown): unknown => {
    if ('reduce' in fn) return fn.reduce(earlier, later);
    if ('aggregate' in fn) return fn.aggregate.merge!(earlier, later);
    // In place, into the longer list: a session growing one record at a time stays linear.
    const first = earlier as unknown[];
    const second = later as unknown[];
    if (first.length >= second.length) {
      for (const record of second) first.push(record);
      return first;
    }
    second.unshift(...first);
    return second;
  };

  /** Adds the record to its window; returns the window's start and state, or nothing when it is too late. */
  const assignFixed = (key: unknown, start: number, record: unknown): [number, WindowState] | undefined => {
    const end = start + (assigner as { sizeMs: number }).sizeMs;
    // Past its cleanup: the window is gone, the record is late for it.
    if (end - 1 + lateness <= watermark) return undefined;
    const previous = state.get(start);
    const window: WindowState = { a: accumulate(previous?.a, record), ...(previous?.f ? { f: true as const } : {}) };
    state.put(start, window);
    if (previous === undefined) schedule(key, start, end, false);
    return [start, window];
  };

  /** A session window of its own, merged with every window of the key it touches (Flink's MergingWindowSet). */
  const assignSession = (key: unknown, timestamp: number, record: unknown): [number, WindowState] | undefined => {
    let start = timestamp;
    let end = timestamp + (assigner as { gapMs: number }).gapMs;
    // Merged first, then judged: a late record inside a session still open joins it (as Flink's MergingWindowSet).
    const touching = state.entries().filter(([otherStart, other]) => otherStart <= end && endOf(otherStart, other) >= start);
    for (const [otherStart, other] of touching) {
      start = Math.min(start, otherStart);
      end = Math.max(end, endOf(otherStart, other));
    }
    if (end - 1 + lateness <= watermark) return undefined;
    let a = accumulate(undefined, record);
    let fired = false;
    start = timestamp;
    for (const [otherStart, other] of touching) {
      a = otherStart <= start ? merge(other.a, a) : merge(a, other.a);
      start = Math.min(start, otherStart);
      fired ||= other.f === true;
      state.remove(otherStart);
    }
    // Fired already only if it did not grow past the watermark (then it fires again, on time).
    const firedAsIs = fired && end - 1 <= watermark;
    const window: WindowState = { a, e: end, ...(firedAsIs ? { f: true as const } : {}) };
    state.put(start, window);
    // The merged windows' timers go stale: each checks that its window still ends where it did.
    schedule(key, start, end, firedAsIs);
    return [start, window];
  };

  return {
    process(record, out: Collector, _input, timestamp) {
      if (timestamp === undefined) {
        throw new CloudflinkError('UDF_FAILED',
          `window '${vertexName}' got a record without a timestamp: give its source event time (assignTimestampsAndWatermarks, or "watermarks" in the descriptor)`);
      }
      const key = keyOf(record);
      backend.setCurrentKey(key);
      let late = true;
      const assigned = merging ? [assignSession(key, timestamp, record)] : windowStarts(assigner, timestamp).map((start) => assignFixed(key, start, record));
      for (const entry of assigned) {
        if (entry === undefined) continue;
        late = false;
        const [start, window] = entry;
        const last = endOf(start, window) - 1;
        if (last <= watermark) {
          // Within the lateness of a window that fired already: it fires again with the record.
          fire(key, start, window, out);
          state.put(start, { ...window, f: true });
        } else if (window.f) {
          // Fired before, but the watermark is behind its end again (after a restore): it fires once the watermark passes.
          state.put(start, { a: window.a, ...(window.e === undefined ? {} : { e: window.e }) });
          timers.add({ key, start, kind: 'fire', time: last });
        }
      }
      // A record in no window at all (a gap between sliding windows) is late only if it is, as in Flink.
      if (late && lateTag !== undefined && timestamp + lateness <= watermark) out.emitTo?.(lateTag, record);
    },

    onWatermark(next, out: Collector) {
      watermark = next;
      for (const { time, key, start, kind } of timers.due(next)) {
        backend.setCurrentKey(key);
        const window = state.get(start);
        if (window === undefined) continue;
        const last = endOf(start, window) - 1;
        if (kind === 'fire' && last === time && !window.f) {
          fire(key, start, window, out);
          if (lateness > 0) state.put(start, { ...window, f: true });
          else state.remove(start);
        }
        if (kind === 'cleanup' && last + lateness === time) state.remove(start);
      }
    },

    restoreState() {
      // The timers follow from the windows each restored key holds.
      timers.clear();
      for (const key of backend.keys('window')) {
        backend.setCurrentKey(key);
        for (const [start, window] of state.entries()) schedule(key, start, endOf(start, window), window.f === true);
      }
    },
  };
}
