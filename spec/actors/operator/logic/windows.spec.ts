import { expect } from 'chai';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { canonicalKey, subtaskForKey } from '../../../../lib/partition/index.ts';
import { KeyedStateBackend } from '../../../../lib/state/index.ts';
import type { FixedWindowAssigner } from '../../../../lib/descriptor/types.ts';
import { windowLogic, windowStarts, type WindowFunction } from '../../../../actors/operator/logic/windows.ts';
import type { Collector, OperatorLogic } from '../../../../actors/operator/logic/types.ts';
import { prng } from '../../../helpers/random.ts';
import { fn, MAX_P, backend, viaWire } from '../../../helpers/logic.ts';
import { tumbling, sliding, startsByBruteForce } from '../../../helpers/windows.ts';

const label = (a: FixedWindowAssigner): string =>
  `${a.type} ${a.sizeMs}${a.type === 'sliding' ? `/${a.slideMs}` : ''}${a.offsetMs ? ` +${a.offsetMs}` : ''}`;

describe('windowStarts', () => {
  it('puts a timestamp in the one tumbling window that holds it, aligned to the epoch plus the offset', () => {
    expect(windowStarts(tumbling(100), 0)).to.deep.equal([0]);
    expect(windowStarts(tumbling(100), 99)).to.deep.equal([0]);
    expect(windowStarts(tumbling(100), 100)).to.deep.equal([100]);
    expect(windowStarts(tumbling(100), -1)).to.deep.equal([-100]);
    expect(windowStarts(tumbling(100), -100)).to.deep.equal([-100]);
    expect(windowStarts(tumbling(100), -101)).to.deep.equal([-200]);
    expect(windowStarts(tumbling(100, 30), 29)).to.deep.equal([-70]);
    expect(windowStarts(tumbling(100, 30), 30)).to.deep.equal([30]);
    expect(windowStarts(tumbling(1), -7)).to.deep.equal([-7]);
    expect(windowStarts(tumbling(60_000), 1_700_000_012_345)).to.deep.equal([1_699_999_980_000]);
  });

  it('puts a timestamp in size / slide sliding windows, latest start first', () => {
    expect(windowStarts(sliding(100, 25), 110)).to.deep.equal([100, 75, 50, 25]);
    expect(windowStarts(sliding(100, 25), -1)).to.deep.equal([-25, -50, -75, -100]);
    // 100 / 30 is not whole: 3 or 4 windows.
    expect(windowStarts(sliding(100, 30), 0)).to.deep.equal([0, -30, -60, -90]);
    expect(windowStarts(sliding(100, 30), 9)).to.deep.equal([0, -30, -60, -90]);
    expect(windowStarts(sliding(100, 30), 10)).to.deep.equal([0, -30, -60]);
    expect(windowStarts(sliding(100, 25, 10), 10)).to.deep.equal([10, -15, -40, -65]);
    // A slide longer than the size leaves gaps that no window covers.
    expect(windowStarts(sliding(50, 100), 49)).to.deep.equal([0]);
    expect(windowStarts(sliding(50, 100), 50)).to.deep.equal([]);
    expect(windowStarts(sliding(50, 100), -50)).to.deep.equal([]);
    expect(windowStarts(sliding(50, 100), -51)).to.deep.equal([-100]);
    expect(windowStarts(sliding(50, 100), -100)).to.deep.equal([-100]);
  });

  for (const seed of [1, 2, 3, 4, 5]) {
    it(`equals the brute-force definition for random assigners, offsets and timestamps, negative and far ones (seed ${seed})`, () => {
      const random = prng(seed);
      for (let round = 0; round < 200; round++) {
        const size = 1 + Math.floor(random() * 200);
        const kind = random();
        const assigner = kind < 0.3 ? tumbling(size, random() < 0.5 ? undefined : Math.floor(random() * 3 * size))
          : sliding(size, 1 + Math.floor(random() * (kind < 0.9 ? size : 3 * size)), random() < 0.5 ? undefined : Math.floor(random() * 400));
        for (let i = 0; i < 20; i++) {
          const t = random() < 0.8 ? Math.floor((random() - 0.5) * 20_000) : Math.floor((random() - 0.3) * 4e12);
          expect(windowStarts(assigner, t), `${label(assigner)}, t ${t}`).to.deep.equal(startsByBruteForce(assigner, t));
        }
      }
    });
  }
});

type Key = string | number | [string, number];
/** An input record: `ids` is [its id]; a reduced one holds the ids of every record reduced into it. */
interface Rec { k: Key; t: number; ids: number[] }
type Event = { record: Rec } | { watermark: number };

/** What process() emits: the window's key and bounds as the context gave them, and its records' ids. */
interface Summary { key: Key; window: { start: number; end: number }; ids: number[] }

