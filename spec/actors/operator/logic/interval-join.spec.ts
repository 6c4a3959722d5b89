import { expect } from 'chai';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { canonicalKey, subtaskForKey } from '../../../../lib/partition/index.ts';
import { KeyedStateBackend } from '../../../../lib/state/index.ts';
import { intervalJoinLogic, type IntervalJoinContext, type IntervalJoinSettings } from '../../../../actors/operator/logic/interval-join.ts';
import type { Collector, OperatorLogic } from '../../../../actors/operator/logic/types.ts';
import { prng } from '../../../helpers/random.ts';
import { fn, thrownBy, MAX_P, backend, viaWire } from '../../../helpers/logic.ts';

type Key = string | number | [string, number];
/** The two sides have their key in different fields, so each side's key selector is the one used. */
interface Left { k: Key; t: number; id: number }
interface Right { rk: Key; t: number; id: number }
type Event = { left: Left } | { right: Right } | { watermark: number };

const keyOf: [(record: unknown) => unknown, (record: unknown) => unknown] = [(r) => (r as Left).k, (r) => (r as Right).rk];

/** What the spec's join function returns for a pair: both ids, and the context it was given. */
interface Joined { pair: string; key: unknown; leftTimestamp: number; rightTimestamp: number; timestamp: number }

const pairUp = fn((left: Left, right: Right, ctx: IntervalJoinContext): Joined[] =>
  [{ pair: `${left.id}-${right.id}`, key: ctx.key, leftTimestamp: ctx.leftTimestamp, rightTimestamp: ctx.rightTimestamp, timestamp: ctx.timestamp }]);

/** Records and side outputs as the logic emits them, each with its timestamp. */
class Capture implements Collector {
  readonly main: { record: unknown; timestamp: number | undefined }[] = [];
  readonly side: { tag: string; record: unknown; timestamp: number | undefined }[] = [];

  emit(record: unknown, timestamp?: number): void {
    this.main.push({ record, timestamp });
  }

  emitTo(tag: string, record: unknown, timestamp?: number): void {
    this.side.push({ tag, record, timestamp });
  }
}

function drive(logic: OperatorLogic, events: Event[], out: Capture): void {
  for (const event of events) {
    if ('left' in event) logic.process!(event.left, out, 1, event.left.t);
    else if ('right' in event) logic.process!(event.right, out, 2, event.right.t);
    else logic.onWatermark!(event.watermark, out);
  }
}

/** The pairs emitted, sorted (a multiset of unique ids); checks each result's context and timestamp on the way. */
function pairsOf(out: Capture): string[] {
  return out.main.map(({ record, timestamp }) => {
    const joined = record as Joined;
    expect(joined.timestamp, `${joined.pair}: ctx.timestamp is the later of the two`).to.equal(Math.max(joined.leftTimestamp, joined.rightTimestamp));
    expect(timestamp, `${joined.pair}: the result carries ctx.timestamp`).to.equal(joined.timestamp);
    return joined.pair;
  }).sort();
}

/** Whether right - left is inside the bounds, as the user wrote them. */
function inBounds(settings: IntervalJoinSettings, leftT: number, rightT: number): boolean {
  const d = rightT - leftT;
  return (settings.lowerExclusive ? d > settings.lowerMs : d >= settings.lowerMs) && (settings.upperExclusive ? d < settings.upperMs : d <= settings.upperMs);
}

interface Expected {
  /** What Flink's IntervalJoinOperator emits. */
  pairs: string[];
  /** Every pair of same-key records, both on time when they came, inside the bounds. */
  onTime: string[];
  /** The on-time pairs Flink misses: the later record was exactly at the watermark, and its partner was cleaned up at that watermark. */
  missed: { pair: string; later: number; watermark: number }[];
  /** The buckets (side|key|t) held after each watermark, by the index of its event. */
  held: Map<number, string[]>;
  /** How many records came late (t < watermark). */
  late: number;
}

/**
 * By brute force over all records so far. A record is on time when t ≥ the watermark (Flink:
 * late is t < watermark). Flink's cleanup: a left record at t goes once a watermark reaches
 * t + max(upper, 0), a right one at t - min(lower, 0), with the bounds made inclusive (an
 * exclusive bound moved a millisecond inward). A record joins every record of the other side
 * and its key, in the bounds, not cleaned up yet.
 */
