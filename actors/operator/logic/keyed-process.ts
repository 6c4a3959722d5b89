/**
 * Keyed process function with timers (Flink's KeyedProcessFunction): `fn(value, ctx)` per
 * record, and `onTimer(timestamp, ctx)` when a timer the function set comes due, for the key
 * it was set under. Event-time timers fire as the watermark passes them (all of them at end of
 * input); processing-time timers fire on the clock. Timers are keyed state (checkpointed, moved
 * with their key group); the heaps that order them are rebuilt from it on restore.
 */
import { CloudflinkError } from '../../../lib/errors/index.ts';
import type { KeyedStateBackend, KeyedStateStore, MapState } from '../../../lib/state/index.ts';
import { ProcessingTimeAlarm, TimerHeap } from './timer-heap.ts';
import { describe, emitAll, sideOutput } from './emit.ts';
import type { Collector, OperatorLogic, UserFn } from './types.ts';

export type TimeDomain = 'event' | 'processing';

export interface TimerService {
  currentWatermark(): number;
  currentProcessingTime(): number;
  registerEventTimeTimer(time: number): void;
  registerProcessingTimeTimer(time: number): void;
  deleteEventTimeTimer(time: number): void;
  deleteProcessingTimeTimer(time: number): void;
}

export interface KeyedProcessContext {
  key: unknown;
  state: KeyedStateStore;
  /** The record's event time (in `fn`), or the timer's time (in `onTimer`); undefined without event time. */
  timestamp: number | undefined;
  timerService: TimerService;
  /** In `onTimer`: which clock the timer was set on. */
  timeDomain?: TimeDomain;
  output(tag: string, value: unknown): void;
}

/** How the instance lends its clock: the time now, and a call back at a time, with a collector. */
export interface ProcessingTime {
  now(): number;
  at(time: number, callback: (out: Collector) => void): void;
}

interface Timer {
  time: number;
  key: unknown;
}

const TIMERS = '__timers';


const STATE_KEY = (domain: TimeDomain, time: number): string => `${domain[0]}${time}`;

export function keyedProcessLogic(
  fn: UserFn, onTimer: UserFn | undefined, keyOf: (record: unknown) => unknown, backend: KeyedStateBackend, clock: ProcessingTime,
): OperatorLogic {
  const timers: MapState<string, [TimeDomain, number]> = backend.store.map<string, [TimeDomain, number]>(TIMERS);
  const heaps: Record<TimeDomain, TimerHeap<Timer>> = { event: new TimerHeap(), processing: new TimerHeap() };
  let watermark = Number.NEGATIVE_INFINITY;
  const alarm = new ProcessingTimeAlarm(heaps.processing, clock, (now, out) => fire('processing', now, out));

  const register = (domain: TimeDomain, time: number): void => {
    if (typeof time !== 'number' || !Number.isFinite(time)) {
      throw new CloudflinkError('UDF_FAILED', `a ${domain}-time timer needs a finite time in epoch milliseconds, got ${describe(time)}`);
    }
    if (onTimer === undefined) {
      throw new CloudflinkError('UDF_FAILED', 'this process function sets timers but has no onTimer function to call when they come due');
    }
    const id = STATE_KEY(domain, time);
    if (timers.contains(id)) return;
    timers.put(id, [domain, time]);
    heaps[domain].add({ time, key: backend.currentKey });
    if (domain === 'processing') alarm.arm();
  };

  const timerService: TimerService = {
    currentWatermark: () => watermark,
    currentProcessingTime: () => clock.now(),
    registerEventTimeTimer: (time) => register('event', time),
    registerProcessingTimeTimer: (time) => register('processing', time),
    deleteEventTimeTimer: (time) => timers.remove(STATE_KEY('event', time)),
    deleteProcessingTimeTimer: (time) => timers.remove(STATE_KEY('processing', time)),
  };

  const context = (key: unknown, timestamp: number | undefined, out: Collector, timeDomain?: TimeDomain): KeyedProcessContext => ({
    key, state: backend.store, timestamp, timerService, ...(timeDomain ? { timeDomain } : {}),
    output: (tag, value) => sideOutput(out, tag, value, timestamp),
  });

  /** Fires the due timers of one clock: each once, unless it was deleted since it was set. */
  const fire = (domain: TimeDomain, upTo: number, out: Collector): void => {
    for (const { time, key } of heaps[domain].due(upTo)) {
      backend.setCurrentKey(key);
      const id = STATE_KEY(domain, time);
      if (!timers.contains(id)) continue;
      timers.remove(id);
      const timestamp = domain === 'event' ? time : undefined;
      emitAll(onTimer!(time, context(key, timestamp, out, domain)), out, 'an onTimer function', timestamp);
    }
  };

  return {
    process(record, out: Collector, _input, timestamp) {
      const key = keyOf(record);
      backend.setCurrentKey(key);
      emitAll(fn(record, context(key, timestamp, out)), out, 'a process function', timestamp);
    },
    onWatermark(next, out) {
      watermark = next;
      fire('event', next, out);
    },
    restoreState() {
      heaps.event.clear();
      heaps.processing.clear();
      for (const key of backend.keys(TIMERS)) {
        backend.setCurrentKey(key);
        for (const [domain, time] of timers.values()) heaps[domain].add({ time, key });
      }
      alarm.arm();
    },
  };
}

/**
 * A process function on a stream that is not keyed (Flink's ProcessFunction): `fn(value, ctx)`
 * with the record's time, the current watermark and processing time, and side outputs. Keyed
 * state and timers need a key, so they need keyBy first; the context says so if used.
 */
export function processLogic(fn: UserFn, clock: ProcessingTime): OperatorLogic {
  let watermark = Number.NEGATIVE_INFINITY;
  const needsKey = (what: string) => (): never => {
    throw new CloudflinkError('UDF_FAILED', `${what} needs a keyed stream: keyBy(...) before process(), as in Flink`);
  };
  const timerService: TimerService = {
    currentWatermark: () => watermark,
    currentProcessingTime: () => clock.now(),
    registerEventTimeTimer: needsKey('a timer'),
    registerProcessingTimeTimer: needsKey('a timer'),
    deleteEventTimeTimer: needsKey('a timer'),
    deleteProcessingTimeTimer: needsKey('a timer'),
  };
  return {
    process(record, out, _input, timestamp) {
      const context = {
        timestamp, timerService,
        get state(): never { return needsKey('keyed state (ctx.state)')(); },
        output: (tag: string, value: unknown) => sideOutput(out, tag, value, timestamp),
      };
      emitAll(fn(record, context), out, 'a process function', timestamp);
    },
    onWatermark(next) {
      watermark = next;
    },
  };
}