const reduceIds: WindowFunction = { reduce: fn((a: Rec, b: Rec): Rec => ({ k: a.k, t: Math.max(a.t, b.t), ids: [...a.ids, ...b.ids] })) };
const processIds: WindowFunction = {
  process: fn((elements: Rec[], ctx: { key: Key; window: { start: number; end: number } }): Summary[] =>
    [{ key: ctx.key, window: ctx.window, ids: elements.flatMap((e) => e.ids) }]),
};
/** One accumulator per window: the key and the ids so far; the result reads like a reduced record. */
const aggregateIds: WindowFunction = {
  aggregate: {
    create: fn(() => ({ k: undefined, ids: [] })),
    add: fn((acc: { ids: number[] }, r: Rec) => ({ k: r.k, ids: [...acc.ids, ...r.ids] })),
    result: fn((acc: { k: Key; ids: number[] }): Rec => ({ k: acc.k, t: 0, ids: acc.ids })),
    merge: fn((a: { k: Key; ids: number[] }, b: { k: Key; ids: number[] }) => ({ k: a.k ?? b.k, ids: [...a.ids, ...b.ids] })),
  },
};
/** The same, as a generator: any iterable will do. */
const processIdsLazily: WindowFunction = {
  process: fn(function* (elements: Rec[], ctx: { key: Key; window: { start: number; end: number } }): Generator<Summary> {
    yield { key: ctx.key, window: ctx.window, ids: elements.flatMap((e) => e.ids) };
  }),
};

const keyOf = (record: unknown): unknown => (record as Rec).k;
const windowId = (key: unknown, start: number): string => `${canonicalKey(key)}@${start}`;

interface Settings { assigner: FixedWindowAssigner; lateness: number; lateTag?: string }

/** Records and side outputs as the logic emits them, and the timestamp of each. */
class Capture implements Collector {
  readonly main: { record: unknown; timestamp: number | undefined }[] = [];
  readonly late: { tag: string; record: unknown }[] = [];

  emit(record: unknown, timestamp?: number): void {
    this.main.push({ record, timestamp });
  }

  emitTo(tag: string, record: unknown): void {
    this.late.push({ tag, record });
  }
}

/** Feeds events; checks that what a watermark fires comes in the order of the windows' ends. */
function drive(logic: OperatorLogic, events: Event[], out: Capture): void {
  for (const event of events) {
    if ('record' in event) {
      logic.process!(event.record, out, 1, event.record.t);
      continue;
    }
    const from = out.main.length;
    logic.onWatermark!(event.watermark, out);
    const times = out.main.slice(from).map((e) => e.timestamp!);
    expect(times, `what watermark ${event.watermark} fired, in time order`).to.deep.equal([...times].sort((a, b) => a - b));
  }
}

/** The firings of each window, in order: the ids each firing saw. Checks each result's timestamp and context on the way. */
function firings(out: Capture, settings: Settings, process: boolean): Map<string, number[][]> {
  const size = settings.assigner.sizeMs;
  const byWindow = new Map<string, number[][]>();
  for (const { record, timestamp } of out.main) {
    expect(timestamp, 'every result carries a timestamp').to.be.a('number');
    let key: unknown;
    let start: number;
    let ids: number[];
    if (process) {
      const summary = record as Summary;
      expect(summary.window.end - summary.window.start, 'ctx.window spans the size').to.equal(size);
      expect(timestamp, 'a result carries the timestamp end - 1').to.equal(summary.window.end - 1);
      ({ key, ids } = summary);
      start = summary.window.start;
    } else {
      const reduced = record as Rec;
      ({ k: key, ids } = reduced);
      start = timestamp! - size + 1;
    }
    const id = windowId(key, start);
    byWindow.set(id, [...byWindow.get(id) ?? [], ids]);
  }
  return byWindow;
}

interface Expected {
  firings: Map<string, number[][]>;
  late: number[];
  /** The windows holding state after each watermark, by the index of its event. */
  live: Map<number, string[]>;
}

/**
 * Flink's WindowOperator with its EventTimeTrigger, as a plain loop: a record joins every
 * window it falls in that is not past its cleanup (end - 1 + lateness ≤ watermark); joining a
 * window whose end - 1 ≤ watermark fires it at once. A watermark fires each window not fired
 * yet whose end - 1 it reached, and drops those whose cleanup time it reached (at once, with no
 * lateness). A record that joined no window goes to the late output when it is late itself
 * (t + lateness ≤ watermark) and a tag is set; else it is dropped.
 */
function reference(events: Event[], settings: Settings): Expected {
  const { assigner, lateness, lateTag } = settings;
  const size = assigner.sizeMs;
  let watermark = Number.NEGATIVE_INFINITY;
  const windows = new Map<string, { start: number; ids: number[]; fired: boolean }>();
  const fired = new Map<string, number[][]>();
  const late: number[] = [];
  const live = new Map<number, string[]>();
  const fire = (id: string): void => {
    const window = windows.get(id)!;
    window.fired = true;
    fired.set(id, [...fired.get(id) ?? [], [...window.ids]]);
  };
  events.forEach((event, index) => {
    if ('record' in event) {
      const { k, t, ids } = event.record;
      let joined = false;
      for (const start of startsByBruteForce(assigner, t)) {
        if (start + size - 1 + lateness <= watermark) continue;
        joined = true;
        const id = windowId(k, start);
        if (!windows.has(id)) windows.set(id, { start, ids: [], fired: false });
        windows.get(id)!.ids.push(...ids);
        if (start + size - 1 <= watermark) fire(id);
      }
      if (!joined && t + lateness <= watermark && lateTag !== undefined) late.push(...ids);
      return;
    }
    watermark = event.watermark;
    for (const [id, window] of windows) {
      if (!window.fired && window.start + size - 1 <= watermark) fire(id);
      if (window.start + size - 1 + lateness <= watermark) windows.delete(id);
    }
    live.set(index, [...windows.keys()].sort());
  });
  return { firings: fired, late, live };
}

