/**
 * Window join and coGroup (Flink's JoinedStreams / CoGroupedStreams) against a brute-force
 * reference: the same key, the same window; every left-right pair for a join, both lists once
 * per key and window for a coGroup, with out-of-order and late records, at parallelism 1 and 4,
 * and through a restore.
 */
import { expect } from 'chai';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { canonicalKey, subtaskForKey } from '../../../../lib/partition/index.ts';
import { KeyedStateBackend } from '../../../../lib/state/index.ts';
import type { FixedWindowAssigner, WindowAssigner } from '../../../../lib/descriptor/types.ts';
import { windowJoinLogic, type WindowJoinSettings } from '../../../../actors/operator/logic/window-join.ts';
import type { Collector, OperatorLogic } from '../../../../actors/operator/logic/types.ts';
import { prng } from '../../../helpers/random.ts';
import { fn, MAX_P, backend, viaWire } from '../../../helpers/logic.ts';
import { startsByBruteForce } from '../../../helpers/windows.ts';

type Key = string | number | [string, number];
/** The two sides key their records by different fields, as `where(..).equalTo(..)` may. */
interface Left { lk: Key; t: number; id: number }
interface Right { rk: Key; t: number; id: number }
type Event = { left: Left } | { right: Right } | { watermark: number };

const keys: [(record: unknown) => unknown, (record: unknown) => unknown] = [(r) => (r as Left).lk, (r) => (r as Right).rk];
const keyOfEvent = (event: { left: Left } | { right: Right }): Key => ('left' in event ? event.left.lk : event.right.rk);
const timeOf = (event: { left: Left } | { right: Right }): number => ('left' in event ? event.left.t : event.right.t);

interface Joined { k: Key; l: number; r: number }
interface Grouped { key: Key; window: { start: number; end: number }; l: number[]; r: number[] }

const joinIds = fn((l: Left, r: Right): Joined => {
  expect(canonicalKey(r.rk), 'a pair shares its key').to.equal(canonicalKey(l.lk));
  return { k: l.lk, l: l.id, r: r.id };
});
const coGroupIds = fn((lefts: Left[], rights: Right[], ctx: { key: Key; window: { start: number; end: number } }): Grouped[] =>
  [{ key: ctx.key, window: ctx.window, l: lefts.map((x) => x.id), r: rights.map((x) => x.id) }]);

class Capture implements Collector {
  readonly main: { record: unknown; timestamp: number | undefined; call: number }[] = [];
  call = 0;

  emit(record: unknown, timestamp?: number): void {
    this.main.push({ record, timestamp, call: this.call });
  }
}

const windowId = (key: unknown, last: number): string => `${canonicalKey(key)}@${last}`;
const byNumber = (a: number, b: number): number => a - b;
/** A firing, order aside: the join's pairs, or the coGroup's two lists. */
const joinFiring = (pairs: [number, number][]): string => pairs.map(([l, r]) => `${l}-${r}`).sort().join(' ');
const coGroupFiring = (lefts: number[], rights: number[]): string => `L ${[...lefts].sort(byNumber).join(',')} | R ${[...rights].sort(byNumber).join(',')}`;

/** The firings of each window, in order: what one call emitted for a key and a timestamp (end - 1) is one firing. */
function firingsOf(out: Capture, coGroup: boolean): Map<string, string[]> {
  const result = new Map<string, string[]>();
  const pairs = new Map<string, { call: number; pairs: [number, number][] }>();
  for (const { record, timestamp, call } of out.main) {
    expect(timestamp, 'every result carries a timestamp').to.be.a('number');
    if (coGroup) {
      const grouped = record as Grouped;
      expect(timestamp, 'the timestamp end - 1').to.equal(grouped.window.end - 1);
      const id = windowId(grouped.key, timestamp!);
      result.set(id, [...result.get(id) ?? [], coGroupFiring(grouped.l, grouped.r)]);
      continue;
    }
    const joined = record as Joined;
    const id = windowId(joined.k, timestamp!);
    const open = pairs.get(id);
    if (open?.call === call) open.pairs.push([joined.l, joined.r]);
    else pairs.set(id, { call, pairs: [[joined.l, joined.r]] });
    if (open?.call !== call) result.set(id, [...result.get(id) ?? [], '']);
    const list = result.get(id)!;
    list[list.length - 1] = joinFiring(pairs.get(id)!.pairs);
  }
  return result;
}

