/**
 * Windows beyond the event-time trigger: global windows with count triggers (Flink's
 * countWindow), count triggers and evictors on time windows, processing-time windows on a clock
 * the spec drives, and the built-in distinct / top-N / sort, each against a plain loop.
 */
import { expect } from 'chai';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { canonicalKey, subtaskForKey } from '../../../../lib/partition/index.ts';
import { KeyedStateBackend } from '../../../../lib/state/index.ts';
import type { CountEvictor, CountTrigger, FixedWindowAssigner, WindowAssigner } from '../../../../lib/descriptor/types.ts';
import { windowLogic, type WindowFunction, type WindowSettings } from '../../../../actors/operator/logic/windows.ts';
import { builtinWindowAggregate as builtinAggregate, type BuiltinWindowFunction } from '../../../../actors/operator/logic/window-functions.ts';
import type { AlarmClock } from '../../../../actors/operator/logic/timer-heap.ts';
import type { Collector, OperatorLogic } from '../../../../actors/operator/logic/types.ts';
import { prng } from '../../../helpers/random.ts';
import { fn, MAX_P, backend, viaWire } from '../../../helpers/logic.ts';
import { tumbling, sliding, startsByBruteForce } from '../../../helpers/windows.ts';

type Key = string | number | [string, number];
/** An input record: `ids` is [its id]; a reduced one holds the ids of every record reduced into it. `v` is a value to rank by. */
interface Rec { k: Key; t: number; v: number; ids: number[] }
type Event = { record: Rec } | { watermark: number };

interface Summary { key: Key; window: { start: number; end: number }; ids: number[] }

const reduceIds: WindowFunction = { reduce: fn((a: Rec, b: Rec): Rec => ({ k: a.k, t: Math.max(a.t, b.t), v: 0, ids: [...a.ids, ...b.ids] })) };
/** The accumulator keeps the time `add` got for each record, to check it is the record's. */
interface IdsAcc { k?: Key; ids: number[]; times: number[] }
const aggregateIds: WindowFunction = {
  aggregate: {
    create: fn((): IdsAcc => ({ ids: [], times: [] })),
    add: fn((acc: IdsAcc, r: Rec, time: number): IdsAcc => ({ k: r.k, ids: [...acc.ids, ...r.ids], times: [...acc.times, time] })),
    result: fn((acc: IdsAcc) => ({ k: acc.k, t: 0, v: 0, ids: acc.ids, times: acc.times })),
    merge: fn((a: IdsAcc, b: IdsAcc): IdsAcc => ({ k: a.k ?? b.k, ids: [...a.ids, ...b.ids], times: [...a.times, ...b.times] })),
  },
};
const processIds: WindowFunction = {
  process: fn((elements: Rec[], ctx: { key: Key; window: { start: number; end: number } }): Summary[] =>
    [{ key: ctx.key, window: ctx.window, ids: elements.flatMap((e) => e.ids) }]),
};
/** A built-in as the logic takes it (the operator's wiring does the same cast). */
const builtinWindowAggregate = (builtin: BuiltinWindowFunction, vertexName: string) => builtinAggregate(builtin, vertexName) as never;

const FUNCTIONS: [string, WindowFunction][] = [['reduce', reduceIds], ['aggregate', aggregateIds], ['process', processIds]];

const recKey = (record: unknown): unknown => (record as Rec).k;
const KEYS: Key[] = ['a', 'b', 7, ['x', 1], '日本'];

/** What the logic emitted, each with the timestamp it carries and the call (record, watermark, alarm) that emitted it. */
class Capture implements Collector {
  readonly main: { record: unknown; timestamp: number | undefined; call: number }[] = [];
  readonly late: { tag: string; record: unknown }[] = [];
  call = 0;

  emit(record: unknown, timestamp?: number): void {
    this.main.push({ record, timestamp, call: this.call });
  }

  emitTo(tag: string, record: unknown): void {
    this.late.push({ tag, record });
  }
}

const windowId = (key: unknown, last: number | undefined): string => `${canonicalKey(key)}@${last ?? 'global'}`;

/**
 * The firings of each window, in order, as the ids each saw: a window is its key and the
 * timestamp its results carry (end - 1, none for a global window); what one call emitted for a
 * window is one firing (a built-in emits several records for one).
 */
function firings(out: Capture, key: (record: unknown) => unknown = recKey, sortIds = false): Map<string, number[][]> {
  const byWindow = new Map<string, number[][]>();
  const open = new Map<string, { call: number; ids: number[] }>();
  for (const { record, timestamp, call } of out.main) {
    let id: string;
    let ids: number[];
    if ('window' in (record as object)) {
      const summary = record as Summary;
      if (timestamp !== undefined) expect(timestamp, 'a result carries the timestamp end - 1').to.equal(summary.window.end - 1);
      id = windowId(summary.key, timestamp);
      ids = summary.ids;
    } else {
      id = windowId(key(record), timestamp);
      ids = (record as Rec).ids;
    }
    const current = open.get(id);
    if (current?.call === call) {
      current.ids.push(...ids);
      continue;
    }
    const firing = { call, ids: [...ids] };
    open.set(id, firing);
    byWindow.set(id, [...byWindow.get(id) ?? [], firing.ids]);
  }
  if (sortIds) for (const list of byWindow.values()) for (const ids of list) ids.sort((a, b) => a - b);
  return byWindow;
}