/** The windows the logic holds state for: (key, start) of each entry of its map state. */
function windowsHeld(state: KeyedStateBackend): string[] {
  const held: string[] = [];
  const windows = state.store.map<number, unknown>('window');
  for (const key of state.keys('window')) {
    state.setCurrentKey(key);
    for (const start of windows.keys()) held.push(windowId(key, start));
  }
  return held.sort();
}

const KEYS: Key[] = ['a', 'b', 7, ['x', 1], '日本'];

/**
 * A stream in event time: records mostly within `disorder` of the time so far, some far behind
 * (late); watermarks now and then, behind the stream, and now and then ahead of it (then many
 * records come late). Ends with the end of input (Infinity).
 */
function stream(random: () => number, count: number, disorder: number): Event[] {
  let now = Math.floor((random() - 0.5) * 2000);
  let watermark = Number.NEGATIVE_INFINITY;
  const events: Event[] = [];
  for (let id = 0; id < count; id++) {
    now += Math.floor(random() * 8);
    const t = random() < 0.12 ? now - Math.floor(random() * 700) : now - Math.floor(random() * (disorder + 1));
    events.push({ record: { k: KEYS[Math.floor(random() * KEYS.length)]!, t, ids: [id] } });
    const roll = random();
    const next = roll < 0.01 ? now + Math.floor(random() * 150) : roll < 0.15 ? now - disorder - Math.floor(random() * 60) : watermark;
    if (next > watermark) events.push({ watermark: (watermark = next) });
  }
  events.push({ watermark: Number.POSITIVE_INFINITY });
  return events;
}