function reference(events: Event[], settings: IntervalJoinSettings): Expected {
  const upper = settings.upperExclusive ? settings.upperMs - 1 : settings.upperMs;
  const lower = settings.lowerExclusive ? settings.lowerMs + 1 : settings.lowerMs;
  interface Held { side: 'left' | 'right'; key: string; t: number; id: number; cleanup: number; gone: boolean }
  const all: Held[] = [];
  let watermark = Number.NEGATIVE_INFINITY;
  const pairs: string[] = [];
  const onTime: string[] = [];
  const missed: Expected['missed'] = [];
  const held = new Map<number, string[]>();
  let late = 0;
  events.forEach((event, index) => {
    if ('watermark' in event) {
      watermark = event.watermark;
      for (const record of all) if (record.cleanup <= watermark) record.gone = true;
      held.set(index, [...new Set(all.filter((r) => !r.gone).map((r) => `${r.side}|${r.key}|${r.t}`))].sort());
      return;
    }
    const side = 'left' in event ? 'left' : 'right';
    const { t, id } = 'left' in event ? event.left : event.right;
    const key = canonicalKey('left' in event ? event.left.k : event.right.rk);
    if (t < watermark) {
      late++;
      return;
    }
    for (const other of all) {
      if (other.side === side || other.key !== key) continue;
      const [leftT, rightT] = side === 'left' ? [t, other.t] : [other.t, t];
      if (!inBounds(settings, leftT, rightT)) continue;
      const pair = side === 'left' ? `${id}-${other.id}` : `${other.id}-${id}`;
      onTime.push(pair);
      if (other.gone) missed.push({ pair, later: t, watermark });
      else pairs.push(pair);
    }
    all.push({ side, key, t, id, cleanup: side === 'left' ? t + Math.max(upper, 0) : t - Math.min(lower, 0), gone: false });
  });
  return { pairs: pairs.sort(), onTime: onTime.sort(), missed, held, late };
}

/** The buckets the logic holds, as side|key|t. */
function bucketsHeld(states: KeyedStateBackend[]): string[] {
  const held: string[] = [];
  for (const state of states) {
    for (const side of ['left', 'right'] as const) {
      const name = `intervalJoin.${side}`;
      const buffer = state.store.map<number, unknown[]>(name);
      for (const key of state.keys(name)) {
        state.setCurrentKey(key);
        for (const t of buffer.keys()) held.push(`${side}|${canonicalKey(key)}|${t}`);
      }
    }
  }
  return held.sort();
}

const KEYS: Key[] = ['a', 'b', 7, ['x', 1], '日本'];

/**
 * Both sides in event time: records mostly within `disorder` of the time so far, some far
 * behind (late); watermarks now and then, behind the stream, and now and then ahead of it
 * (then many records come late). Ends with the end of input (Infinity).
 */
function stream(random: () => number, count: number, disorder: number): Event[] {
  let now = Math.floor((random() - 0.5) * 2000);
  let watermark = Number.NEGATIVE_INFINITY;
  const events: Event[] = [];
  for (let id = 0; id < count; id++) {
    now += Math.floor(random() * 6);
    const roll = random();
    // Some exactly at the watermark: on time, but maybe too late for a partner cleaned up at it.
    const t = roll < 0.04 && watermark > Number.NEGATIVE_INFINITY ? watermark
      : roll < 0.14 ? now - Math.floor(random() * 300) : now - Math.floor(random() * (disorder + 1));
    const key = KEYS[Math.floor(random() * KEYS.length)]!;
    events.push(random() < 0.5 ? { left: { k: key, t, id } } : { right: { rk: key, t, id } });
    const step = random();
    const next = step < 0.01 ? now + Math.floor(random() * 100) : step < 0.15 ? now - disorder - Math.floor(random() * 30) : watermark;
    if (next > watermark) events.push({ watermark: (watermark = next) });
  }
  events.push({ watermark: Number.POSITIVE_INFINITY });
  return events;
}

const lastWatermark = (events: Event[]): Event[] => {
  const passed = events.filter((e): e is { watermark: number } => 'watermark' in e).at(-1);
  return passed ? [passed] : [];
};