interface Window { key: Key; start: number; end: number; lefts: number[]; rights: number[]; fired: boolean }

/**
 * Flink's window join and coGroup, by brute force: both sides go into the same keyed windows
 * (sessions merge across the sides); a window fires when the watermark reaches end - 1, and at
 * once for a record within the lateness joining it after; late records are dropped; a window
 * goes at end - 1 + lateness. A firing calls coGroup with both lists whenever the window holds a
 * record of either side; a join emits every left-right pair of it (nothing when a side is empty).
 */
function reference(events: Event[], assigner: WindowAssigner, lateness: number, coGroup: boolean): Map<string, string[]> {
  let watermark = Number.NEGATIVE_INFINITY;
  let windows: Window[] = [];
  const fired = new Map<string, string[]>();
  const fire = (w: Window): void => {
    w.fired = true;
    const firing = coGroup ? coGroupFiring(w.lefts, w.rights) : joinFiring(w.lefts.flatMap((l) => w.rights.map((r): [number, number] => [l, r])));
    if (!coGroup && w.lefts.length * w.rights.length === 0) return;
    const id = windowId(w.key, w.end - 1);
    fired.set(id, [...fired.get(id) ?? [], firing]);
  };
  const add = (w: Window, event: { left: Left } | { right: Right }): void => {
    if ('left' in event) w.lefts.push(event.left.id);
    else w.rights.push(event.right.id);
  };
  for (const event of events) {
    if ('watermark' in event) {
      watermark = event.watermark;
      for (const w of [...windows].sort((a, b) => a.end - b.end)) if (!w.fired && w.end - 1 <= watermark) fire(w);
      windows = windows.filter((w) => w.end - 1 + lateness > watermark);
      continue;
    }
    const key = keyOfEvent(event);
    const t = timeOf(event);
    const mine = windows.filter((w) => canonicalKey(w.key) === canonicalKey(key));
    if (assigner.type === 'session') {
      const touching = mine.filter((w) => w.start <= t + assigner.gapMs && w.end >= t);
      const merged: Window = {
        key, start: Math.min(t, ...touching.map((w) => w.start)), end: Math.max(t + assigner.gapMs, ...touching.map((w) => w.end)),
        lefts: touching.flatMap((w) => w.lefts), rights: touching.flatMap((w) => w.rights), fired: false,
      };
      if (merged.end - 1 + lateness <= watermark) continue;
      add(merged, event);
      // Behind the watermark, it fires at once (again); else it waits for the watermark to reach its end.
      windows = [...windows.filter((w) => !touching.includes(w)), merged];
      if (merged.end - 1 <= watermark) fire(merged);
      continue;
    }
    const fixed = assigner as FixedWindowAssigner;
    for (const start of startsByBruteForce(fixed, t)) {
      const end = start + fixed.sizeMs;
      if (end - 1 + lateness <= watermark) continue;
      let w = mine.find((o) => o.start === start);
      if (w === undefined) windows.push(w = { key, start, end, lefts: [], rights: [], fired: false });
      add(w, event);
      if (end - 1 <= watermark) fire(w);
    }
  }
  return fired;
}

const KEYS: Key[] = ['a', 'b', 3, ['x', 1]];

/** Two sides in event time, each record on a side at random, out of order and some late; watermarks behind the stream, now and then ahead. */
function stream(random: () => number, count: number, disorder: number, sessionGap?: number): Event[] {
  let now = Math.floor((random() - 0.5) * 2000);
  let watermark = Number.NEGATIVE_INFINITY;
  const events: Event[] = [];
  for (let id = 0; id < count; id++) {
    now += sessionGap !== undefined && random() < 0.06 ? sessionGap + Math.floor(random() * 3 * sessionGap) : Math.floor(random() * 8);
    const t = random() < 0.12 ? now - Math.floor(random() * 400) : now - Math.floor(random() * (disorder + 1));
    const k = KEYS[Math.floor(random() * KEYS.length)]!;
    events.push(random() < 0.5 ? { left: { lk: k, t, id } } : { right: { rk: k, t, id } });
    const roll = random();
    const next = roll < 0.01 ? now + Math.floor(random() * 100) : roll < 0.15 ? now - disorder - Math.floor(random() * 60) : watermark;
    if (next > watermark) events.push({ watermark: (watermark = next) });
  }
  events.push({ watermark: Number.POSITIVE_INFINITY });
  return events;
}