const sorted = (map: Map<string, number[][]>): [string, number[][]][] => [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
const lateIds = (out: Capture): number[] => out.late.map(({ record }) => (record as Rec).ids[0]!);

const SETTINGS: Settings[] = [
  { assigner: tumbling(100), lateness: 0, lateTag: 'late' },
  { assigner: tumbling(100), lateness: 60, lateTag: 'late' },
  { assigner: tumbling(100, 30), lateness: 250 },
  { assigner: tumbling(1), lateness: 30, lateTag: 'late' },
  { assigner: sliding(100, 25), lateness: 0, lateTag: 'late' },
  { assigner: sliding(100, 30), lateness: 40, lateTag: 'late' },
  { assigner: sliding(90, 30, 10), lateness: 300, lateTag: 'too-late' },
];

const FUNCTIONS: [string, WindowFunction][] = [
  ['reduce', reduceIds], ['aggregate', aggregateIds], ['process', processIds], ['process (a generator)', processIdsLazily],
];

describe('windowLogic', () => {
  const settingsOf = (s: Settings, windowFn: WindowFunction) => ({ assigner: s.assigner, fn: windowFn, allowedLatenessMs: s.lateness, lateTag: s.lateTag });

  it('follows Flink on a worked example: firing at end - 1, late firings within the lateness, then the late output', () => {
    const state = backend();
    const logic = windowLogic(settingsOf({ assigner: tumbling(10), lateness: 5, lateTag: 'late' }, reduceIds), keyOf, state, 'w');
    const out = new Capture();
    const rec = (k: Key, t: number, id: number): Event => ({ record: { k, t, ids: [id] } });
    drive(logic, [rec('a', 1, 1), rec('a', 9, 2), rec('b', 5, 3), rec('a', 12, 4), { watermark: 8 }], out);
    expect(out.main, 'nothing before the watermark reaches 9').to.deep.equal([]);
    drive(logic, [{ watermark: 9 }], out);
    expect(out.main).to.deep.equal([
      { record: { k: 'a', t: 9, ids: [1, 2] }, timestamp: 9 },
      { record: { k: 'b', t: 5, ids: [3] }, timestamp: 9 },
    ]);
    out.main.length = 0;
    // Within the lateness (cleanup at 9 + 5 = 14): fires again at once, with everything so far.
    drive(logic, [rec('a', 3, 5), { watermark: 13 }, rec('b', 0, 6)], out);
    expect(out.main).to.deep.equal([
      { record: { k: 'a', t: 9, ids: [1, 2, 5] }, timestamp: 9 },
      { record: { k: 'b', t: 5, ids: [3, 6] }, timestamp: 9 },
    ]);
    out.main.length = 0;
    drive(logic, [{ watermark: 14 }, rec('a', 2, 7), rec('a', 10, 8)], out);
    expect(out.main, 'window [0, 10) is gone; [10, 20) has not fired').to.deep.equal([]);
    expect(out.late).to.deep.equal([{ tag: 'late', record: { k: 'a', t: 2, ids: [7] } }]);
    drive(logic, [{ watermark: Number.POSITIVE_INFINITY }], out);
    expect(out.main, 'end of input fires the rest').to.deep.equal([{ record: { k: 'a', t: 12, ids: [4, 8] }, timestamp: 19 }]);
    expect(state.size, 'and drops every window').to.equal(0);
  });

  it('reduces with fn(accumulated, record) in arrival order, starting from the first record itself', () => {
    const calls: unknown[][] = [];
    const logic = windowLogic({ assigner: tumbling(100), fn: { reduce: fn((a: string, b: string) => { calls.push([a, b]); return a + b; }) }, allowedLatenessMs: 0 },
      () => 'k', backend(), 'w');
    const out = new Capture();
    for (const [record, t] of [['x', 50], ['y', 10], ['z', 99]] as const) logic.process!(record, out, 1, t);
    logic.onWatermark!(99, out);
    expect(calls).to.deep.equal([['x', 'y'], ['xy', 'z']]);
    expect(out.main).to.deep.equal([{ record: 'xyz', timestamp: 99 }]);
  });

  it('gives process the key as the record has it, and the window as { start, end }', () => {
    const seen: unknown[] = [];
    const logic = windowLogic({
      assigner: sliding(10, 5), allowedLatenessMs: 0,
      fn: { process: fn((elements: unknown[], ctx: unknown) => { seen.push(structuredClone(ctx)); return [elements.length]; }) },
    }, (r) => (r as { k: unknown }).k, backend(), 'w');
    const out = new Capture();
    logic.process!({ k: ['x', { n: 1 }] }, out, 1, 7);
    logic.onWatermark!(Number.POSITIVE_INFINITY, out);
    expect(seen).to.deep.equal([{ key: ['x', { n: 1 }], window: { start: 0, end: 10 } }, { key: ['x', { n: 1 }], window: { start: 5, end: 15 } }]);
    expect(out.main).to.deep.equal([{ record: 1, timestamp: 9 }, { record: 1, timestamp: 14 }]);
  });

  it('emits nothing for a process that returns undefined, null or an empty iterable', () => {
    for (const result of [undefined, null, [], new Set()]) {
      const logic = windowLogic({ assigner: tumbling(10), fn: { process: fn(() => result) }, allowedLatenessMs: 0 }, () => 'k', backend(), 'w');
      const out = new Capture();
      logic.process!('r', out, 1, 3);
      logic.onWatermark!(9, out);
      expect(out.main, String(result)).to.deep.equal([]);
    }
  });

  it('fails naming the window when process returns something that is not iterable, or a string', () => {
    for (const [result, shown] of [[5, 'number 5'], [{ a: 1 }, 'object \\{"a":1\\}'], ['abc', 'string abc']] as const) {
      const logic = windowLogic({ assigner: tumbling(10), fn: { process: fn(() => result) }, allowedLatenessMs: 0 }, () => 'k', backend(), 'hourly');
      logic.process!('r', new Capture(), 1, 3);
      expect(() => logic.onWatermark!(9, new Capture())).to.throw(CloudflinkError,
        new RegExp(`the process function of window 'hourly' must return an array or another iterable, not ${shown}`));
    }
  });

  it('fails naming the window when a record comes without a timestamp (no event time at the source)', () => {
    const logic = windowLogic({ assigner: tumbling(10), fn: reduceIds, allowedLatenessMs: 0 }, keyOf, backend(), 'hourly');
    let caught: unknown;
    try {
      logic.process!({ k: 'a', t: 1, ids: [1] }, new Capture(), 1, undefined);
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(CloudflinkError);
    expect((caught as CloudflinkError).code).to.equal('UDF_FAILED');
    expect((caught as Error).message).to.match(/window 'hourly' got a record without a timestamp: give its source event time \(assignTimestampsAndWatermarks/);
  });

  it('drops records too late for every window when no late tag is set, emitting nothing anywhere', () => {
    const state = backend();
    const logic = windowLogic({ assigner: tumbling(10), fn: reduceIds, allowedLatenessMs: 0 }, keyOf, state, 'w');
    const out: Collector = { emit: () => { throw new Error('emit called'); }, emitTo: () => { throw new Error('emitTo called'); } };
    logic.onWatermark!(100, out);
    logic.process!({ k: 'a', t: 5, ids: [1] }, out, 1, 5);
    logic.onWatermark!(Number.POSITIVE_INFINITY, out);
    expect(state.size, 'no window kept for it').to.equal(0);
  });

  it('does not change a result it emitted when a late record joins the window afterwards', () => {
    // A process function may well return its elements (or an object holding them), as records are handed on by reference.
    const logic = windowLogic({
      assigner: tumbling(10), allowedLatenessMs: 100,
      fn: { process: fn((elements: Rec[], ctx: { key: Key }) => [{ key: ctx.key, elements }]) },
    }, keyOf, backend(), 'w');
    const emitted: { record: unknown; then: unknown }[] = [];
    const out: Collector = { emit: (record) => emitted.push({ record, then: structuredClone(record) }) };
    logic.process!({ k: 'a', t: 1, ids: [1] }, out, 1, 1);
    logic.onWatermark!(20, out);
    logic.process!({ k: 'a', t: 2, ids: [2] }, out, 1, 2);
    expect(emitted.map((e) => e.then)).to.deep.equal([
      { key: 'a', elements: [{ k: 'a', t: 1, ids: [1] }] },
      { key: 'a', elements: [{ k: 'a', t: 1, ids: [1] }, { k: 'a', t: 2, ids: [2] }] },
    ]);
    expect(emitted.map((e) => e.record), 'the records emitted, as they are now').to.deep.equal(emitted.map((e) => e.then));
  });

  it('sends a record that falls in no window (a slide longer than the size) to the late output only when it is late, as Flink', () => {
    // Flink's WindowOperator: a record no window took goes to the late output only if t + lateness ≤ watermark.
    const logic = windowLogic({ assigner: sliding(50, 100), fn: reduceIds, allowedLatenessMs: 0, lateTag: 'late' }, keyOf, backend(), 'w');
    const out = new Capture();
    logic.onWatermark!(100, out);
    logic.process!({ k: 'a', t: 60, ids: [1] }, out, 1, 60);
    logic.process!({ k: 'a', t: 170, ids: [2] }, out, 1, 170);
    logic.onWatermark!(Number.POSITIVE_INFINITY, out);
    expect(lateIds(out), 'only the record at 60 is late (60 ≤ 100); the one at 170, in a gap, is dropped').to.deep.equal([1]);
    expect(out.main).to.deep.equal([]);
  });

  for (const settings of SETTINGS) {
    for (const [name, windowFn] of FUNCTIONS) {
      const what = `${label(settings.assigner)}, lateness ${settings.lateness}, ${settings.lateTag ? `late to '${settings.lateTag}'` : 'late dropped'}, ${name}`;
      const isProcess = 'process' in windowFn;

      it(`on random out-of-order and late records, fires per window what Flink fires and sends the late ones once (${what})`, () => {
        for (const seed of [1, 2, 3]) {
          const events = stream(prng(seed * 31 + settings.assigner.sizeMs), 1500, 40);
          const expected = reference(events, settings);
          const state = backend();
          const logic = windowLogic(settingsOf(settings, windowFn), keyOf, state, 'w');
          const out = new Capture();
          events.forEach((event, index) => {
            drive(logic, [event], out);
            const live = expected.live.get(index);
            if (live) expect(windowsHeld(state), `seed ${seed}: the windows held after event ${index}`).to.deep.equal(live);
          });
          expect(sorted(firings(out, settings, isProcess)), `seed ${seed}`).to.deep.equal(sorted(expected.firings));
          expect(lateIds(out), `seed ${seed}: the late output`).to.deep.equal(expected.late);
          expect(out.late.every((l) => l.tag === settings.lateTag), 'to the tag set').to.equal(true);
          expect(state.size, 'nothing held after the end of input').to.equal(0);
          // Else the reference would not be exercised where it matters.
          const refires = [...expected.firings.values()].filter((f) => f.length > 1).length;
          if (settings.lateness > 0) expect(refires, 'windows fired again by late records').to.be.greaterThan(0);
          if (settings.lateTag) expect(expected.late.length, 'records too late').to.be.greaterThan(0);
        }
      });

      it(`restored from a snapshot mid-stream into a new backend, fires the same, nothing twice (${what})`, () => {
        const events = stream(prng(7 + settings.assigner.sizeMs), 1200, 40);
        const expected = reference(events, settings);
        for (const cut of [0, 1, 300, 601, 1000, events.length - 1]) {
          const first = backend();
          const before = new Capture();
          drive(windowLogic(settingsOf(settings, windowFn), keyOf, first, 'w'), events.slice(0, cut), before);
          const snapshot = viaWire(first.snapshot());
          const second = backend();
          second.restore([snapshot]);
          const restored = windowLogic(settingsOf(settings, windowFn), keyOf, second, 'w');
          restored.restoreState!([undefined]);
          // The event-time clock is not state: the watermark the old instance had comes first again.
          const passed = events.slice(0, cut).filter((e): e is { watermark: number } => 'watermark' in e).at(-1);
          const after = new Capture();
          drive(restored, [...(passed ? [passed] : []), ...events.slice(cut)], after);
          const all = new Capture();
          all.main.push(...before.main, ...after.main);
          all.late.push(...before.late, ...after.late);
          expect(sorted(firings(all, settings, isProcess)), `cut at ${cut}`).to.deep.equal(sorted(expected.firings));
          expect(lateIds(all), `cut at ${cut}: the late output`).to.deep.equal(expected.late);
        }
      });
    }
  }

  for (const [from, to] of [[2, 3], [3, 1], [1, 4]] as const) {
    it(`moves the windows with their key groups to another parallelism (${from} → ${to}), firing the same`, () => {
      const settings: Settings = { assigner: sliding(100, 30), lateness: 80, lateTag: 'late' };
      const events = stream(prng(from * 10 + to), 1500, 40);
      const expected = reference(events, settings);
      const cut = 700;
      const all = new Capture();
      const runAt = (states: KeyedStateBackend[], logics: OperatorLogic[], part: Event[]): void => {
        for (const event of part) {
          if ('watermark' in event) for (const logic of logics) drive(logic, [event], all);
          else drive(logics[subtaskForKey(canonicalKey(event.record.k), MAX_P, states.length)]!, [event], all);
        }
      };
      const make = (state: KeyedStateBackend): OperatorLogic => windowLogic(settingsOf(settings, reduceIds), keyOf, state, 'w');
      const oldStates = Array.from({ length: from }, (_, i) => backend(i, from));
      runAt(oldStates, oldStates.map(make), events.slice(0, cut));
      const snapshots = oldStates.map((state) => viaWire(state.snapshot()));
      const newStates = Array.from({ length: to }, (_, i) => backend(i, to));
      const logics = newStates.map((state) => {
        state.restore(snapshots);
        const logic = make(state);
        logic.restoreState!(snapshots.map(() => undefined));
        return logic;
      });
      const passed = events.slice(0, cut).filter((e): e is { watermark: number } => 'watermark' in e).at(-1)!;
      runAt(newStates, logics, [passed, ...events.slice(cut)]);
      expect(sorted(firings(all, settings, false))).to.deep.equal(sorted(expected.firings));
      expect(lateIds(all)).to.deep.equal(expected.late);
    });
  }

  describe('restored before the first watermark reaches it (as after a restart: the watermark is not checkpointed)', () => {
    const settings = { assigner: tumbling(100), fn: reduceIds, allowedLatenessMs: 200, lateTag: 'late' };
    const rec = (t: number, id: number): Rec => ({ k: 'a', t, ids: [id] });

    /** Windows [0, 100) of key a fired at watermark 150; [100, 200) holds a record, not fired. */
    function restoredAfterFiring(): { logic: OperatorLogic; out: Capture; before: Capture } {
      const first = backend();
      const before = new Capture();
      drive(windowLogic(settings, keyOf, first, 'w'), [{ record: rec(10, 1) }, { record: rec(120, 2) }, { watermark: 150 }], before);
      expect(before.main).to.deep.equal([{ record: rec(10, 1), timestamp: 99 }]);
      const second = backend();
      second.restore([viaWire(first.snapshot())]);
      const logic = windowLogic(settings, keyOf, second, 'w');
      logic.restoreState!([undefined]);
      return { logic, out: new Capture(), before };
    }

    it('fires a window that did not fire before the snapshot once, with the records from both sides of it', () => {
      const { logic, out } = restoredAfterFiring();
      drive(logic, [{ record: rec(130, 3) }, { watermark: 140 }, { watermark: 199 }, { watermark: Number.POSITIVE_INFINITY }], out);
      expect(out.main).to.deep.equal([{ record: { k: 'a', t: 130, ids: [2, 3] }, timestamp: 199 }]);
    });

    it('does not fire again a window that fired before the snapshot, at a watermark or at the end of input', () => {
      const { logic, out } = restoredAfterFiring();
      drive(logic, [{ watermark: 160 }, { watermark: 250 }, { watermark: Number.POSITIVE_INFINITY }], out);
      expect(out.main).to.deep.equal([{ record: rec(120, 2), timestamp: 199 }]);
    });

    it('fires a window that fired before the snapshot again for a record within the lateness, once the watermark is known', () => {
      // Flink's EventTimeTrigger registers the window's timer again for such a record, and fires it at the next watermark.
      const { logic, out } = restoredAfterFiring();
      drive(logic, [{ record: rec(20, 3) }, { watermark: 160 }, { watermark: Number.POSITIVE_INFINITY }], out);
      const windowZero = out.main.filter((e) => e.timestamp === 99);
      expect(windowZero, 'window [0, 100) with the record that came after the restore').to.deep.equal([{ record: { k: 'a', t: 20, ids: [1, 3] }, timestamp: 99 }]);
    });
  });
});

describe('windowLogic with session windows', () => {
  interface SessionSettings { gapMs: number; lateness: number; lateTag?: string }
  const settingsOf = (s: SessionSettings, windowFn: WindowFunction) =>
    ({ assigner: { type: 'session' as const, gapMs: s.gapMs }, fn: windowFn, allowedLatenessMs: s.lateness, lateTag: s.lateTag });
  const rec = (k: Key, t: number, id: number): Event => ({ record: { k, t, ids: [id] } });

  /** A firing as `key|end|ids`, the key as JSON (ids sorted: the order of merged records is the engine's own). */
  function sessionFirings(out: Capture, process: boolean): string[] {
    return out.main.map(({ record, timestamp }) => {
      const key = process ? (record as Summary).key : (record as Rec).k;
      const ids = process ? (record as Summary).ids : (record as Rec).ids;
      if (process) expect(timestamp, 'a result carries the timestamp end - 1').to.equal((record as Summary).window.end - 1);
      return `${JSON.stringify(key)}|${timestamp! + 1}|${[...ids].sort((a, b) => a - b).join(',')}`;
    }).sort();
  }

  /**
   * Flink's WindowOperator with a merging assigner and its EventTimeTrigger: a record's window
   * [t, t + gap) first merges with every window of its key it touches; only the merged window
   * can be late (end - 1 + lateness ≤ watermark), and then the record is late. A window fires
   * when the watermark reaches its end - 1 with a timer pending (set when a record joins a window
   * whose end - 1 is still ahead); a record joining a window whose end - 1 the watermark passed
   * fires it at once. Cleanup at end - 1 + lateness.
   */
  function sessionReference(events: Event[], settings: SessionSettings): { firings: string[]; late: number[] } {
    const { gapMs, lateness, lateTag } = settings;
    let watermark = Number.NEGATIVE_INFINITY;
    const windows = new Map<string, { key: Key; start: number; end: number; ids: number[]; pending: boolean }[]>();
    const firings: string[] = [];
    const late: number[] = [];
    const fire = (w: { key: Key; end: number; ids: number[] }): void => {
      firings.push(`${JSON.stringify(w.key)}|${w.end}|${[...w.ids].sort((a, b) => a - b).join(',')}`);
    };
    for (const event of events) {
      if ('record' in event) {
        const { k, t, ids } = event.record;
        const mine = windows.get(canonicalKey(k)) ?? [];
        const touching = mine.filter((w) => w.start <= t + gapMs && w.end >= t);
        const merged = {
          key: k, start: Math.min(t, ...touching.map((w) => w.start)), end: Math.max(t + gapMs, ...touching.map((w) => w.end)),
          ids: [...touching.flatMap((w) => w.ids)], pending: false,
        };
        if (merged.end - 1 + lateness <= watermark) {
          if (lateTag !== undefined && t + lateness <= watermark) late.push(...ids);
          continue;
        }
        merged.ids.push(...ids);
        windows.set(canonicalKey(k), [...mine.filter((w) => !touching.includes(w)), merged]);
        if (merged.end - 1 <= watermark) fire(merged);
        else merged.pending = true;
        continue;
      }
      watermark = event.watermark;
      for (const [key, mine] of windows) {
        for (const w of [...mine].sort((a, b) => a.end - b.end)) {
          if (w.pending && w.end - 1 <= watermark) {
            fire(w);
            w.pending = false;
          }
        }
        windows.set(key, mine.filter((w) => w.end - 1 + lateness > watermark));
      }
    }
    return { firings: firings.sort(), late };
  }

  /**
   * Bursts of records per key with quiet spells longer than the gap between them; some records
   * behind the watermark, but never so far that their own window is past its cleanup.
   */
  function sessionStream(random: () => number, count: number, settings: SessionSettings): Event[] {
    let now = Math.floor((random() - 0.5) * 2000);
    let watermark = Number.NEGATIVE_INFINITY;
    const events: Event[] = [];
    for (let id = 0; id < count; id++) {
      now += random() < 0.05 ? settings.gapMs + Math.floor(random() * 3 * settings.gapMs) : Math.floor(random() * settings.gapMs / 3);
      let t = now - Math.floor(random() * 2 * settings.gapMs);
      // Its own window [t, t + gap) not past its cleanup: a late record that merges with nothing live is a case of its own.
      t = Math.max(t, watermark - settings.gapMs - settings.lateness + 2);
      events.push(rec(KEYS[Math.floor(random() * 3)]!, t, id));
      if (random() < 0.2) {
        const next = now - Math.floor(random() * 3 * settings.gapMs);
        if (next > watermark) events.push({ watermark: (watermark = next) });
      }
    }
    events.push({ watermark: Number.POSITIVE_INFINITY });
    return events;
  }

  it('follows Flink on a worked example: sessions merge when they touch, fire at end - 1, and again when a late record extends them', () => {
    const state = backend();
    const logic = windowLogic(settingsOf({ gapMs: 10, lateness: 30, lateTag: 'late' }, processIds), keyOf, state, 'w');
    const out = new Capture();
    drive(logic, [rec('a', 0, 1), rec('a', 5, 2), rec('a', 30, 3), rec('b', 3, 4), { watermark: 14 }], out);
    expect(sessionFirings(out, true), '[0, 15) of a and [3, 13) of b').to.deep.equal(['"a"|15|1,2', '"b"|13|4']);
    out.main.length = 0;
    // 20 touches [30, 40) (its window [20, 30) ends where the other starts): one session [20, 40).
    drive(logic, [rec('a', 20, 5), { watermark: 39 }], out);
    expect(sessionFirings(out, true)).to.deep.equal(['"a"|40|3,5']);
    out.main.length = 0;
    // Within the lateness of [0, 15) (cleanup at 44): 8 extends it to [0, 18), behind the watermark 39: it fires at once.
    drive(logic, [rec('a', 8, 6)], out);
    expect(sessionFirings(out, true)).to.deep.equal(['"a"|18|1,2,6']);
    out.main.length = 0;
    // [12, 22) touches both [0, 18) and [20, 40): the three merge into [0, 40), whose end - 1 the watermark reached.
    drive(logic, [rec('a', 12, 7)], out);
    expect(sessionFirings(out, true)).to.deep.equal(['"a"|40|1,2,3,5,6,7']);
    drive(logic, [{ watermark: Number.POSITIVE_INFINITY }], out);
    expect(state.size).to.equal(0);
  });

  it('does not send to the late output a record inside a session that is still open, though its own window [t, t + gap) has passed', () => {
    // Flink merges first, then asks whether the merged window is late: [105, 115) merges into [100, 130), which fires at 129.
    const logic = windowLogic(settingsOf({ gapMs: 10, lateness: 0, lateTag: 'late' }, processIds), keyOf, backend(), 'w');
    const out = new Capture();
    drive(logic, [rec('a', 100, 1), rec('a', 110, 2), rec('a', 120, 3), { watermark: 125 }, rec('a', 105, 4), { watermark: Number.POSITIVE_INFINITY }], out);
    expect(lateIds(out), 'the late output').to.deep.equal([]);
    expect(sessionFirings(out, true)).to.deep.equal(['"a"|130|1,2,3,4']);
  });

  it('sends a record whose window merges with nothing live and is past its cleanup to the late output', () => {
    const logic = windowLogic(settingsOf({ gapMs: 10, lateness: 5, lateTag: 'late' }, processIds), keyOf, backend(), 'w');
    const out = new Capture();
    drive(logic, [rec('a', 100, 1), { watermark: 200 }, rec('a', 150, 2), rec('a', 185, 3), rec('a', 186, 4), { watermark: Number.POSITIVE_INFINITY }], out);
    // [185, 195): 194 + 5 ≤ 200, late; [186, 196): 195 + 5 = 200 ≤ 200, late too (185 left no window to merge with).
    expect(lateIds(out)).to.deep.equal([2, 3, 4]);
    expect(sessionFirings(out, true)).to.deep.equal(['"a"|110|1']);
  });

  for (const settings of [{ gapMs: 10, lateness: 0, lateTag: 'late' }, { gapMs: 50, lateness: 30, lateTag: 'late' }, { gapMs: 20, lateness: 100 }] as SessionSettings[]) {
    for (const [name, windowFn] of FUNCTIONS) {
      const what = `gap ${settings.gapMs}, lateness ${settings.lateness}, ${name}`;
      const isProcess = 'process' in windowFn;

      it(`on random bursts with out-of-order and late records, fires what Flink fires (${what})`, () => {
        for (const seed of [1, 2, 3]) {
          const events = sessionStream(prng(seed * 17 + settings.gapMs), 1500, settings);
          const expected = sessionReference(events, settings);
          const state = backend();
          const out = new Capture();
          drive(windowLogic(settingsOf(settings, windowFn), keyOf, state, 'w'), events, out);
          expect(sessionFirings(out, isProcess), `seed ${seed}`).to.deep.equal(expected.firings);
          expect(lateIds(out), `seed ${seed}: the late output`).to.deep.equal(expected.late);
          expect(state.size, 'nothing held after the end of input').to.equal(0);
          const ends = new Set(expected.firings.map((f) => f.split('|').slice(0, 2).join('|')));
          expect(ends.size, 'sessions').to.be.greaterThan(30);
          if (settings.lateness > 0) expect(expected.firings.length, 'firings again, of sessions late records extended').to.be.greaterThan(ends.size);
        }
      });

      it(`restored from a snapshot mid-stream, fires the same (${what})`, () => {
        const events = sessionStream(prng(5 + settings.gapMs), 1200, settings);
        const expected = sessionReference(events, settings);
        for (const cut of [0, 1, 400, 801, events.length - 1]) {
          const first = backend();
          const all = new Capture();
          drive(windowLogic(settingsOf(settings, windowFn), keyOf, first, 'w'), events.slice(0, cut), all);
          const second = backend();
          second.restore([viaWire(first.snapshot())]);
          const restored = windowLogic(settingsOf(settings, windowFn), keyOf, second, 'w');
          restored.restoreState!([undefined]);
          const passed = events.slice(0, cut).filter((e): e is { watermark: number } => 'watermark' in e).at(-1);
          drive(restored, [...(passed ? [passed] : []), ...events.slice(cut)], all);
          expect(sessionFirings(all, isProcess), `cut at ${cut}`).to.deep.equal(expected.firings);
        }
      });
    }
  }
});

describe('windowLogic with a reduce or an aggregate handing its result to a process function', () => {
  /** Emits what `logic` emits for `records` (each [key, time, value]) and a final watermark, with the timestamps. */
  const run = (logic: OperatorLogic, records: [string, number, number][]): [unknown, number | undefined][] => {
    const out: [unknown, number | undefined][] = [];
    const collector: Collector = { emit: (record, timestamp) => out.push([record, timestamp]) };
    for (const [k, t, v] of records) logic.process!({ k, v }, collector, 1, t);
    logic.onWatermark!(Number.POSITIVE_INFINITY, collector);
    return out;
  };
  const keyOfRecord = (record: unknown): unknown => (record as { k: string }).k;
  const describeWindow = fn((elements: unknown[], ctx: { key: string; window: { start: number; end: number } }) =>
    [{ key: ctx.key, start: ctx.window.start, end: ctx.window.end, elements }]);
  const records: [string, number, number][] = [['a', 1, 2], ['b', 3, 10], ['a', 7, 5], ['a', 12, 1], ['b', 25, 4], ['b', 26, 6]];

  it('gives the process function the reduce\'s result alone, with the key and the window, and its results the timestamp end - 1', () => {
    const logic = windowLogic({
      assigner: { type: 'tumbling', sizeMs: 10 }, allowedLatenessMs: 0,
      fn: { reduce: fn((a: { k: string; v: number }, b: { k: string; v: number }) => ({ k: a.k, v: a.v + b.v })), processResult: describeWindow },
    }, keyOfRecord, backend(), 'w');
    expect(run(logic, records)).to.deep.equal([
      [{ key: 'a', start: 0, end: 10, elements: [{ k: 'a', v: 7 }] }, 9],
      [{ key: 'b', start: 0, end: 10, elements: [{ k: 'b', v: 10 }] }, 9],
      [{ key: 'a', start: 10, end: 20, elements: [{ k: 'a', v: 1 }] }, 19],
      [{ key: 'b', start: 20, end: 30, elements: [{ k: 'b', v: 10 }] }, 29],
    ]);
  });

  it('gives it the aggregate\'s result, and merges sessions\' accumulators before it', () => {
    const count = { create: fn(() => 0), add: fn((n: number) => n + 1), result: fn((n: number) => n), merge: fn((a: number, b: number) => a + b) };
    const logic = windowLogic({ assigner: { type: 'session', gapMs: 6 }, allowedLatenessMs: 0, fn: { aggregate: count, processResult: describeWindow } },
      keyOfRecord, backend(), 'w');
    expect(run(logic, records)).to.deep.equal([
      [{ key: 'b', start: 3, end: 9, elements: [1] }, 8],
      [{ key: 'a', start: 1, end: 18, elements: [3] }, 17],
      [{ key: 'b', start: 25, end: 32, elements: [2] }, 31],
    ]);
  });
});