/** Runs events on `parallelism` subtasks: records to the subtask of their key, watermarks to all. */
function runAt(states: KeyedStateBackend[], logics: OperatorLogic[], events: Event[], out: Capture, check?: (index: number) => void): void {
  events.forEach((event, index) => {
    if ('watermark' in event) {
      for (const logic of logics) drive(logic, [event], out);
      check?.(index);
      return;
    }
    const key = 'left' in event ? event.left.k : event.right.rk;
    drive(logics[subtaskForKey(canonicalKey(key), MAX_P, states.length)]!, [event], out);
  });
}

const label = (s: IntervalJoinSettings): string => `${s.lowerExclusive ? '(' : '['}${s.lowerMs}, ${s.upperMs}${s.upperExclusive ? ')' : ']'}`;

const SETTINGS: IntervalJoinSettings[] = [
  { lowerMs: -30, upperMs: 20 },
  { lowerMs: 0, upperMs: 0 },
  { lowerMs: 12, upperMs: 12 },
  { lowerMs: 5, upperMs: 40, lowerExclusive: true },
  { lowerMs: -50, upperMs: -10, upperExclusive: true },
  { lowerMs: -20, upperMs: 20, lowerExclusive: true, upperExclusive: true },
  { lowerMs: -1, upperMs: 1, lowerExclusive: true, upperExclusive: true },
  { lowerMs: -200, upperMs: 150 },
];

