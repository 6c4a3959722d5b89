/**
 * Windows, as Flink's WindowOperator. A record goes to every window its time falls in (its
 * event time, or the clock's with processing-time windows); by default a window fires when
 * the time passes its end (Flink's EventTimeTrigger and ProcessingTimeTrigger), and again for
 * each late record within the allowed lateness; its state goes once the time passes its end
 * plus the lateness. A record too late for all its windows goes to the late side output, if
 * one is named, else it is dropped. A count trigger fires a window every n records instead; a
 * global window (one per key, never ending) fires only so. A count evictor keeps a window's
 * last n records, and the function runs over those when it fires.
 *
 * State, per key (checkpointed, moving with its key group): window start → { accumulator,
 * fired, end, count }. The timers are not state: they are rebuilt from it on restore.
 */
import { CloudflinkError } from '../../../lib/errors/index.ts';
import type { KeyedStateBackend, MapState } from '../../../lib/state/index.ts';
import type { CountEvictor, CountTrigger, FixedWindowAssigner, WindowAssigner } from '../../../lib/descriptor/types.ts';
import type { Collector, OperatorLogic, UserFn } from './types.ts';
import { emitAll } from './emit.ts';
import { ProcessingTimeAlarm, TimerHeap, type AlarmClock } from './timer-heap.ts';

export interface TimeWindow {
  start: number;
  /** Exclusive. */
  end: number;
}

/**
 * What a window's function computes: a reduce or an aggregate as records come, or a process
 * over all of them at firing. A reduce or an aggregate may hand its result to a process
 * function (`processResult`), which sees it as the window's one element, with the key and the window
 * (Flink's incremental aggregation with a ProcessWindowFunction). An aggregate that is `many`
 * returns the list of records to emit (the built-ins: distinct, top-N, sort); its `add` also
 * gets the record's time.
 */
export type WindowFunction =
  | { reduce: UserFn; processResult?: UserFn }
  | { aggregate: Aggregate; many?: boolean; processResult?: UserFn }
  | { process: UserFn };

/** Flink's AggregateFunction; `add` also gets the record's time. */
export interface Aggregate {
  create(): unknown;
  add(accumulator: unknown, record: unknown, time?: number): unknown;
  result(accumulator: unknown): unknown;
  merge?(a: unknown, b: unknown): unknown;
}

export interface WindowSettings {
  assigner: WindowAssigner;
  fn: WindowFunction;
  allowedLatenessMs: number;
  lateTag?: string;
  trigger?: CountTrigger;
  evictor?: CountEvictor;
}

interface WindowState {
  /** The reduced value, the accumulator (aggregate), the records (process), or with an evictor the last [time, record] pairs; none yet, or purged. */
  a?: unknown;
  /** Fired at least once (it waits for late records until cleanup). */
  f?: true;
  /** Its end, for a session window (the others end at start + size). */
  e?: number;
  /** Records since it last fired, with a count trigger. */
  c?: number;
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
  time: number;
  key: unknown;
  start: number;
  kind: 'fire' | 'cleanup';
}

/** A global window's start: there is one per key. */
const GLOBAL = 0;

