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
import { canonicalKey } from '../../../lib/partition/index.ts';
import type { KeyedStateBackend, MapState } from '../../../lib/state/index.ts';
import type { WindowAssigner } from '../../../lib/descriptor/types.ts';
import type { Collector, OperatorLogic, UserFn } from './types.ts';
import { describe } from './transforms.ts';

export interface TimeWindow {
  start: number;
  /** Exclusive. */
  end: number;
}

/** What a window's function computes: a reduce or an aggregate as records come, or a process over all of them at firing. */
export type WindowFunction = { reduce: UserFn } | { aggregate: { create: UserFn; add: UserFn; result: UserFn } } | { process: UserFn };

export interface WindowSettings {
  assigner: WindowAssigner;
  fn: WindowFunction;
  allowedLatenessMs: number;
  lateTag?: string;
}

interface WindowState {
  /** The reduced value, or the records (process). */
  a: unknown;
  /** Fired at least once (it waits for late records until cleanup). */
  f?: true;
}

/** The start of every window `timestamp` belongs to, as Flink's assigners compute them. */
export function windowStarts(assigner: WindowAssigner, timestamp: number): number[] {
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

/**
 * Timers by time, then by key: window ends are aligned, so there are few distinct times and
 * each holds many keys. `fire` at the window's last millisecond, `cleanup` at that plus the lateness.
 */
class Timers {
  private readonly byTime = new Map<number, Map<string, { key: unknown; kind: 'fire' | 'cleanup' }>>();
  private times: number[] = [];

  add(time: number, key: unknown, kind: 'fire' | 'cleanup'): void {
    let keys = this.byTime.get(time);
    if (!keys) {
      this.byTime.set(time, (keys = new Map()));
      const at = this.times.findIndex((t) => t > time);
      this.times.splice(at < 0 ? this.times.length : at, 0, time);
    }
    keys.set(`${kind}:${canonicalKey(key)}`, { key, kind });
  }

  /** Takes every timer at or before `watermark`, earliest first. */
  *due(watermark: number): Generator<{ time: number; key: unknown; kind: 'fire' | 'cleanup' }> {
    while (this.times.length > 0 && this.times[0]! <= watermark) {
      const time = this.times.shift()!;
      const keys = this.byTime.get(time)!;
      this.byTime.delete(time);
      for (const { key, kind } of keys.values()) yield { time, key, kind };
    }
  }

  clear(): void {
    this.byTime.clear();
    this.times = [];
  }
}

export function windowLogic(settings: WindowSettings, keyOf: (record: unknown) => unknown, backend: KeyedStateBackend, vertexName: string): OperatorLogic {
  const { assigner, fn, allowedLatenessMs: lateness, lateTag } = settings;
  const state: MapState<number, WindowState> = backend.store.map<number, WindowState>('window');
  const timers = new Timers();
  let watermark = Number.NEGATIVE_INFINITY;
  const size = assigner.sizeMs;

  const schedule = (key: unknown, start: number, fired: boolean): void => {
    const last = start + size - 1;
    if (!fired) timers.add(last, key, 'fire');
    timers.add(last + lateness, key, 'cleanup');
  };

  const fire = (key: unknown, start: number, window: WindowState, out: Collector): void => {
    const bounds: TimeWindow = { start, end: start + size };
    const timestamp = bounds.end - 1;
    if ('reduce' in fn) {
      out.emit(window.a, timestamp);
      return;
    }
    if ('aggregate' in fn) {
      out.emit(fn.aggregate.result(window.a), timestamp);
      return;
    }
    const results = fn.process(window.a, { key, window: bounds });
    if (results === undefined || results === null) return;
    if (typeof (results as Iterable<unknown>)[Symbol.iterator] !== 'function' || typeof results === 'string') {
      throw new CloudflinkError('UDF_FAILED', `the process function of window '${vertexName}' must return an array or another iterable, not ${describe(results)}`);
    }
    for (const result of results as Iterable<unknown>) out.emit(result, timestamp);
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
      for (const start of windowStarts(assigner, timestamp)) {
        // Past its cleanup: the window is gone, the record is late for it.
        if (start + size - 1 + lateness <= watermark) continue;
        late = false;
        const previous = state.get(start);
        let a: unknown;
        if ('reduce' in fn) a = previous === undefined ? record : fn.reduce(previous.a, record);
        else if ('aggregate' in fn) a = fn.aggregate.add(previous === undefined ? fn.aggregate.create() : previous.a, record);
        else if (previous === undefined) a = [record];
        // In place: state is only read here, and a snapshot is encoded before the next record.
        else (a = previous.a as unknown[]).push(record);
        const window: WindowState = previous?.f ? { a, f: true } : { a };
        state.put(start, window);
        if (previous === undefined) schedule(key, start, false);
        // Within the lateness of a window that fired already: it fires again with the record.
        if (start + size - 1 <= watermark) {
          fire(key, start, window, out);
          state.put(start, { a, f: true });
        }
      }
      if (late && lateTag !== undefined) out.emitTo?.(lateTag, record);
    },

    onWatermark(next, out: Collector) {
      watermark = next;
      for (const { time, key, kind } of timers.due(next)) {
        backend.setCurrentKey(key);
        const start = (kind === 'fire' ? time : time - lateness) - size + 1;
        const window = state.get(start);
        if (window === undefined) continue;
        if (kind === 'fire' && !window.f) {
          fire(key, start, window, out);
          if (lateness > 0) state.put(start, { a: window.a, f: true });
        }
        if (kind === 'cleanup' || lateness === 0) state.remove(start);
      }
    },

    restoreState() {
      // The timers follow from the windows each restored key holds.
      timers.clear();
      for (const key of backend.keys('window')) {
        backend.setCurrentKey(key);
        for (const [start, window] of state.entries()) schedule(key, start, window.f === true);
      }
    },
  };
}