/** Runs at `parallelism` subtasks (records by key, watermarks to all); at `cut`, restores every subtask from a msgpack snapshot, at `rescaleTo`. */
function run(settings: WindowJoinSettings, events: Event[], options: { parallelism: number; cut?: number; rescaleTo?: number }): { out: Capture; states: KeyedStateBackend[] } {
  const out = new Capture();
  const make = (state: KeyedStateBackend): OperatorLogic => windowJoinLogic(settings, keys, state, 'j');
  const runAt = (logics: OperatorLogic[], part: Event[]): void => {
    for (const event of part) {
      out.call++;
      if ('watermark' in event) {
        for (const logic of logics) {
          logic.onWatermark!(event.watermark, out);
          out.call++;
        }
        continue;
      }
      const logic = logics[subtaskForKey(canonicalKey(keyOfEvent(event)), MAX_P, logics.length)]!;
      if ('left' in event) logic.process!(event.left, out, event.left.id % 2 === 0 ? 1 : undefined, event.left.t);
      else logic.process!(event.right, out, 2, event.right.t);
    }
  };
  let states = Array.from({ length: options.parallelism }, (_, i) => backend(i, options.parallelism));
  const cut = options.cut ?? events.length;
  runAt(states.map(make), events.slice(0, cut));
  if (cut < events.length) {
    const snapshots = states.map((state) => viaWire(state.snapshot()));
    const to = options.rescaleTo ?? options.parallelism;
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

const sorted = (map: Map<string, string[]>): [string, string[]][] => [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

describe('windowJoinLogic', () => {
  const tumbling10: WindowAssigner = { type: 'tumbling', sizeMs: 10 };

  it('joins every left with every right of the same key in the same window, at the window\'s end', () => {
    const out = new Capture();
    const logic = windowJoinLogic({ assigner: tumbling10, fn: { join: joinIds }, allowedLatenessMs: 0 }, keys, backend(), 'j');
    logic.process!({ lk: 'a', t: 1, id: 1 }, out, 1, 1);
    logic.process!({ lk: 'a', t: 2, id: 2 }, out, undefined, 2);
    logic.process!({ rk: 'a', t: 9, id: 3 }, out, 2, 9);
    logic.process!({ rk: 'b', t: 5, id: 4 }, out, 2, 5);
    logic.process!({ rk: 'a', t: 10, id: 5 }, out, 2, 10);
    logic.onWatermark!(8, out);
    expect(out.main).to.deep.equal([]);
    logic.onWatermark!(9, out);
    expect(out.main.map(({ record, timestamp }) => [(record as Joined).l, (record as Joined).r, timestamp]).sort()).to.deep.equal([[1, 3, 9], [2, 3, 9]]);
  });

  it('calls coGroup once per key and window that holds a record of either side, with an empty list for the side that has none (as Flink)', () => {
    const out = new Capture();
    const calls: [unknown[], unknown[], unknown][] = [];
    const state = backend();
    const logic = windowJoinLogic({
      assigner: tumbling10, allowedLatenessMs: 0,
      fn: { coGroup: fn((lefts: Left[], rights: Right[], ctx: unknown) => { calls.push([lefts.map((l) => l.id), rights.map((r) => r.id), ctx]); return []; }) },
    }, keys, state, 'j');
    logic.process!({ lk: 'a', t: 1, id: 1 }, out, 1, 1);
    logic.process!({ rk: 'b', t: 2, id: 2 }, out, 2, 2);
    logic.process!({ lk: 'c', t: 3, id: 3 }, out, 1, 3);
    logic.process!({ rk: 'c', t: 4, id: 4 }, out, 2, 4);
    logic.process!({ rk: 'c', t: 5, id: 5 }, out, 2, 5);
    logic.onWatermark!(Number.POSITIVE_INFINITY, out);
    const byKey = calls.sort((x, y) => String((x[2] as { key: string }).key).localeCompare(String((y[2] as { key: string }).key)));
    expect(byKey).to.deep.equal([
      [[1], [], { key: 'a', window: { start: 0, end: 10 } }],
      [[], [2], { key: 'b', window: { start: 0, end: 10 } }],
      [[3], [4, 5], { key: 'c', window: { start: 0, end: 10 } }],
    ]);
    expect(state.size).to.equal(0);
  });

  it('emits nothing for a window that holds one side only, when joining', () => {
    const out = new Capture();
    const logic = windowJoinLogic({ assigner: tumbling10, fn: { join: joinIds }, allowedLatenessMs: 0 }, keys, backend(), 'j');
    logic.process!({ lk: 'a', t: 1, id: 1 }, out, 1, 1);
    logic.process!({ rk: 'a', t: 11, id: 2 }, out, 2, 11);
    logic.onWatermark!(Number.POSITIVE_INFINITY, out);
    expect(out.main).to.deep.equal([]);
  });

  it('takes any iterable from coGroup, and nothing for undefined or null', () => {
    for (const [result, expected] of [[undefined, []], [null, []], [new Set(['x', 'y']), ['x', 'y']], [(function* () { yield 'z'; })(), ['z']]] as const) {
      const out = new Capture();
      const logic = windowJoinLogic({ assigner: tumbling10, fn: { coGroup: fn(() => result) }, allowedLatenessMs: 0 }, keys, backend(), 'j');
      logic.process!({ lk: 'a', t: 1, id: 1 }, out, 1, 1);
      logic.onWatermark!(9, out);
      expect(out.main.map((e) => e.record), String(result)).to.deep.equal(expected);
    }
  });

  it('fails naming the operator when coGroup returns something that is not iterable, or a string', () => {
    for (const result of [5, { a: 1 }, 'abc', true]) {
      const logic = windowJoinLogic({ assigner: tumbling10, fn: { coGroup: fn(() => result) }, allowedLatenessMs: 0 }, keys, backend(), 'orders-x-payments');
      logic.process!({ rk: 'a', t: 1, id: 1 }, new Capture(), 2, 1);
      let caught: unknown;
      try {
        logic.onWatermark!(9, new Capture());
      } catch (error) {
        caught = error;
      }
      expect(caught, String(result)).to.be.instanceOf(CloudflinkError);
      expect((caught as CloudflinkError).code).to.equal('UDF_FAILED');
      expect((caught as Error).message).to.match(/the coGroup function of 'orders-x-payments' must return an array or another iterable/);
    }
  });

  it('lets an error thrown by the join function through as it is', () => {
    const boom = new Error('boom');
    const logic = windowJoinLogic({ assigner: tumbling10, fn: { join: fn(() => { throw boom; }) }, allowedLatenessMs: 0 }, keys, backend(), 'j');
    logic.process!({ lk: 'a', t: 1, id: 1 }, new Capture(), 1, 1);
    logic.process!({ rk: 'a', t: 2, id: 2 }, new Capture(), 2, 2);
    expect(() => logic.onWatermark!(9, new Capture())).to.throw(boom);
  });

  it('does not call join for a window with one side only, so a throwing join does not fail there', () => {
    const logic = windowJoinLogic({ assigner: tumbling10, fn: { join: fn(() => { throw new Error('boom'); }) }, allowedLatenessMs: 0 }, keys, backend(), 'j');
    logic.process!({ lk: 'a', t: 1, id: 1 }, new Capture(), 1, 1);
    logic.process!({ rk: 'b', t: 2, id: 2 }, new Capture(), 2, 2);
    expect(() => logic.onWatermark!(9, new Capture())).not.to.throw();
  });

  it('fires again with every pair when a record within the lateness joins a window that fired', () => {
    const out = new Capture();
    const logic = windowJoinLogic({ assigner: tumbling10, fn: { join: joinIds }, allowedLatenessMs: 20 }, keys, backend(), 'j');
    logic.process!({ lk: 'a', t: 1, id: 1 }, out, 1, 1);
    logic.process!({ rk: 'a', t: 2, id: 2 }, out, 2, 2);
    logic.onWatermark!(15, out);
    logic.process!({ rk: 'a', t: 3, id: 3 }, out, 2, 3);
    logic.onWatermark!(29, out);
    logic.process!({ lk: 'a', t: 4, id: 4 }, out, 1, 4);
    expect(out.main.map(({ record }) => `${(record as Joined).l}-${(record as Joined).r}`)).to.deep.equal(['1-2', '1-2', '1-3']);
  });

  it('with a count trigger, fires the window every n records of a key, whatever their side', () => {
    const out = new Capture();
    const logic = windowJoinLogic({ assigner: tumbling10, fn: { coGroup: coGroupIds }, allowedLatenessMs: 0, trigger: { type: 'count', count: 2 } }, keys, backend(), 'j');
    for (const [record, input] of [[{ lk: 'a', t: 1, id: 1 }, 1], [{ rk: 'a', t: 2, id: 2 }, 2], [{ rk: 'a', t: 3, id: 3 }, 2], [{ lk: 'a', t: 4, id: 4 }, 1]] as const) {
      logic.process!(record, out, input, record.t);
    }
    logic.onWatermark!(Number.POSITIVE_INFINITY, out);
    expect(out.main.map(({ record }) => [(record as Grouped).l, (record as Grouped).r])).to.deep.equal([[[1], [2]], [[1, 4], [2, 3]]]);
  });

  const ASSIGNERS: [string, WindowAssigner, number][] = [
    ['tumbling 50', { type: 'tumbling', sizeMs: 50 }, 0],
    ['tumbling 30 +7, lateness 60', { type: 'tumbling', sizeMs: 30, offsetMs: 7 }, 60],
    ['sliding 60/20, lateness 30', { type: 'sliding', sizeMs: 60, slideMs: 20 }, 30],
    ['sliding 20/50', { type: 'sliding', sizeMs: 20, slideMs: 50 }, 0],
    ['session 12', { type: 'session', gapMs: 12 }, 0],
    ['session 25, lateness 40', { type: 'session', gapMs: 25 }, 40],
  ];
  for (const [what, assigner, lateness] of ASSIGNERS) {
    const gap = assigner.type === 'session' ? assigner.gapMs : undefined;
    for (const coGroup of [false, true]) {
      const name = coGroup ? 'coGroup' : 'join';
      const settings: WindowJoinSettings = { assigner, fn: coGroup ? { coGroup: coGroupIds } : { join: joinIds }, allowedLatenessMs: lateness };
      for (const parallelism of [1, 4]) {
        it(`${name} on random two-sided input with out-of-order and late records matches the brute force (${what}, parallelism ${parallelism})`, () => {
          for (const seed of [1, 2, 3]) {
            const events = stream(prng(seed * 41 + lateness + (gap ?? 0)), 1200, 30, gap);
            const expected = reference(events, assigner, lateness, coGroup);
            const { out, states } = run(settings, events, { parallelism });
            expect(sorted(firingsOf(out, coGroup)), `seed ${seed}`).to.deep.equal(sorted(expected));
            expect(states.reduce((n, s) => n + s.size, 0), 'nothing held after the end of input').to.equal(0);
            const all = [...expected.values()].flat();
            expect(all.length, 'firings').to.be.greaterThan(40);
            if (coGroup) expect(all.filter((f) => f.startsWith('L  |') || f.endsWith('| R ')).length, 'windows with one side empty').to.be.greaterThan(0);
            if (lateness > 0) expect([...expected.values()].some((f) => f.length > 1), 'windows fired again by late records').to.equal(true);
          }
        });
      }

      it(`${name} restored mid-stream from a snapshot through msgpack fires the same, nothing twice (${what})`, () => {
        const events = stream(prng(9 + lateness + (gap ?? 0)), 1000, 30, gap);
        const expected = reference(events, assigner, lateness, coGroup);
        for (const cut of [0, 1, 250, 501, 900, events.length - 1]) {
          for (const [parallelism, rescaleTo] of [[1, 1], [4, 4], [4, 2], [1, 3]] as const) {
            const { out } = run(settings, events, { parallelism, cut, rescaleTo });
            expect(sorted(firingsOf(out, coGroup)), `cut at ${cut}, ${parallelism} → ${rescaleTo}`).to.deep.equal(sorted(expected));
          }
        }
      });
    }
  }
});