const sorted = <T>(map: Map<string, T>): [string, T][] => [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
const lateIds = (out: Capture): number[] => out.late.map(({ record }) => (record as Rec).ids[0]!);

/**
 * A stream in event time: records mostly within `disorder` of the time so far, some far behind
 * (late); watermarks now and then, behind the stream and now and then ahead of it. Ends with
 * the end of input (Infinity).
 */
function stream(random: () => number, count: number, disorder = 40, keys = KEYS.length): Event[] {
  let now = Math.floor((random() - 0.5) * 2000);
  let watermark = Number.NEGATIVE_INFINITY;
  const events: Event[] = [];
  for (let id = 0; id < count; id++) {
    now += Math.floor(random() * 8);
    const t = random() < 0.12 ? now - Math.floor(random() * 700) : now - Math.floor(random() * (disorder + 1));
    events.push({ record: { k: KEYS[Math.floor(random() * keys)]!, t, v: Math.floor(random() * 10), ids: [id] } });
    const roll = random();
    const next = roll < 0.01 ? now + Math.floor(random() * 150) : roll < 0.15 ? now - disorder - Math.floor(random() * 60) : watermark;
    if (next > watermark) events.push({ watermark: (watermark = next) });
  }
  events.push({ watermark: Number.POSITIVE_INFINITY });
  return events;
}

/** Feeds events to one subtask, a call at a time. */
function drive(logic: OperatorLogic, events: Event[], out: Capture, withTimestamps = true): void {
  for (const event of events) {
    out.call++;
    if ('record' in event) logic.process!(event.record, out, 1, withTimestamps ? event.record.t : undefined);
    else logic.onWatermark!(event.watermark, out);
  }
}

/**
 * Runs the events at `parallelism` subtasks (records by key, watermarks to all); at `cut`, takes
 * a snapshot of every subtask through msgpack and goes on in new instances restored from it, at
 * `rescaleTo` subtasks, the last watermark given again (it is not state).
 */
function run(
  make: (state: KeyedStateBackend) => OperatorLogic, events: Event[],
  options: { parallelism?: number; cut?: number; rescaleTo?: number; withTimestamps?: boolean; key?: (record: unknown) => unknown } = {},
): { out: Capture; states: KeyedStateBackend[] } {
  const out = new Capture();
  const key = options.key ?? recKey;
  const runAt = (logics: OperatorLogic[], part: Event[]): void => {
    for (const event of part) {
      if ('watermark' in event) for (const logic of logics) drive(logic, [event], out);
      else drive(logics[subtaskForKey(canonicalKey(key(event.record)), MAX_P, logics.length)]!, [event], out, options.withTimestamps ?? true);
    }
  };
  const p = options.parallelism ?? 1;
  let states = Array.from({ length: p }, (_, i) => backend(i, p));
  const cut = options.cut ?? events.length;
  runAt(states.map(make), events.slice(0, cut));
  if (cut < events.length) {
    const snapshots = states.map((state) => viaWire(state.snapshot()));
    const to = options.rescaleTo ?? p;
    states = Array.from({ length: to }, (_, i) => backend(i, to));
    const logics = states.map((state) => {
      state.restore(snapshots);
      const logic = make(state);
      logic.restoreState!(snapshots.map(() => undefined));
      return logic;
    });
    const passed = events.slice(0, cut).filter((e): e is { watermark: number } => 'watermark' in e).at(-1);
    runAt(logics, [...(passed ? [passed] : []), ...events.slice(cut)]);
  }
  return { out, states };
}

/** The windows held as state, over all subtasks: key@(end - 1), from the logic's map state. */
function windowsHeld(states: KeyedStateBackend[], size: number): string[] {
  const held: string[] = [];
  for (const state of states) {
    const windows = state.store.map<number, unknown>('window');
    for (const key of state.keys('window')) {
      state.setCurrentKey(key);
      for (const start of windows.keys()) held.push(windowId(key, start + size - 1));
    }
  }
  return held.sort();
}

const settingsOf = (assigner: WindowAssigner, windowFn: WindowFunction, extra: Partial<WindowSettings> = {}): WindowSettings =>
  ({ assigner, fn: windowFn, allowedLatenessMs: 0, ...extra });

const PLANS = [
  { name: 'at parallelism 1', parallelism: 1 },
  { name: 'at parallelism 4', parallelism: 4 },
  { name: 'restored from a snapshot mid-stream', parallelism: 1, cut: 0.4 },
  { name: 'at parallelism 4, rescaled to 3 through a snapshot mid-stream', parallelism: 4, cut: 0.55, rescaleTo: 3 },
];
const planOf = (plan: typeof PLANS[number], events: Event[]) =>
  ({ parallelism: plan.parallelism, ...(plan.cut ? { cut: Math.floor(plan.cut * events.length) } : {}), ...(plan.rescaleTo ? { rescaleTo: plan.rescaleTo } : {}) });

describe('windowLogic with global windows and count triggers (countWindow)', () => {
  const global: WindowAssigner = { type: 'global' };

  /**
   * Flink's countWindow: one window per key, never ending, that fires each time `every` records
   * came since it last fired, over its last `keep` records (all of them without an evictor);
   * purging empties it as it fires. Watermarks and lateness mean nothing to it.
   */
  function countReference(events: Event[], every: number, purge: boolean, keep?: number): Map<string, number[][]> {
    const windows = new Map<string, { ids: number[]; count: number }>();
    const fired = new Map<string, number[][]>();
    for (const event of events) {
      if (!('record' in event)) continue;
      const id = windowId(event.record.k, undefined);
      const window = windows.get(id) ?? { ids: [], count: 0 };
      windows.set(id, window);
      window.ids.push(event.record.ids[0]!);
      if (++window.count < every) continue;
      fired.set(id, [...fired.get(id) ?? [], keep === undefined ? [...window.ids] : window.ids.slice(-keep)]);
      window.count = 0;
      if (purge) window.ids = [];
    }
    return fired;
  }

  it('countWindow(3) fires every third record of a key with those three, ignores watermarks, and never fires the rest', () => {
    const state = backend();
    const logic = windowLogic(settingsOf(global, reduceIds, { trigger: { type: 'count', count: 3, purge: true } }), recKey, state, 'w');
    const out = new Capture();
    const rec = (k: Key, t: number, id: number): Event => ({ record: { k, t, v: 0, ids: [id] } });
    drive(logic, [rec('a', 50, 1), rec('b', 1, 2), { watermark: 1000 }, rec('a', 10, 3), rec('a', 5, 4), rec('a', 7, 5), rec('b', 2, 6)], out);
    expect(out.main.map(({ record, timestamp }) => ({ ids: (record as Rec).ids, timestamp }))).to.deep.equal([{ ids: [1, 3, 4], timestamp: undefined }]);
    drive(logic, [rec('a', 3, 7), rec('a', 2, 8), { watermark: Number.POSITIVE_INFINITY }], out);
    expect(out.main.map(({ record }) => (record as Rec).ids)).to.deep.equal([[1, 3, 4], [5, 7, 8]]);
    // What did not make a count stays, as in Flink (countWindow drops it at the end of input); a purged window stays too, emptied.
    expect(state.size, 'a global window per key').to.equal(2);
  });

  it('takes records without a timestamp (a global window needs no event time)', () => {
    const logic = windowLogic(settingsOf(global, processIds, { trigger: { type: 'count', count: 2 } }), recKey, backend(), 'w');
    const out = new Capture();
    drive(logic, [{ record: { k: 'a', t: 0, v: 0, ids: [1] } }, { record: { k: 'a', t: 0, v: 0, ids: [2] } }], out, false);
    expect(out.main).to.deep.equal([{ record: { key: 'a', window: { start: Number.NEGATIVE_INFINITY, end: Number.POSITIVE_INFINITY }, ids: [1, 2] }, timestamp: undefined, call: 2 }]);
  });

  for (const size of [1, 3, 7]) {
    for (const [name, windowFn] of FUNCTIONS) {
      for (const plan of PLANS) {
        it(`countWindow(${size}) fires as the reference on random keys (${name}, ${plan.name})`, () => {
          for (const seed of [1, 2, 3]) {
            const events = stream(prng(seed * 13 + size), 800);
            const { out } = run((state) => windowLogic(settingsOf(global, windowFn, { trigger: { type: 'count', count: size, purge: true } }), recKey, state, 'w'),
              events, { ...planOf(plan, events), withTimestamps: seed !== 2 });
            expect(sorted(firings(out)), `seed ${seed}`).to.deep.equal(sorted(countReference(events, size, true)));
          }
        });
      }
    }
  }

  for (const [size, slide] of [[5, 2], [3, 3], [2, 5], [10, 1]] as const) {
    for (const [name, windowFn] of FUNCTIONS) {
      for (const plan of PLANS) {
        it(`countWindow(${size}, ${slide}) (a count evictor and a count trigger) fires the last ${size} records every ${slide} (${name}, ${plan.name})`, () => {
          for (const seed of [4, 5]) {
            const events = stream(prng(seed * 7 + size * 3 + slide), 800);
            const settings = settingsOf(global, windowFn, { trigger: { type: 'count', count: slide }, evictor: { type: 'count', count: size } });
            const { out } = run((state) => windowLogic(settings, recKey, state, 'w'), events, planOf(plan, events));
            expect(sorted(firings(out)), `seed ${seed}`).to.deep.equal(sorted(countReference(events, slide, false, size)));
          }
        });
      }
    }
  }

  it('a non-purging count trigger without an evictor fires everything so far, each time', () => {
    const events = stream(prng(99), 500);
    const { out } = run((state) => windowLogic(settingsOf(global, processIds, { trigger: { type: 'count', count: 4 } }), recKey, state, 'w'), events);
    expect(sorted(firings(out))).to.deep.equal(sorted(countReference(events, 4, false)));
  });
});

interface TimeSpec { assigner: FixedWindowAssigner; lateness: number; lateTag?: string; trigger?: CountTrigger; evictor?: CountEvictor }

/**
 * Flink's WindowOperator on fixed windows, as a plain loop. A record joins every window of its
 * time not past its cleanup (end - 1 + lateness ≤ watermark). With the event-time trigger, a
 * window fires when the watermark reaches end - 1, and at once for a record joining it after;
 * with a count trigger, it fires only when `count` records came since it last fired (purging:
 * and empties). A window goes at its cleanup. An evictor keeps the last records. Returns the
 * records each firing saw, the late records, and the windows held after each watermark.
 */
function timeReference(events: Event[], spec: TimeSpec): { firings: Map<string, Rec[][]>; late: number[]; live: Map<number, string[]> } {
  const { assigner, lateness, lateTag, trigger, evictor } = spec;
  const size = assigner.sizeMs;
  let watermark = Number.NEGATIVE_INFINITY;
  const windows = new Map<string, { last: number; records: Rec[]; count: number; fired: boolean }>();
  const fired = new Map<string, Rec[][]>();
  const late: number[] = [];
  const live = new Map<number, string[]>();
  const fire = (id: string): void => {
    const window = windows.get(id)!;
    window.fired = true;
    fired.set(id, [...fired.get(id) ?? [], evictor ? window.records.slice(-evictor.count) : [...window.records]]);
  };
  events.forEach((event, index) => {
    if ('record' in event) {
      const record = event.record;
      let joined = false;
      for (const start of startsByBruteForce(assigner, record.t)) {
        const last = start + size - 1;
        if (last + lateness <= watermark) continue;
        joined = true;
        const id = windowId(record.k, last);
        if (!windows.has(id)) windows.set(id, { last, records: [], count: 0, fired: false });
        const window = windows.get(id)!;
        window.records.push(record);
        if (trigger) {
          if (++window.count < trigger.count) continue;
          fire(id);
          window.count = 0;
          // Purged, the window stays (empty) until its cleanup, as Flink's FIRE_AND_PURGE.
          if (trigger.purge) window.records = [];
        } else if (last <= watermark) fire(id);
      }
      if (!joined && lateTag !== undefined && record.t + lateness <= watermark) late.push(record.ids[0]!);
      return;
    }
    watermark = event.watermark;
    for (const [id, window] of windows) {
      if (!trigger && !window.fired && window.last <= watermark) fire(id);
      if (window.last + lateness <= watermark) windows.delete(id);
    }
    live.set(index, [...windows.keys()].sort());
  });
  return { firings: fired, late, live };
}

const idsOf = (map: Map<string, Rec[][]>): Map<string, number[][]> =>
  new Map([...map].map(([id, list]) => [id, list.map((records) => records.map((r) => r.ids[0]!))]));

describe('windowLogic with count triggers on event-time windows', () => {
  it('fires a tumbling window every second record, not at its end, and drops it at end - 1 + lateness', () => {
    const state = backend();
    const logic = windowLogic(settingsOf(tumbling(10), processIds, { trigger: { type: 'count', count: 2 }, allowedLatenessMs: 5, lateTag: 'late' }), recKey, state, 'w');
    const out = new Capture();
    const rec = (t: number, id: number): Event => ({ record: { k: 'a', t, v: 0, ids: [id] } });
    drive(logic, [rec(1, 1), { watermark: 9 }, { watermark: 12 }], out);
    expect(out.main, 'one record: no firing, at the end or after').to.deep.equal([]);
    drive(logic, [rec(2, 2), rec(3, 3), rec(4, 4)], out);
    expect(firings(out)).to.deep.equal(new Map([[windowId('a', 9), [[1, 2], [1, 2, 3, 4]]]]));
    drive(logic, [{ watermark: 14 }, rec(5, 5), rec(6, 6)], out);
    expect(state.size, 'gone at 9 + 5').to.equal(0);
    expect(lateIds(out)).to.deep.equal([5, 6]);
    expect(out.main.map((e) => e.timestamp)).to.deep.equal([9, 9]);
  });

  const SPECS: TimeSpec[] = [
    { assigner: tumbling(100), lateness: 0, lateTag: 'late', trigger: { type: 'count', count: 3 } },
    { assigner: tumbling(100), lateness: 80, lateTag: 'late', trigger: { type: 'count', count: 2, purge: true } },
    { assigner: tumbling(50, 20), lateness: 200, trigger: { type: 'count', count: 1 } },
    { assigner: sliding(100, 30), lateness: 40, lateTag: 'late', trigger: { type: 'count', count: 4 } },
    { assigner: sliding(60, 20), lateness: 0, trigger: { type: 'count', count: 3, purge: true } },
  ];
  for (const spec of SPECS) {
    const what = `${spec.assigner.type} ${spec.assigner.sizeMs}, lateness ${spec.lateness}, every ${spec.trigger!.count}${spec.trigger!.purge ? ', purging' : ''}`;
    for (const [name, windowFn] of FUNCTIONS) {
      for (const plan of PLANS) {
        it(`fires as the reference on random out-of-order and late records (${what}, ${name}, ${plan.name})`, () => {
          for (const seed of [1, 2]) {
            const events = stream(prng(seed * 101 + spec.assigner.sizeMs + spec.trigger!.count), 1000);
            const expected = timeReference(events, spec);
            const { out, states } = run((state) => windowLogic(settingsOf(spec.assigner, windowFn, {
              allowedLatenessMs: spec.lateness, trigger: spec.trigger!, ...(spec.lateTag ? { lateTag: spec.lateTag } : {}),
            }), recKey, state, 'w'), events, planOf(plan, events));
            expect(sorted(firings(out)), `seed ${seed}`).to.deep.equal(sorted(idsOf(expected.firings)));
            expect(lateIds(out).sort((a, b) => a - b), `seed ${seed}: the late output`).to.deep.equal([...expected.late].sort((a, b) => a - b));
            expect(states.reduce((n, s) => n + s.size, 0), 'nothing held after the end of input').to.equal(0);
            expect(expected.firings.size, 'windows fired').to.be.greaterThan(20);
            if (spec.lateTag) expect(expected.late.length, 'records too late').to.be.greaterThan(0);
            if (name === 'aggregate') {
              for (const { record } of out.main) {
                const { ids, times } = record as { ids: number[]; times: number[] };
                expect(times, 'add gets each record\'s timestamp').to.deep.equal(ids.map((id) => (events.find((e) => 'record' in e && e.record.ids[0] === id) as { record: Rec }).record.t));
              }
            }
          }
        });
      }
    }

    it(`holds a window until end - 1 + lateness passes, no longer (${what})`, () => {
      const events = stream(prng(spec.assigner.sizeMs + 3), 1000);
      const expected = timeReference(events, spec);
      const state = backend();
      const logic = windowLogic(settingsOf(spec.assigner, processIds, { allowedLatenessMs: spec.lateness, trigger: spec.trigger! }), recKey, state, 'w');
      const out = new Capture();
      events.forEach((event, index) => {
        drive(logic, [event], out);
        const live = expected.live.get(index);
        if (live) expect(windowsHeld([state], spec.assigner.sizeMs), `after event ${index}`).to.deep.equal(live);
      });
      expect(expected.live.size).to.be.greaterThan(50);
    });
  }

  /**
   * Sessions with a count trigger (Flink's CountTrigger merges the counts of the windows a
   * record joins): a record's [t, t + gap) merges with the key's windows it touches; the merged
   * window is late as a whole; it fires when its count reaches n, then counts from 0.
   */
  function sessionCountReference(events: Event[], gapMs: number, lateness: number, every: number): { firings: string[]; late: number[] } {
    let watermark = Number.NEGATIVE_INFINITY;
    const windows = new Map<string, { start: number; end: number; ids: number[]; count: number }[]>();
    const fired: string[] = [];
    const late: number[] = [];
    for (const event of events) {
      if ('record' in event) {
        const { k, t, ids } = event.record;
        const mine = windows.get(canonicalKey(k)) ?? [];
        const touching = mine.filter((w) => w.start <= t + gapMs && w.end >= t);
        const merged = {
          start: Math.min(t, ...touching.map((w) => w.start)), end: Math.max(t + gapMs, ...touching.map((w) => w.end)),
          ids: [...touching.flatMap((w) => w.ids), ...ids], count: touching.reduce((n, w) => n + w.count, 0) + 1,
        };
        if (merged.end - 1 + lateness <= watermark) {
          if (t + lateness <= watermark) late.push(ids[0]!);
          continue;
        }
        windows.set(canonicalKey(k), [...mine.filter((w) => !touching.includes(w)), merged]);
        if (merged.count >= every) {
          fired.push(`${windowId(k, merged.end - 1)}|${[...merged.ids].sort((a, b) => a - b).join(',')}`);
          merged.count = 0;
        }
        continue;
      }
      watermark = event.watermark;
      for (const [key, mine] of windows) windows.set(key, mine.filter((w) => w.end - 1 + lateness > watermark));
    }
    return { firings: fired.sort(), late };
  }

  it('on sessions, a purging count trigger empties the session but keeps it (as Flink\'s MergingWindowSet), so later records merge into its extent', () => {
    // Flink: FIRE_AND_PURGE clears the window's contents only; the session [0, 18) stays until its cleanup, and [3, 13) and [1, 11) merge into it.
    const logic = windowLogic(settingsOf({ type: 'session', gapMs: 10 }, processIds, { allowedLatenessMs: 100, trigger: { type: 'count', count: 2, purge: true } }), recKey, backend(), 'w');
    const out = new Capture();
    const rec = (t: number, id: number): Event => ({ record: { k: 'a', t, v: 0, ids: [id] } });
    drive(logic, [rec(8, 1), rec(0, 2), rec(3, 3), rec(1, 4)], out);
    expect(out.main.map(({ record, timestamp }) => [(record as Summary).window, [...(record as Summary).ids].sort(), timestamp])).to.deep.equal([
      [{ start: 0, end: 18 }, [1, 2], 17],
      [{ start: 0, end: 18 }, [3, 4], 17],
    ]);
  });

  const sessionFirings = (out: Capture): string[] =>
    [...firings(out, recKey, true)].flatMap(([id, list]) => list.map((ids) => `${id}|${ids.join(',')}`)).sort();

  for (const [gapMs, lateness, every] of [[10, 0, 3], [30, 50, 2], [15, 20, 5]] as const) {
    for (const [name, windowFn] of FUNCTIONS) {
      for (const plan of PLANS.slice(0, 3)) {
        it(`on sessions, fires when the merged count reaches n (gap ${gapMs}, lateness ${lateness}, every ${every}, ${name}, ${plan.name})`, () => {
          for (const seed of [1, 2, 3]) {
            const events = stream(prng(seed * 5 + gapMs), 1000, 30, 3);
            const expected = sessionCountReference(events, gapMs, lateness, every);
            const { out, states } = run((state) => windowLogic(settingsOf({ type: 'session', gapMs }, windowFn, {
              allowedLatenessMs: lateness, trigger: { type: 'count', count: every }, lateTag: 'late',
            }), recKey, state, 'w'), events, planOf(plan, events));
            expect(sessionFirings(out), `seed ${seed}`).to.deep.equal(expected.firings);
            expect(lateIds(out).sort((a, b) => a - b), `seed ${seed}: late`).to.deep.equal([...expected.late].sort((a, b) => a - b));
            expect(states.reduce((n, s) => n + s.size, 0)).to.equal(0);
            expect(expected.firings.length).to.be.greaterThan(30);
          }
        });
      }
    }
  }
});

describe('windowLogic with count evictors on event-time windows', () => {
  const SPECS: TimeSpec[] = [
    { assigner: tumbling(100), lateness: 0, lateTag: 'late', evictor: { type: 'count', count: 2 } },
    { assigner: tumbling(100), lateness: 60, lateTag: 'late', evictor: { type: 'count', count: 5 } },
    { assigner: sliding(100, 25), lateness: 30, evictor: { type: 'count', count: 3 } },
    { assigner: tumbling(40), lateness: 100, evictor: { type: 'count', count: 1 } },
  ];

  it('runs the function over the last n records of the window when it fires, and again with a late record', () => {
    const logic = windowLogic(settingsOf(tumbling(10), reduceIds, { evictor: { type: 'count', count: 2 }, allowedLatenessMs: 10 }), recKey, backend(), 'w');
    const out = new Capture();
    const rec = (t: number, id: number): Event => ({ record: { k: 'a', t, v: 0, ids: [id] } });
    drive(logic, [rec(5, 1), rec(1, 2), rec(8, 3), { watermark: 9 }, rec(0, 4), { watermark: Number.POSITIVE_INFINITY }], out);
    expect(out.main.map(({ record, timestamp }) => [(record as Rec).ids, timestamp])).to.deep.equal([[[2, 3], 9], [[3, 4], 9]]);
  });

  for (const spec of SPECS) {
    const what = `${spec.assigner.type} ${spec.assigner.sizeMs}, lateness ${spec.lateness}, keeping ${spec.evictor!.count}`;
    for (const [name, windowFn] of FUNCTIONS) {
      for (const plan of PLANS) {
        it(`fires the last records of each window as the reference (${what}, ${name}, ${plan.name})`, () => {
          for (const seed of [1, 2]) {
            const events = stream(prng(seed * 11 + spec.assigner.sizeMs + spec.evictor!.count), 1000);
            const expected = timeReference(events, spec);
            const { out, states } = run((state) => windowLogic(settingsOf(spec.assigner, windowFn, {
              allowedLatenessMs: spec.lateness, evictor: spec.evictor!, ...(spec.lateTag ? { lateTag: spec.lateTag } : {}),
            }), recKey, state, 'w'), events, planOf(plan, events));
            expect(sorted(firings(out)), `seed ${seed}`).to.deep.equal(sorted(idsOf(expected.firings)));
            expect(lateIds(out).sort((a, b) => a - b)).to.deep.equal([...expected.late].sort((a, b) => a - b));
            expect(states.reduce((n, s) => n + s.size, 0)).to.equal(0);
            if (name === 'aggregate') {
              for (const { record } of out.main) {
                const { ids, times } = record as { ids: number[]; times: number[] };
                expect(times, 'add gets each record\'s timestamp').to.deep.equal(ids.map((id) => (events.find((e) => 'record' in e && e.record.ids[0] === id) as { record: Rec }).record.t));
              }
            }
            if (spec.lateness > 0) expect([...expected.firings.values()].some((f) => f.length > 1), 'windows fired again').to.equal(true);
          }
        });
      }
    }
  }
});

/**
 * A clock the spec moves: `advance(to)` runs the callbacks due by `to`, earliest first, the clock
 * reading each one's time as it runs (a callback set for a time already past runs at the next advance).
 */
class ManualClock implements AlarmClock<Collector> {
  private pending: { time: number; seq: number; callback: (out: Collector) => void }[] = [];
  private seq = 0;

  constructor(private time: number, private readonly out: Capture) {}

  now(): number {
    return this.time;
  }

  at(time: number, callback: (out: Collector) => void): void {
    this.pending.push({ time, seq: this.seq++, callback });
  }

  get waiting(): number {
    return this.pending.length;
  }

  advance(to: number): void {
    for (;;) {
      const due = this.pending.filter((p) => p.time <= to).sort((a, b) => a.time - b.time || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.pending.splice(this.pending.indexOf(due), 1);
      this.time = Math.max(this.time, due.time);
      this.out.call++;
      due.callback(this.out);
    }
    this.time = Math.max(this.time, to);
  }
}

type ProcEvent = { record: Rec } | { advance: number } | { watermark: number };

describe('windowLogic with processing-time windows', () => {
  const proc = (assigner: WindowAssigner): WindowAssigner => ({ ...assigner, time: 'processing' } as WindowAssigner);

  /**
   * Records arrive at the clock's time, with event times that mean nothing here; the clock moves
   * on in small steps; watermarks come too (they must change nothing).
   */
  function procStream(random: () => number, count: number, start: number): ProcEvent[] {
    let now = start;
    const events: ProcEvent[] = [];
    for (let id = 0; id < count; id++) {
      events.push({ record: { k: KEYS[Math.floor(random() * 3)]!, t: Math.floor(random() * 100_000), v: 0, ids: [id] } });
      const roll = random();
      if (roll < 0.4) events.push({ advance: (now += Math.floor(random() * (roll < 0.02 ? 300 : 12))) });
      else if (roll < 0.45) events.push({ watermark: now + 1_000_000 });
    }
    return events;
  }

  /**
   * Flink's processing-time windows: a record joins the windows of the clock's time when it
   * arrives (a session: [now, now + gap), merged with those it touches); each fires and goes
   * once the clock has passed its end - 1 (it is at end); the end of input fires the rest.
   */
  function procReference(events: ProcEvent[], assigner: WindowAssigner, start: number): Map<string, number[][]> {
    let now = start;
    const windows: { key: Key; start: number; end: number; ids: number[] }[] = [];
    const fired = new Map<string, number[][]>();
    const fire = (w: { key: Key; end: number; ids: number[] }): void => {
      const id = windowId(w.key, w.end - 1);
      fired.set(id, [...fired.get(id) ?? [], [...w.ids].sort((a, b) => a - b)]);
    };
    const fireUpTo = (time: number): void => {
      for (const w of windows.filter((w) => w.end <= time)) {
        fire(w);
        windows.splice(windows.indexOf(w), 1);
      }
    };
    for (const event of events) {
      if ('advance' in event) fireUpTo(now = event.advance);
      if (!('record' in event)) continue;
      const { k, ids } = event.record;
      const key = canonicalKey(k);
      if (assigner.type === 'session') {
        const touching = windows.filter((w) => canonicalKey(w.key) === key && w.start <= now + assigner.gapMs && w.end >= now);
        const merged = { key: k, start: Math.min(now, ...touching.map((w) => w.start)), end: Math.max(now + assigner.gapMs, ...touching.map((w) => w.end)), ids: [...touching.flatMap((w) => w.ids), ...ids] };
        for (const w of touching) windows.splice(windows.indexOf(w), 1);
        windows.push(merged);
        continue;
      }
      for (const s of startsByBruteForce(assigner as FixedWindowAssigner, now)) {
        const end = s + (assigner as FixedWindowAssigner).sizeMs;
        const window = windows.find((w) => canonicalKey(w.key) === key && w.start === s) ?? windows[windows.push({ key: k, start: s, end, ids: [] }) - 1]!;
        window.ids.push(...ids);
      }
    }
    fireUpTo(Number.POSITIVE_INFINITY);
    return fired;
  }

  /** Runs the events on a manual clock at `parallelism`; restores from a snapshot at `cut`, on a new clock at the same time. */
  function runProc(
    settings: WindowSettings, events: ProcEvent[], start: number, options: { parallelism?: number; cut?: number; restartAt?: number } = {},
  ): Capture {
    const out = new Capture();
    const p = options.parallelism ?? 1;
    let clock = new ManualClock(start, out);
    let states = Array.from({ length: p }, (_, i) => backend(i, p));
    let logics = states.map((state) => windowLogic(settings, recKey, state, 'w', clock));
    events.forEach((event, index) => {
      if (index === options.cut) {
        const snapshots = states.map((state) => viaWire(state.snapshot()));
        // The timers are not state: the new instances set them again, on the new clock.
        clock = new ManualClock(Math.max(clock.now(), options.restartAt ?? 0), out);
        states = Array.from({ length: p }, (_, i) => backend(i, p));
        logics = states.map((state) => {
          state.restore(snapshots);
          const logic = windowLogic(settings, recKey, state, 'w', clock);
          logic.restoreState!(snapshots.map(() => undefined));
          return logic;
        });
      }
      out.call++;
      if ('advance' in event) clock.advance(event.advance);
      else if ('watermark' in event) for (const logic of logics) logic.onWatermark!(event.watermark, out);
      else logics[subtaskForKey(canonicalKey(event.record.k), MAX_P, p)]!.process!(event.record, out, 1, event.record.t);
    });
    out.call++;
    for (const logic of logics) logic.onWatermark!(Number.POSITIVE_INFINITY, out);
    expect(states.reduce((n, s) => n + s.size, 0), 'nothing held after the end of input').to.equal(0);
    return out;
  }

  it('puts each record in the windows of the clock\'s time, whatever its timestamp, and fires each once the clock has passed its end - 1', () => {
    const out = new Capture();
    const clock = new ManualClock(1000, out);
    const state = backend();
    const logic = windowLogic(settingsOf(proc(sliding(10, 5)), reduceIds), recKey, state, 'w', clock);
    logic.process!({ k: 'a', t: 5, v: 0, ids: [1] }, out, 1, 5);
    clock.advance(1003);
    logic.process!({ k: 'a', t: 999_999, v: 0, ids: [2] }, out, 1, 999_999);
    logic.onWatermark!(2000, out);
    expect(out.main, 'no firing before the clock gets there, whatever the watermark').to.deep.equal([]);
    clock.advance(1004);
    expect(out.main, 'not in the window\'s last millisecond').to.deep.equal([]);
    clock.advance(1005);
    expect(out.main.map(({ record, timestamp }) => [(record as Rec).ids, timestamp])).to.deep.equal([[[1, 2], 1004]]);
    clock.advance(1008);
    logic.process!({ k: 'a', t: 0, v: 0, ids: [3] }, out, 1, undefined);
    clock.advance(1010);
    expect(out.main.map(({ record, timestamp }) => [(record as Rec).ids, timestamp])).to.deep.equal([[[1, 2], 1004], [[1, 2, 3], 1009]]);
    logic.onWatermark!(Number.POSITIVE_INFINITY, out);
    expect(out.main.map(({ record, timestamp }) => [(record as Rec).ids, timestamp]), 'the end of input fires [1005, 1015)').to.deep.equal([[[1, 2], 1004], [[1, 2, 3], 1009], [[3], 1014]]);
    expect(state.size).to.equal(0);
  });

  it('fires a window once, with the records of its last millisecond too: only when the clock has passed it', () => {
    const out = new Capture();
    const clock = new ManualClock(0, out);
    const logic = windowLogic(settingsOf(proc(tumbling(10)), reduceIds), recKey, backend(), 'w', clock);
    logic.process!({ k: 'a', t: 0, v: 0, ids: [1] }, out, 1, 0);
    clock.advance(9);
    logic.process!({ k: 'a', t: 0, v: 0, ids: [2] }, out, 1, 0);
    clock.advance(9);
    expect(out.main).to.deep.equal([]);
    clock.advance(10);
    expect(out.main.map(({ record, timestamp }) => [(record as Rec).ids, timestamp])).to.deep.equal([[[1, 2], 9]]);
  });

  it('keeps one clock callback pending however many windows wait', () => {
    const out = new Capture();
    const clock = new ManualClock(0, out);
    const logic = windowLogic(settingsOf(proc(tumbling(10)), reduceIds), recKey, backend(), 'w', clock);
    for (let i = 0; i < 200; i++) logic.process!({ k: i, t: 0, v: 0, ids: [i] }, out, 1, 0);
    expect(clock.waiting).to.equal(1);
    clock.advance(10);
    expect(out.main).to.have.length(200);
  });

  it('fails naming the window when it runs on processing time without a clock', () => {
    expect(() => windowLogic(settingsOf(proc(tumbling(10)), reduceIds), recKey, backend(), 'hourly')).to.throw(/window 'hourly' runs on processing time and needs the instance's clock/);
  });

  const ASSIGNERS: WindowAssigner[] = [tumbling(50), tumbling(10, 3), sliding(40, 10), sliding(10, 25), { type: 'session', gapMs: 15 }, { type: 'session', gapMs: 4 }];
  for (const assigner of ASSIGNERS) {
    const what = assigner.type === 'session' ? `session ${assigner.gapMs}` : assigner.type === 'sliding' ? `sliding ${assigner.sizeMs}/${assigner.slideMs}` : `tumbling ${(assigner as FixedWindowAssigner).sizeMs}${(assigner as FixedWindowAssigner).offsetMs ? `+${(assigner as FixedWindowAssigner).offsetMs}` : ''}`;
    for (const [name, windowFn] of FUNCTIONS) {
      for (const parallelism of [1, 4]) {
        it(`fires what the reference fires on a moving clock (${what}, ${name}, parallelism ${parallelism})`, () => {
          for (const seed of [1, 2, 3]) {
            const start = Math.floor(prng(seed)() * 10_000);
            const events = procStream(prng(seed * 3 + parallelism), 1000, start);
            const out = runProc(settingsOf(proc(assigner), windowFn, { allowedLatenessMs: 500 }), events, start, { parallelism });
            const expected = procReference(events, assigner, start);
            expect(sorted(firings(out, recKey, true)), `seed ${seed}`).to.deep.equal(sorted(expected));
            expect([...expected.values()].flat().flat().length, 'every record in some window').to.be.greaterThan(assigner.type === 'sliding' && assigner.slideMs > assigner.sizeMs ? 100 : 999);
          }
        });
      }

      it(`restored from a snapshot, sets the timers of the pending windows again and fires them (${what}, ${name})`, () => {
        const start = 5000;
        const events = procStream(prng(77), 1000, start);
        const expected = procReference(events, assigner, start);
        for (const cut of [1, 333, 700, events.length - 1]) {
          for (const parallelism of [1, 4]) {
            const out = runProc(settingsOf(proc(assigner), windowFn), events, start, { parallelism, cut });
            expect(sorted(firings(out, recKey, true)), `cut at ${cut}, parallelism ${parallelism}`).to.deep.equal(sorted(expected));
          }
        }
      });
    }
  }

  it('restored after a long stop, fires the overdue windows at the clock\'s first callback', () => {
    const first = backend();
    const before = new Capture();
    const clock = new ManualClock(100, before);
    const logic = windowLogic(settingsOf(proc(tumbling(10)), reduceIds), recKey, first, 'w', clock);
    logic.process!({ k: 'a', t: 0, v: 0, ids: [1] }, before, 1, 0);
    logic.process!({ k: 'b', t: 0, v: 0, ids: [2] }, before, 1, 0);
    const second = backend();
    second.restore([viaWire(first.snapshot())]);
    const after = new Capture();
    const later = new ManualClock(5000, after);
    const restored = windowLogic(settingsOf(proc(tumbling(10)), reduceIds), recKey, second, 'w', later);
    restored.restoreState!([undefined]);
    later.advance(5000);
    expect(after.main.map(({ record, timestamp }) => [(record as Rec).ids, timestamp]).sort()).to.deep.equal([[[1], 109], [[2], 109]]);
    expect(second.size).to.equal(0);
  });
});

describe('built-in window functions through windowLogic (distinct, topN, sort)', () => {
  const BUILTINS: [string, BuiltinWindowFunction, (records: Rec[]) => Rec[]][] = [
    ['distinct records', { distinct: true }, (records) => records],
    ['distinct by v', { distinct: { key: (r) => (r as Rec).v } }, (records) => records.filter((r, i) => records.findIndex((o) => o.v === r.v) === i)],
    ['top 3 by v, desc', { topN: { n: 3, by: (r) => (r as Rec).v, order: 'desc' } }, (records) => stableSort(records, (a, b) => b.v - a.v).slice(0, 3)],
    ['top 1 by v, asc', { topN: { n: 1, by: (r) => (r as Rec).v, order: 'asc' } }, (records) => stableSort(records, (a, b) => a.v - b.v).slice(0, 1)],
    ['sort by v, asc', { sort: { by: (r) => (r as Rec).v, order: 'asc' } }, (records) => stableSort(records, (a, b) => a.v - b.v)],
    ['sort by event time, asc', { sort: { order: 'asc' } }, (records) => stableSort(records, (a, b) => a.t - b.t)],
    ['sort by event time, desc', { sort: { order: 'desc' } }, (records) => stableSort(records, (a, b) => b.t - a.t)],
  ];

  /** Ties in arrival order, by a plain insertion sort. */
  function stableSort(records: Rec[], compare: (a: Rec, b: Rec) => number): Rec[] {
    const result: Rec[] = [];
    for (const record of records) {
      let i = result.length;
      while (i > 0 && compare(result[i - 1]!, record) > 0) i--;
      result.splice(i, 0, record);
    }
    return result;
  }

  it('emits each record of the result with the window\'s timestamp end - 1', () => {
    const logic = windowLogic(settingsOf(tumbling(10), { aggregate: builtinWindowAggregate({ sort: { order: 'desc' } }, 'w'), many: true }), recKey, backend(), 'w');
    const out = new Capture();
    drive(logic, [3, 7, 1, 12].map((t, i): Event => ({ record: { k: 'a', t, v: 0, ids: [i] } })), out);
    drive(logic, [{ watermark: Number.POSITIVE_INFINITY }], out);
    expect(out.main.map(({ record, timestamp }) => [(record as Rec).t, timestamp])).to.deep.equal([[7, 9], [3, 9], [1, 9], [12, 19]]);
  });

  const SPECS: TimeSpec[] = [
    { assigner: tumbling(100), lateness: 0, lateTag: 'late' },
    { assigner: tumbling(100), lateness: 60 },
    { assigner: sliding(100, 50), lateness: 30 },
  ];
  for (const [name, builtin, expectedOf] of BUILTINS) {
    for (const spec of SPECS) {
      const what = `${spec.assigner.type} ${spec.assigner.sizeMs}, lateness ${spec.lateness}`;
      for (const [keyed, key] of [['keyed', recKey], ['not keyed', () => 0]] as const) {
        it(`${name}: fires per window what the reference computes (${what}, ${keyed}, through a restore)`, () => {
          for (const seed of [1, 2]) {
            const random = prng(seed * 17 + spec.assigner.sizeMs);
            const events = stream(random, 600, 40, 2);
            const expected = timeReference(events.map((e) => ('record' in e ? { record: { ...e.record, k: key(e.record) as Key } } : e)), spec);
            const expectedIds = new Map([...expected.firings].map(([id, list]) => [id, list.map((records) => expectedOf(records).map((r) => r.ids[0]!))]));
            for (const plan of [{ parallelism: 1 }, { parallelism: keyed === 'keyed' ? 4 : 1, cut: Math.floor(events.length / 2) }]) {
              const { out } = run((state) => windowLogic(settingsOf(spec.assigner, { aggregate: builtinWindowAggregate(builtin, 'w'), many: true }, {
                allowedLatenessMs: spec.lateness, ...(spec.lateTag ? { lateTag: spec.lateTag } : {}),
              }), key, state, 'w'), events, { ...plan, key });
              expect(sorted(firings(out, key)), `seed ${seed}, ${JSON.stringify(plan)}`).to.deep.equal(sorted(expectedIds));
            }
          }
        });
      }
    }
  }

  it('fails as a user function failure when sorting a global window by event time a record without a timestamp', () => {
    // The global window hands add NaN for a missing time, so the message is the ranking one, not "came without a timestamp".
    const logic = windowLogic(settingsOf({ type: 'global' }, { aggregate: builtinWindowAggregate({ sort: { order: 'asc' } }, 'w'), many: true }, { trigger: { type: 'count', count: 2 } }), recKey, backend(), 'w');
    expect(() => logic.process!({ k: 'a' }, new Capture(), 1, undefined)).to.throw(CloudflinkError, /sortBy of window 'w'/).with.property('code', 'UDF_FAILED');
  });

  it('sorts a global count window by event time', () => {
    const logic = windowLogic(settingsOf({ type: 'global' }, { aggregate: builtinWindowAggregate({ sort: { order: 'asc' } }, 'w'), many: true }, { trigger: { type: 'count', count: 3, purge: true } }), recKey, backend(), 'w');
    const out = new Capture();
    drive(logic, [30, 10, 20, 5].map((t, i): Event => ({ record: { k: 'a', t, v: 0, ids: [i] } })), out);
    expect(out.main.map(({ record, timestamp }) => [(record as Rec).t, timestamp])).to.deep.equal([[10, undefined], [20, undefined], [30, undefined]]);
  });
});