describe('intervalJoinLogic', () => {
  const make = (settings: IntervalJoinSettings, state: KeyedStateBackend): OperatorLogic => intervalJoinLogic(settings, pairUp, keyOf, state, 'j');
  const left = (k: Key, t: number, id: number): Event => ({ left: { k, t, id } });
  const right = (k: Key, t: number, id: number): Event => ({ right: { rk: k, t, id } });

  it('follows Flink on a worked example: both directions, the later timestamp, only the same key, late records dropped', () => {
    const state = backend();
    const logic = make({ lowerMs: -2, upperMs: 3 }, state);
    const out = new Capture();
    // Left 1 at 10 joins rights in [8, 13].
    drive(logic, [left('a', 10, 1), right('a', 8, 2), right('a', 13, 3), right('a', 14, 4), right('a', 7, 5), right('b', 10, 6)], out);
    expect(out.main.map((e) => [(e.record as Joined).pair, e.timestamp])).to.deep.equal([['1-2', 10], ['1-3', 13]]);
    out.main.length = 0;
    // Left 7 at 11 joins rights in [9, 14], in the order they came.
    drive(logic, [left('a', 11, 7)], out);
    expect(out.main.map((e) => e.record)).to.deep.equal([
      { pair: '7-3', key: 'a', leftTimestamp: 11, rightTimestamp: 13, timestamp: 13 },
      { pair: '7-4', key: 'a', leftTimestamp: 11, rightTimestamp: 14, timestamp: 14 },
    ]);
    out.main.length = 0;
    // At watermark 12: 11 is late (11 < 12) though right 13 is still held; 12 is on time.
    drive(logic, [{ watermark: 12 }, left('a', 11, 8), left('a', 12, 9)], out);
    expect(pairsOf(out)).to.deep.equal(['9-3', '9-4']);
    drive(logic, [{ watermark: Number.POSITIVE_INFINITY }], out);
    expect(state.size, 'nothing held at the end of input').to.equal(0);
  });

  it('lets the function send to side outputs, with the result timestamp, and emit nothing for undefined, null or an empty iterable', () => {
    for (const none of [undefined, null, [], new Set()]) {
      const logic = intervalJoinLogic({ lowerMs: 0, upperMs: 10 }, fn((l: Left, r: Right, ctx: IntervalJoinContext) => {
        ctx.output('pairs', `${l.id}-${r.id}`);
        return none;
      }), keyOf, backend(), 'j');
      const out = new Capture();
      drive(logic, [right('a', 15, 2), left('a', 9, 1)], out);
      expect(out.main, String(none)).to.deep.equal([]);
      expect(out.side).to.deep.equal([{ tag: 'pairs', record: '1-2', timestamp: 15 }]);
    }
  });

  it('yields what a generator yields, each with the pair\'s timestamp', () => {
    const logic = intervalJoinLogic({ lowerMs: -5, upperMs: 5 }, fn(function* (l: Left, r: Right) {
      yield l.id;
      yield r.id;
    }), keyOf, backend(), 'j');
    const out = new Capture();
    drive(logic, [left('a', 3, 1), right('a', 1, 2)], out);
    expect(out.main).to.deep.equal([{ record: 1, timestamp: 3 }, { record: 2, timestamp: 3 }]);
  });

  it('joins within exclusive bounds, negative bounds, and a single point (lower == upper)', () => {
    const joins = (settings: IntervalJoinSettings, rightTimes: number[]): number[] => {
      const out = new Capture();
      drive(make(settings, backend()), [left('a', 100, 0), ...rightTimes.map((t, i) => right('a', t, i + 1))], out);
      return out.main.map((e) => (e.record as Joined).rightTimestamp).sort((a, b) => a - b);
    };
    const around = Array.from({ length: 81 }, (_, i) => 60 + i);
    expect(joins({ lowerMs: -3, upperMs: 4 }, around)).to.deep.equal([97, 98, 99, 100, 101, 102, 103, 104]);
    expect(joins({ lowerMs: -3, upperMs: 4, lowerExclusive: true }, around)).to.deep.equal([98, 99, 100, 101, 102, 103, 104]);
    expect(joins({ lowerMs: -3, upperMs: 4, upperExclusive: true }, around)).to.deep.equal([97, 98, 99, 100, 101, 102, 103]);
    expect(joins({ lowerMs: -3, upperMs: 4, lowerExclusive: true, upperExclusive: true }, around)).to.deep.equal([98, 99, 100, 101, 102, 103]);
    expect(joins({ lowerMs: -30, upperMs: -27 }, around)).to.deep.equal([70, 71, 72, 73]);
    expect(joins({ lowerMs: -30, upperMs: -27, lowerExclusive: true, upperExclusive: true }, around)).to.deep.equal([71, 72]);
    expect(joins({ lowerMs: 5, upperMs: 5 }, around)).to.deep.equal([105]);
    expect(joins({ lowerMs: 0, upperMs: 0 }, around)).to.deep.equal([100]);
    expect(joins({ lowerMs: -7, upperMs: -7 }, around)).to.deep.equal([93]);
    expect(joins({ lowerMs: 4, upperMs: 5, upperExclusive: true }, around)).to.deep.equal([104]);
  });

  it('holds each side exactly until Flink\'s cleanup time: left t + max(upper, 0), right t - min(lower, 0)', () => {
    const heldAfter = (settings: IntervalJoinSettings, event: Event, watermarks: number[]): boolean[] => {
      const state = backend();
      const logic = make(settings, state);
      drive(logic, [event], new Capture());
      return watermarks.map((w) => {
        logic.onWatermark!(w, new Capture());
        return state.size > 0;
      });
    };
    expect(heldAfter({ lowerMs: -5, upperMs: 10 }, left('a', 100, 1), [50, 109, 110])).to.deep.equal([true, true, false]);
    expect(heldAfter({ lowerMs: -5, upperMs: 10, upperExclusive: true }, left('a', 100, 1), [108, 109])).to.deep.equal([true, false]);
    expect(heldAfter({ lowerMs: -10, upperMs: -5 }, left('a', 100, 1), [99, 100])).to.deep.equal([true, false]);
    expect(heldAfter({ lowerMs: -5, upperMs: 10 }, right('a', 100, 1), [104, 105])).to.deep.equal([true, false]);
    expect(heldAfter({ lowerMs: -5, upperMs: 10, lowerExclusive: true }, right('a', 100, 1), [103, 104])).to.deep.equal([true, false]);
    expect(heldAfter({ lowerMs: 5, upperMs: 10 }, right('a', 100, 1), [99, 100])).to.deep.equal([true, false]);
  });

  it('misses, as Flink, a pair whose later record is exactly at the watermark that cleaned up its partner', () => {
    // Flink calls only t < watermark late, but cleans up at watermark ≥ t + upper; a watermark promises no record at its own time.
    const out = new Capture();
    drive(make({ lowerMs: 0, upperMs: 10 }, backend()), [left('a', 100, 1), { watermark: 110 }, right('a', 110, 2), left('a', 110, 3)], out);
    expect(pairsOf(out), 'left 1 is gone at 110; left 3 at 110 still joins right 2').to.deep.equal(['3-2']);
  });

  it('drops a late record from both sides: neither joined nor held', () => {
    const state = backend();
    const logic = make({ lowerMs: -100, upperMs: 100 }, state);
    const out: Collector = { emit: () => { throw new Error('emit called'); }, emitTo: () => { throw new Error('emitTo called'); } };
    logic.onWatermark!(50, out);
    logic.process!({ k: 'a', t: 49, id: 1 }, out, 1, 49);
    logic.process!({ rk: 'a', t: 0, id: 2 }, out, 2, 0);
    expect(state.size).to.equal(0);
  });

  for (const settings of SETTINGS) {
    for (const parallelism of [1, 4]) {
      it(`on random out-of-order and late records, joins the pairs Flink joins and holds what it holds (${label(settings)}, parallelism ${parallelism})`, () => {
        for (const seed of [1, 2, 3, 4]) {
          const events = stream(prng(seed * 131 + settings.upperMs), 1500, 40);
          const expected = reference(events, settings);
          const states = Array.from({ length: parallelism }, (_, i) => backend(i, parallelism));
          const out = new Capture();
          runAt(states, states.map((state) => make(settings, state)), events, out, (index) => {
            expect(bucketsHeld(states), `seed ${seed}: the buckets held after event ${index}`).to.deep.equal(expected.held.get(index));
          });
          expect(pairsOf(out), `seed ${seed}`).to.deep.equal(expected.pairs);
          expect(states.map((s) => s.size), 'nothing held after the end of input').to.deep.equal(states.map(() => 0));
          // Flink's pairs are the on-time pairs in the bounds, but for those at the boundary its cleanup leaves out.
          for (const { pair, later, watermark } of expected.missed) expect(later, `${pair} missed only at the watermark itself`).to.equal(watermark);
          expect(expected.pairs.length + expected.missed.length).to.equal(expected.onTime.length);
          // Else the reference would not be exercised where it matters.
          expect(expected.pairs.length, 'pairs joined').to.be.greaterThan(10);
          expect(expected.late, 'records late').to.be.greaterThan(20);
        }
      });
    }

    it(`restored from a snapshot mid-stream into a new backend, joins the same, nothing twice (${label(settings)})`, () => {
      const events = stream(prng(7 + settings.lowerMs), 1200, 40);
      const expected = reference(events, settings);
      for (const cut of [0, 1, 300, 601, 1000, events.length - 1]) {
        const first = backend();
        const out = new Capture();
        drive(make(settings, first), events.slice(0, cut), out);
        const second = backend();
        second.restore([viaWire(first.snapshot())]);
        const restored = make(settings, second);
        restored.restoreState!([undefined]);
        // The event-time clock is not state: the watermark the old instance had comes first again.
        drive(restored, [...lastWatermark(events.slice(0, cut)), ...events.slice(cut)], out);
        expect(pairsOf(out), `cut at ${cut}`).to.deep.equal(expected.pairs);
        expect(second.size, `cut at ${cut}: nothing held after the end of input`).to.equal(0);
      }
    });
  }

  for (const [from, to] of [[2, 3], [3, 1], [1, 4], [4, 2]] as const) {
    it(`moves both buffers with their key groups to another parallelism (${from} → ${to}), joining the same`, () => {
      const settings: IntervalJoinSettings = { lowerMs: -40, upperMs: 25, upperExclusive: true };
      const events = stream(prng(from * 10 + to), 1500, 40);
      const expected = reference(events, settings);
      for (const cut of [400, 777, 1100]) {
        const out = new Capture();
        const oldStates = Array.from({ length: from }, (_, i) => backend(i, from));
        runAt(oldStates, oldStates.map((state) => make(settings, state)), events.slice(0, cut), out);
        const snapshots = oldStates.map((state) => viaWire(state.snapshot()));
        const newStates = Array.from({ length: to }, (_, i) => backend(i, to));
        const logics = newStates.map((state) => {
          state.restore(snapshots);
          const logic = make(settings, state);
          logic.restoreState!(snapshots.map(() => undefined));
          return logic;
        });
        runAt(newStates, logics, [...lastWatermark(events.slice(0, cut)), ...events.slice(cut)], out, (index) => {
          if (index > 0) expect(bucketsHeld(newStates), `cut at ${cut}: the buckets held`).to.deep.equal(expected.held.get(index - 1 + cut));
        });
        expect(pairsOf(out), `cut at ${cut}`).to.deep.equal(expected.pairs);
        expect(newStates.map((s) => s.size)).to.deep.equal(newStates.map(() => 0));
      }
    });
  }

  describe('errors', () => {
    it('lets an error the function throws propagate as it is', () => {
      const boom = new Error('boom');
      const logic = intervalJoinLogic({ lowerMs: 0, upperMs: 5 }, fn(() => { throw boom; }), keyOf, backend(), 'j');
      logic.process!({ k: 'a', id: 1 }, new Capture(), 1, 10);
      expect(thrownBy(() => logic.process!({ rk: 'a', id: 2 }, new Capture(), 2, 12))).to.equal(boom);
    });

    it('fails naming the join when the function returns something that is not iterable, or a string', () => {
      for (const [result, shown] of [[5, 'number 5'], [{ a: 1 }, 'object \\{"a":1\\}'], ['abc', 'string abc']] as const) {
        const logic = intervalJoinLogic({ lowerMs: 0, upperMs: 5 }, fn(() => result), keyOf, backend(), 'orders-payments');
        logic.process!({ rk: 'a', id: 2 }, new Capture(), 2, 12);
        const error = thrownBy(() => logic.process!({ k: 'a', id: 1 }, new Capture(), 1, 10));
        expect(error).to.be.instanceOf(CloudflinkError);
        expect((error as CloudflinkError).code).to.equal('UDF_FAILED');
        expect((error as Error).message).to.match(new RegExp(`the function of interval join 'orders-payments' must return an array or another iterable, not ${shown}`));
      }
    });

    it('fails naming the join when ctx.output is given no tag', () => {
      const logic = intervalJoinLogic({ lowerMs: 0, upperMs: 5 }, fn((_l: Left, _r: Right, ctx: IntervalJoinContext) => ctx.output('', 1)), keyOf, backend(), 'j');
      logic.process!({ k: 'a', id: 1 }, new Capture(), 1, 10);
      expect(() => logic.process!({ rk: 'a', id: 2 }, new Capture(), 2, 12)).to.throw(CloudflinkError, /needs a non-empty string tag/);
    });

    it('fails naming the join when a record on either side comes without a timestamp', () => {
      for (const input of [1, 2] as const) {
        const error = thrownBy(() => make({ lowerMs: 0, upperMs: 5 }, backend()).process!({ k: 'a', rk: 'a' }, new Capture(), input, undefined));
        expect(error).to.be.instanceOf(CloudflinkError);
        expect((error as CloudflinkError).code).to.equal('UDF_FAILED');
        expect((error as Error).message).to.match(/interval join 'j' got a record without a timestamp: give its source event time \(assignTimestampsAndWatermarks/);
      }
    });

    it('refuses at construction a lower bound above the upper one, an interval exclusive bounds leave empty, and bounds that are not whole milliseconds', () => {
      const refusal = (settings: IntervalJoinSettings): CloudflinkError => {
        const error = thrownBy(() => intervalJoinLogic(settings, pairUp, keyOf, backend(), 'j'));
        expect(error).to.be.instanceOf(CloudflinkError);
        expect((error as CloudflinkError).code).to.equal('DESCRIPTOR_INVALID');
        return error as CloudflinkError;
      };
      expect(refusal({ lowerMs: 10, upperMs: 5 }).message).to.match(/interval join 'j': the lower bound 10 ms is above the upper bound 5 ms/);
      expect(refusal({ lowerMs: 5, upperMs: 5, lowerExclusive: true }).message).to.match(/the interval \(5, 5\] ms holds no timestamp/);
      expect(refusal({ lowerMs: 5, upperMs: 6, lowerExclusive: true, upperExclusive: true }).message).to.match(/the interval \(5, 6\) ms holds no timestamp/);
      expect(refusal({ lowerMs: 0.5, upperMs: 6 }).message).to.match(/the lower bound must be a whole number of milliseconds, not number 0.5/);
      expect(refusal({ lowerMs: 0, upperMs: Number.POSITIVE_INFINITY }).message).to.match(/the upper bound must be a whole number/);
      expect(() => intervalJoinLogic({ lowerMs: 5, upperMs: 6, lowerExclusive: true }, pairUp, keyOf, backend(), 'j')).to.not.throw();
    });
  });
});
