/**
 * Keyed interval join, as Flink's IntervalJoinOperator: a left record at t joins every right
 * record of its key with a timestamp in [t + lower, t + upper], and a right record at t every
 * left one in [t - upper, t - lower]; each pair goes to `fn(left, right, ctx)` and its results
 * carry the later of the two timestamps. A record behind the watermark (t < watermark) is late
 * and dropped. Each side waits in its buffer until no record still on time can join it: a left
 * record at t until the watermark reaches t + max(upper, 0), a right one until t - min(lower, 0).
 *
 * State, per key (checkpointed, moving with its key group): per side, timestamp → records. The
 * cleanup timers are not state: they are rebuilt from it on restore.
 */
import { CloudflinkError } from '../../../lib/errors/index.ts';
import type { KeyedStateBackend, MapState } from '../../../lib/state/index.ts';
import { TimerHeap } from './timer-heap.ts';
import { describe, emitAll, sideOutput } from './emit.ts';
import type { Collector, OperatorLogic, UserFn } from './types.ts';

export interface IntervalJoinSettings {
  lowerMs: number;
  upperMs: number;
  lowerExclusive?: boolean;
  upperExclusive?: boolean;
}

export interface IntervalJoinContext {
  key: unknown;
  leftTimestamp: number;
  rightTimestamp: number;
  /** The result's timestamp: the later of the two. */
  timestamp: number;
  output(tag: string, value: unknown): void;
}

type Side = 'left' | 'right';

interface Timer {
  time: number;
  key: unknown;
  side: Side;
  /** The bucket it clears: the records' timestamp. */
  at: number;
}

const LEFT = 'intervalJoin.left';
const RIGHT = 'intervalJoin.right';

export function intervalJoinLogic(
  settings: IntervalJoinSettings,
  fn: UserFn,
  keyOf: [(record: unknown) => unknown, (record: unknown) => unknown],
  backend: KeyedStateBackend,
  vertexName: string,
): OperatorLogic {
  const { lowerMs, upperMs } = settings;
  for (const [name, value] of [['lower', lowerMs], ['upper', upperMs]] as const) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `interval join '${vertexName}': the ${name} bound must be a whole number of milliseconds, not ${describe(value)}`);
    }
  }
  if (lowerMs > upperMs) {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `interval join '${vertexName}': the lower bound ${lowerMs} ms is above the upper bound ${upperMs} ms`);
  }
  // As Flink: exclusive bounds become inclusive ones a millisecond inside, so nothing below asks again.
  const lower = settings.lowerExclusive ? lowerMs + 1 : lowerMs;
  const upper = settings.upperExclusive ? upperMs - 1 : upperMs;
  if (lower > upper) {
    // Flink accepts it and joins nothing, buffering both sides all the same; that is never what was meant.
    throw new CloudflinkError('DESCRIPTOR_INVALID',
      `interval join '${vertexName}': the interval ${settings.lowerExclusive ? '(' : '['}${lowerMs}, ${upperMs}${settings.upperExclusive ? ')' : ']'} ms holds no timestamp, so nothing would ever join`);
  }

  const buffers: Record<Side, MapState<number, unknown[]>> = {
    left: backend.store.map<number, unknown[]>(LEFT),
    right: backend.store.map<number, unknown[]>(RIGHT),
  };
  const timers = new TimerHeap<Timer>();
  let watermark = Number.NEGATIVE_INFINITY;

  // Flink's rule: the last time a record of the other side still on time (t ≥ watermark) can join this bucket.
  const cleanupTime = (side: Side, at: number): number => (side === 'left' ? at + Math.max(upper, 0) : at - Math.min(lower, 0));

  const join = (key: unknown, left: unknown, leftTimestamp: number, right: unknown, rightTimestamp: number, out: Collector): void => {
    const timestamp = Math.max(leftTimestamp, rightTimestamp);
    const ctx: IntervalJoinContext = {
      key, leftTimestamp, rightTimestamp, timestamp,
      output: (tag, value) => sideOutput(out, tag, value, timestamp),
    };
    emitAll(fn(left, right, ctx), out, `the function of interval join '${vertexName}'`, timestamp);
  };

  return {
    process(record, out: Collector, input, timestamp) {
      if (timestamp === undefined || !Number.isFinite(timestamp)) {
        throw new CloudflinkError('UDF_FAILED',
          `interval join '${vertexName}' got a record without a timestamp: give its source event time (assignTimestampsAndWatermarks, or "watermarks" in the descriptor)`);
      }
      if (timestamp < watermark) return;
      const side: Side = input === 2 ? 'right' : 'left';
      const key = keyOf[side === 'left' ? 0 : 1](record);
      backend.setCurrentKey(key);
      const mine = buffers[side];
      const bucket = mine.get(timestamp);
      // In place: state is only read here, and a snapshot is encoded before the next record.
      if (bucket !== undefined) bucket.push(record);
      else {
        mine.put(timestamp, [record]);
        timers.add({ time: cleanupTime(side, timestamp), key, side, at: timestamp });
      }
      // The other side's timestamps that join this record.
      const from = side === 'left' ? timestamp + lower : timestamp - upper;
      const to = side === 'left' ? timestamp + upper : timestamp - lower;
      // This key's buffer only, as Flink: it holds no more than the records an on-time record can still join.
      for (const [at, others] of buffers[side === 'left' ? 'right' : 'left'].entries()) {
        if (at < from || at > to) continue;
        for (const other of others) {
          if (side === 'left') join(key, record, timestamp, other, at, out);
          else join(key, other, at, record, timestamp, out);
        }
      }
    },

    onWatermark(next) {
      watermark = next;
      for (const { key, side, at } of timers.due(next)) {
        backend.setCurrentKey(key);
        buffers[side].remove(at);
      }
    },

    restoreState() {
      // The timers follow from the buckets each restored key holds.
      timers.clear();
      for (const side of ['left', 'right'] as const) {
        for (const key of backend.keys(side === 'left' ? LEFT : RIGHT)) {
          backend.setCurrentKey(key);
          for (const at of buffers[side].keys()) timers.add({ time: cleanupTime(side, at), key, side, at });
        }
      }
    },
  };
}