export function windowLogic(
  settings: WindowSettings, keyOf: (record: unknown) => unknown, backend: KeyedStateBackend, vertexName: string, clock?: AlarmClock<Collector>,
): OperatorLogic {
  const { assigner, fn, trigger, evictor, lateTag } = settings;
  const processingTime = assigner.type !== 'global' && assigner.time === 'processing';
  if (processingTime && clock === undefined) throw new Error(`window '${vertexName}' runs on processing time and needs the instance's clock`);
  // Lateness is a matter of event time: a processing-time window takes records until it fires.
  const lateness = processingTime ? 0 : settings.allowedLatenessMs;
  const global = assigner.type === 'global';
  const merging = assigner.type === 'session';
  // The assigner's time trigger, unless a count trigger replaces it; a global window has none.
  const onTime = trigger === undefined && !global;
  if (merging && 'aggregate' in fn && !fn.aggregate.merge) {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `window '${vertexName}': session windows merge, so an aggregate needs merge(a, b) too`);
  }
  const state: MapState<number, WindowState> = backend.store.map<number, WindowState>('window');
  const timers = new TimerHeap<Timer>();
  const alarm = processingTime ? new ProcessingTimeAlarm(timers, clock!, (now, out) => runTimers(now, out)) : undefined;
  let watermark = Number.NEGATIVE_INFINITY;
  /** What counts as now for windows: the watermark, or the clock. */
  const currentTime = (): number => (processingTime ? clock!.now() : watermark);

  // A processing-time window fires once the clock has passed its last millisecond, as Flink's
  // timers do: records may still come in that millisecond. The watermark says none will.
  const delay = processingTime ? 1 : 0;
  const endOf = (start: number, window: WindowState): number =>
    global ? Number.POSITIVE_INFINITY : window.e ?? start + (assigner as { sizeMs: number }).sizeMs;

  const addTimer = (timer: Timer): void => {
    timers.add(timer);
    alarm?.arm();
  };

  const schedule = (key: unknown, start: number, end: number, fired: boolean): void => {
    if (end === Number.POSITIVE_INFINITY) return;
    if (onTime && !fired) addTimer({ key, start, kind: 'fire', time: end - 1 + delay });
    // Without lateness, firing cleans up; with it, or without a time trigger, cleanup is a timer of its own.
    if (lateness > 0 || !onTime) addTimer({ key, start, kind: 'cleanup', time: end - 1 + delay + lateness });
  };

  /** The window's contents as its function takes them: with an evictor, the kept records run through it now. */
  const contents = (window: WindowState): unknown => {
    if (evictor === undefined) return window.a;
    const kept = window.a as [number, unknown][];
    if ('reduce' in fn) return kept.map(([, record]) => record).reduce((a, b) => fn.reduce(a, b));
    if ('aggregate' in fn) return kept.reduce((acc, [time, record]) => fn.aggregate.add(acc, record, time), fn.aggregate.create());
    return kept.map(([, record]) => record);
  };

  const fire = (key: unknown, start: number, window: WindowState, out: Collector): void => {
    const bounds: TimeWindow = global ? { start: Number.NEGATIVE_INFINITY, end: Number.POSITIVE_INFINITY } : { start, end: endOf(start, window) };
    // A global window has no end: its results keep the time of the record that fired it.
    const timestamp = global ? undefined : bounds.end - 1;
    const a = contents(window);
    let results: unknown;
    if ('process' in fn) {
      // A copy: the list keeps growing with late records, and what was emitted must not change.
      results = fn.process(evictor ? a : [...(a as unknown[])], { key, window: bounds });
    } else {
      const value = 'reduce' in fn ? a : fn.aggregate.result(a);
      if (fn.processResult !== undefined) results = fn.processResult([value], { key, window: bounds });
      else if ('aggregate' in fn && fn.many) results = value;
      else return out.emit(value, timestamp);
    }
    emitAll(results, out, `the process function of window '${vertexName}'`, timestamp);
  };

  /** One record into the accumulator of a window that may not exist yet. */
  const accumulate = (previous: unknown, record: unknown, time: number | undefined): unknown => {
    if (evictor !== undefined) {
      const kept = (previous ?? []) as [number | undefined, unknown][];
      kept.push([time, record]);
      if (kept.length > evictor.count) kept.shift();
      return kept;
    }
    if ('reduce' in fn) return previous === undefined ? record : fn.reduce(previous, record);
    if ('aggregate' in fn) return fn.aggregate.add(previous === undefined ? fn.aggregate.create() : previous, record, time);
    if (previous === undefined) return [record];
    // In place: state is only read here, and a snapshot is encoded before the next record.
    (previous as unknown[]).push(record);
    return previous;
  };

  /** Two session windows' accumulators, the earlier window's first. */
  const merge = (earlier: unknown, later: unknown): unknown => {
    // A window a purging trigger emptied has nothing to merge.
    if (earlier === undefined) return later;
    if (later === undefined) return earlier;
    if (evictor !== undefined) return [...(earlier as unknown[]), ...(later as unknown[])].slice(-evictor.count);
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
  const assignFixed = (key: unknown, start: number, record: unknown, time: number | undefined): [number, WindowState] | undefined => {
    const end = global ? Number.POSITIVE_INFINITY : start + (assigner as { sizeMs: number }).sizeMs;
    // Past its cleanup: the window is gone, the record is late for it.
    if (end - 1 + lateness <= watermark && !processingTime) return undefined;
    const previous = state.get(start);
    const window: WindowState = { a: accumulate(previous?.a, record, time), ...(previous?.f ? { f: true as const } : {}), ...counted(previous?.c) };
    state.put(start, window);
    if (previous === undefined) schedule(key, start, end, false);
    return [start, window];
  };

  /** The count of a window that takes one more record, when a count trigger counts. */
  const counted = (count: number | undefined): { c?: number } => (trigger === undefined ? {} : { c: (count ?? 0) + 1 });

  /** A session window of its own, merged with every window of the key it touches (Flink's MergingWindowSet). */
  const assignSession = (key: unknown, time: number, record: unknown): [number, WindowState] | undefined => {
    let start = time;
    let end = time + (assigner as { gapMs: number }).gapMs;
    // Merged first, then judged: a late record inside a session still open joins it (as Flink's MergingWindowSet).
    const touching = state.entries().filter(([otherStart, other]) => otherStart <= end && endOf(otherStart, other) >= start);
    for (const [otherStart, other] of touching) {
      start = Math.min(start, otherStart);
      end = Math.max(end, endOf(otherStart, other));
    }
    if (end - 1 + lateness <= watermark && !processingTime) return undefined;
    const mergedStart = start;
    let a = accumulate(undefined, record, time);
    let fired = false;
    let count = 0;
    start = time;
    for (const [otherStart, other] of touching) {
      a = otherStart <= start ? merge(other.a, a) : merge(a, other.a);
      start = Math.min(start, otherStart);
      fired ||= other.f === true;
      count += other.c ?? 0;
      // The window the merge keeps the start of is overwritten below, not removed and made again.
      if (otherStart !== mergedStart) state.remove(otherStart);
    }
    // Fired already only if it did not grow past the time (then it fires again, on time).
    const firedAsIs = fired && end - 1 <= currentTime();
    const window: WindowState = { a, e: end, ...(firedAsIs ? { f: true as const } : {}), ...counted(count) };
    // A window that kept its extent keeps its timers; the merged ones' go stale (each checks its window still ends where it did).
    const extentKept = touching.some(([otherStart, other]) => otherStart === start && endOf(otherStart, other) === end && (other.f === true) === firedAsIs);
    state.put(start, window);
    if (!extentKept) schedule(key, start, end, firedAsIs);
    return [start, window];
  };

  /** After a record came into a window: whether and how it fires now. */
  const afterRecord = (key: unknown, start: number, window: WindowState, out: Collector): void => {
    if (trigger !== undefined) {
      if (window.c! < trigger.count) return;
      fire(key, start, window, out);
      // Purging empties the window but keeps it, as Flink's FIRE_AND_PURGE: a session keeps its extent for merging.
      const { a: _contents, ...kept } = window;
      state.put(start, trigger.purge ? { ...kept, c: 0 } : { ...window, c: 0 });
      return;
    }
    if (global) return;
    const last = endOf(start, window) - 1;
    if (last <= watermark && !processingTime) {
      // Within the lateness of a window that fired already: it fires again with the record.
      fire(key, start, window, out);
      state.put(start, { ...window, f: true });
    } else if (window.f) {
      // Fired before, but the time is behind its end again (after a restore): it fires once the time passes.
      state.put(start, { a: window.a, ...(window.e === undefined ? {} : { e: window.e }) });
      addTimer({ key, start, kind: 'fire', time: last + delay });
    }
  };

  /** The timers due by `time`: windows that end fire, windows past their lateness go. */
  const runTimers = (time: number, out: Collector): void => {
    for (const { time: due, key, start, kind } of timers.due(time)) {
      backend.setCurrentKey(key);
      const window = state.get(start);
      if (window === undefined) continue;
      const last = endOf(start, window) - 1;
      if (kind === 'fire' && last + delay === due && !window.f) {
        fire(key, start, window, out);
        if (lateness > 0) state.put(start, { ...window, f: true });
        else state.remove(start);
      }
      if (kind === 'cleanup' && last + delay + lateness === due) state.remove(start);
    }
  };

  return {
    process(record, out: Collector, _input, timestamp) {
      const time = processingTime ? clock!.now() : timestamp;
      if (time === undefined && !global) {
        throw new CloudflinkError('UDF_FAILED',
          `window '${vertexName}' got a record without a timestamp: give its source event time (assignTimestampsAndWatermarks, or "watermarks" in the descriptor)`);
      }
      const key = keyOf(record);
      backend.setCurrentKey(key);
      let late = true;
      const assigned = merging ? [assignSession(key, time!, record)]
        : global ? [assignFixed(key, GLOBAL, record, time)]
        : windowStarts(assigner as FixedWindowAssigner, time!).map((start) => assignFixed(key, start, record, time!));
      for (const entry of assigned) {
        if (entry === undefined) continue;
        late = false;
        afterRecord(key, entry[0], entry[1], out);
      }
      // A record in no window at all (a gap between sliding windows) is late only if it is, as in Flink.
      if (late && lateTag !== undefined && !processingTime && time! + lateness <= watermark) out.emitTo?.(lateTag, record);
    },

    onWatermark(next, out: Collector) {
      watermark = next;
      // At the end of input (an infinite watermark) processing-time windows fire too, rather than lose what they hold.
      if (!processingTime || next === Number.POSITIVE_INFINITY) runTimers(next, out);
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
