/**
 * Window join and coGroup (Flink's JoinedStreams and CoGroupedStreams), as Flink builds them:
 * the records of both inputs, tagged with their side, go into one keyed window; when it fires,
 * `join(left, right)` runs for each pair of the key's left and right records in it (an inner
 * join), or `coGroup(lefts, rights, ctx)` once with both lists.
 */
import type { KeyedStateBackend } from '../../../lib/state/index.ts';
import type { CountTrigger, WindowAssigner } from '../../../lib/descriptor/types.ts';
import type { Collector, OperatorLogic, UserFn } from './types.ts';
import type { AlarmClock } from './timer-heap.ts';
import { iterableOf } from './emit.ts';
import { windowLogic, type TimeWindow } from './windows.ts';

export interface WindowJoinSettings {
  assigner: WindowAssigner;
  /** `join(left, right)` → one record per pair, or `coGroup(lefts, rights, ctx)` → an iterable. */
  fn: { join: UserFn } | { coGroup: UserFn };
  allowedLatenessMs: number;
  trigger?: CountTrigger;
}

/** A record in the shared window, with the input it came by. */
type Tagged = [side: 1 | 2, record: unknown];

export function windowJoinLogic(
  settings: WindowJoinSettings, keyOf: [(record: unknown) => unknown, (record: unknown) => unknown], backend: KeyedStateBackend, vertexName: string,
  clock?: AlarmClock<Collector>,
): OperatorLogic {
  const [leftKey, rightKey] = keyOf;
  const apply = (elements: Tagged[], ctx: { key: unknown; window: TimeWindow }): unknown[] => {
    const lefts: unknown[] = [];
    const rights: unknown[] = [];
    for (const [side, record] of elements) (side === 1 ? lefts : rights).push(record);
    if ('coGroup' in settings.fn) {
      return [...iterableOf(settings.fn.coGroup(lefts, rights, ctx), `the coGroup function of '${vertexName}'`)];
    }
    const joined: unknown[] = [];
    for (const left of lefts) for (const right of rights) joined.push(settings.fn.join(left, right));
    return joined;
  };
  const window = windowLogic(
    { assigner: settings.assigner, fn: { process: apply as UserFn }, allowedLatenessMs: settings.allowedLatenessMs, ...(settings.trigger ? { trigger: settings.trigger } : {}) },
    (tagged) => ((tagged as Tagged)[0] === 1 ? leftKey((tagged as Tagged)[1]) : rightKey((tagged as Tagged)[1])),
    backend, vertexName, clock,
  );
  return {
    process: (record, out, input, timestamp) => window.process!([input ?? 1, record], out, 1, timestamp),
    onWatermark: (watermark, out) => window.onWatermark!(watermark, out),
    restoreState: (states) => window.restoreState!(states),
  };
}
