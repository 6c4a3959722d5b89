import { expect } from 'chai';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { canonicalKey } from '../../../../lib/partition/index.ts';
import { keyedProcessLogic, type KeyedProcessContext, type ProcessingTime } from '../../../../actors/operator/logic/keyed-process.ts';
import type { Collector, OperatorLogic, UserFn } from '../../../../actors/operator/logic/types.ts';
import { prng } from '../../../helpers/random.ts';
import { fn, backend, viaWire } from '../../../helpers/logic.ts';

/** A clock driven by hand: `advance(to)` sets the time, then runs each callback due by then, earliest first. */
class FakeClock implements ProcessingTime {
  private pending: { time: number; callback: (out: Collector) => void }[] = [];

  constructor(public time = 0) {}

  now(): number {
    return this.time;
  }

  at(time: number, callback: (out: Collector) => void): void {
    this.pending.push({ time, callback });
  }

  advance(to: number, out: Collector): void {
    this.time = to;
    for (;;) {
      const due = this.pending.filter((p) => p.time <= to).sort((a, b) => a.time - b.time)[0];
      if (!due) return;
      this.pending.splice(this.pending.indexOf(due), 1);
      due.callback(out);
    }
  }
}

/** Records as the logic emits them, with the timestamp of each. */
class Capture implements Collector {
  readonly main: { record: unknown; timestamp: number | undefined }[] = [];

  emit(record: unknown, timestamp?: number): void {
    this.main.push({ record, timestamp });
  }

  get records(): unknown[] {
    return this.main.map((e) => e.record);
  }
}

type Key = string | number | [string, number];
type Op = ['reg' | 'del' | 'preg' | 'pdel', number];
/** An input record: its key, its event time, and what the process function does with its timers, in order. */
interface Rec { k: Key; t: number; ops: Op[] }

/** What onTimer emits: the key's record count and timer count (its own firing included) at the time it fired. */
interface Fired { k: Key; time: number; domain: 'event' | 'processing'; n: number; fired: number; ts: number | undefined; wm?: number; now?: number }

const keyOf = (record: unknown): unknown => (record as Rec).k;

/** Counts the key's records in state, and does the record's timer operations. */
const countAndSet = fn((record: Rec, ctx: KeyedProcessContext) => {
  const n = ctx.state.value<number>('n');
  n.update((n.value() ?? 0) + 1);
  for (const [op, time] of record.ops) {
    if (op === 'reg') ctx.timerService.registerEventTimeTimer(time);
    else if (op === 'del') ctx.timerService.deleteEventTimeTimer(time);
    else if (op === 'preg') ctx.timerService.registerProcessingTimeTimer(time);
    else ctx.timerService.deleteProcessingTimeTimer(time);
  }
});

/** Reports the key's state; every third event-time firing of a key sets another timer 7 ms on, from inside onTimer. */
const report = fn((time: number, ctx: KeyedProcessContext): Fired[] => {
  const fired = ctx.state.value<number>('fired');
  fired.update((fired.value() ?? 0) + 1);
  const domain = ctx.timeDomain!;
  if (domain === 'event' && fired.value()! % 3 === 0) ctx.timerService.registerEventTimeTimer(time + 7);
  return [{
    k: ctx.key as Key, time, domain, n: ctx.state.value<number>('n').value() ?? 0, fired: fired.value()!, ts: ctx.timestamp,
    ...(domain === 'event' ? { wm: ctx.timerService.currentWatermark() } : { now: ctx.timerService.currentProcessingTime() }),
  }];
});

type Step = { record: Rec } | { watermark: number } | { clock: number };

/** Feeds one step; checks that what it fired came in time order and carries the right timestamp. */
function feed(logic: OperatorLogic, clock: FakeClock, step: Step, out: Capture): void {
  const from = out.main.length;
  if ('record' in step) logic.process!(step.record, out, 1, step.record.t);
  else if ('watermark' in step) logic.onWatermark!(step.watermark, out);
  else clock.advance(step.clock, out);
  const fired = out.main.slice(from);
  const times = fired.map((e) => (e.record as Fired).time);
  expect(times, 'timers fired by one step, in time order').to.deep.equal([...times].sort((a, b) => a - b));
  for (const { record, timestamp } of fired) {
    const f = record as Fired;
    expect(timestamp, `the output timestamp of ${JSON.stringify(f)}`).to.equal(f.domain === 'event' ? f.time : undefined);
    expect(f.ts, 'ctx.timestamp in onTimer').to.equal(f.domain === 'event' ? f.time : undefined);
  }
}

/** Flink's KeyedProcessFunction with timers, as a plain loop: what each step fires, sorted. */
function reference(steps: Step[]): string[][] {
  const keys = new Map<string, { k: Key; n: number; fired: number; event: Set<number>; processing: Set<number> }>();
  const of = (k: Key) => {
    const id = canonicalKey(k);
    if (!keys.has(id)) keys.set(id, { k, n: 0, fired: 0, event: new Set(), processing: new Set() });
    return keys.get(id)!;
  };
  const fireDue = (domain: 'event' | 'processing', upTo: number, extra: Partial<Fired>): Fired[] => {
    const fired: Fired[] = [];
    for (;;) {
      let next: { s: ReturnType<typeof of>; time: number } | undefined;
      for (const s of keys.values()) {
        for (const time of s[domain]) if (time <= upTo && (!next || time < next.time)) next = { s, time };
      }
      if (!next) return fired;
      const { s, time } = next;
      s[domain].delete(time);
      s.fired++;
      if (domain === 'event' && s.fired % 3 === 0) s.event.add(time + 7);
      fired.push({ k: s.k, time, domain, n: s.n, fired: s.fired, ts: domain === 'event' ? time : undefined, ...extra });
    }
  };
  return steps.map((step) => {
    if ('record' in step) {
      const s = of(step.record.k);
      s.n++;
      for (const [op, time] of step.record.ops) {
        if (op === 'reg') s.event.add(time);
        else if (op === 'del') s.event.delete(time);
        else if (op === 'preg') s.processing.add(time);
        else s.processing.delete(time);
      }
      return [];
    }
    if ('watermark' in step) return fireDue('event', step.watermark, { wm: step.watermark }).map((f) => JSON.stringify(f)).sort();
    return fireDue('processing', step.clock, { now: step.clock }).map((f) => JSON.stringify(f)).sort();
  });
}

/**
 * Random steps: records of a few keys (strings, numbers, tuples) that set and delete timers near
 * the time so far (some behind the watermark, some set twice), rising watermarks and clock ticks;
 * then the end of input: the clock far on, and the watermark at Infinity.
 */
function script(random: () => number, count: number): Step[] {
  const keys: Key[] = ['a', 'b', 7, -3, ['x', 1], ['x', 2], 'c'];
  const steps: Step[] = [];
  let watermark = 0;
  let now = 1000;
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
  for (let i = 0; i < count; i++) {
    const r = random();
    if (r < 0.1) steps.push({ watermark: (watermark += Math.floor(random() * 40)) });
    else if (r < 0.15) steps.push({ clock: (now += Math.floor(random() * 40)) });
    else {
      const ops: Op[] = [];
      for (let j = Math.floor(random() * 4); j > 0; j--) {
        const o = random();
        const op = o < 0.45 ? 'reg' : o < 0.6 ? 'del' : o < 0.85 ? 'preg' : 'pdel';
        const base = op === 'reg' || op === 'del' ? watermark : now;
        // Times on a coarse grid, so that registering twice and deleting what was set are common.
        ops.push([op, base + 5 * Math.floor(random() * 16) - 10]);
      }
      steps.push({ record: { k: pick(keys), t: watermark + Math.floor(random() * 50), ops } });
    }
  }
  steps.push({ clock: now + 1_000_000 }, { watermark: Infinity });
  return steps;
}

/** What each step fired, sorted: ties between keys may fire in either order. */
const byStep = (outs: Capture[]): string[][] => outs.map((out) => out.records.map((r) => JSON.stringify(r)).sort());

function run(steps: Step[]): string[][] {
  const clock = new FakeClock(1000);
  const logic = keyedProcessLogic(countAndSet, report, keyOf, backend(), clock);
  return byStep(steps.map((step) => {
    const out = new Capture();
    feed(logic, clock, step, out);
    return out;
  }));
}

describe('keyedProcessLogic timers', () => {
  /** A process function over { k, t, ops } records with the counting fn and the reporting onTimer, on a fresh backend. */
  const setUp = (onTimer: UserFn | null = report) => {
    const clock = new FakeClock(1000);
    const state = backend();
    const logic = keyedProcessLogic(countAndSet, onTimer ?? undefined, keyOf, state, clock);
    const out = new Capture();
    const step = (s: Step): Fired[] => {
      const from = out.main.length;
      feed(logic, clock, s, out);
      return out.main.slice(from).map((e) => e.record as Fired);
    };
    const record = (k: Key, t: number, ...ops: Op[]) => step({ record: { k, t, ops } });
    return { clock, state, logic, out, step, record };
  };

  it('fires event-time timers as the watermark passes them, in time order, each with its key and its state', () => {
    const { step, record } = setUp();
    record('a', 1, ['reg', 30], ['reg', 10]);
    record('b', 2, ['reg', 20]);
    record('a', 3);
    expect(step({ watermark: 9 }), 'nothing is due before 10').to.deep.equal([]);
    expect(step({ watermark: 25 })).to.deep.equal([
      { k: 'a', time: 10, domain: 'event', n: 2, fired: 1, ts: 10, wm: 25 },
      { k: 'b', time: 20, domain: 'event', n: 1, fired: 1, ts: 20, wm: 25 },
    ]);
    record('b', 26);
    expect(step({ watermark: 30 }), 'a timer at the watermark is due').to.deep.equal([{ k: 'a', time: 30, domain: 'event', n: 2, fired: 2, ts: 30, wm: 30 }]);
    expect(step({ watermark: 1000 }), 'each timer fires once').to.deep.equal([]);
  });

  it('fires a timer set twice for one key and time once, and the same time for two keys once for each', () => {
    const { step, record } = setUp();
    record('a', 1, ['reg', 10], ['reg', 10]);
    record('a', 2, ['reg', 10]);
    record(['x', 1], 3, ['reg', 10]);
    const fired = step({ watermark: 10 });
    expect(fired.map((f) => canonicalKey(f.k)).sort()).to.deep.equal([canonicalKey('a'), canonicalKey(['x', 1])].sort());
    expect(fired.find((f) => f.k === 'a')).to.deep.equal({ k: 'a', time: 10, domain: 'event', n: 2, fired: 1, ts: 10, wm: 10 });
  });

  it('does not fire a deleted timer, deleted by the key that set it only; one set again after its deletion fires once', () => {
    const { step, record } = setUp();
    record('a', 1, ['reg', 10], ['reg', 20], ['reg', 30]);
    record('b', 2, ['reg', 10]);
    record('a', 3, ['del', 10], ['del', 30], ['reg', 30], ['del', 99]);
    record('b', 4, ['del', 20]);
    expect(step({ watermark: Infinity }).map((f) => `${String(f.k)}@${f.time}`)).to.deep.equal(['b@10', 'a@20', 'a@30']);
  });

  it('fires the rest at the end of input, timers set from onTimer included, with the timestamp of each', () => {
    const { step, record, out } = setUp();
    record('a', 1, ['reg', 100], ['reg', 5_000], ['reg', 200]);
    record('b', 2, ['reg', -50]);
    const fired = step({ watermark: Infinity });
    // 'a' fires a third time at 5000, and so sets 5007 from onTimer: the end of input fires it too.
    expect(fired.map((f) => `${String(f.k)}@${f.time}#${f.fired}`)).to.deep.equal(['b@-50#1', 'a@100#1', 'a@200#2', 'a@5000#3', 'a@5007#4']);
    expect(out.main.map((e) => e.timestamp)).to.deep.equal([-50, 100, 200, 5000, 5007]);
  });

  it('fires a timer set behind the watermark at the next watermark, not at once', () => {
    const { step, record } = setUp();
    expect(step({ watermark: 100 })).to.deep.equal([]);
    expect(record('a', 150, ['reg', 50])).to.deep.equal([]);
    expect(step({ watermark: 101 })).to.deep.equal([{ k: 'a', time: 50, domain: 'event', n: 1, fired: 1, ts: 50, wm: 101 }]);
  });

  it('fires processing-time timers when the clock reaches them, in time order, and not the deleted ones', () => {
    const { step, record, out } = setUp();
    record('a', 1, ['preg', 1100], ['preg', 1050], ['preg', 1300]);
    record('b', 2, ['preg', 1050], ['preg', 1200]);
    record('b', 3, ['pdel', 1200], ['preg', 1100]);
    expect(step({ watermark: Infinity }), 'the watermark does not fire processing-time timers').to.deep.equal([]);
    expect(step({ clock: 1049 })).to.deep.equal([]);
    expect(step({ clock: 1100 }).map((f) => `${String(f.k)}@${f.time} now ${f.now}`).sort())
      .to.deep.equal(['a@1050 now 1100', 'a@1100 now 1100', 'b@1050 now 1100', 'b@1100 now 1100']);
    expect(step({ clock: 1299 }), 'the deleted one').to.deep.equal([]);
    expect(step({ clock: 5000 })).to.deep.equal([{ k: 'a', time: 1300, domain: 'processing', n: 1, fired: 3, ts: undefined, now: 5000 }]);
    expect(out.main.every((e) => e.timestamp === undefined), 'processing-time results carry no timestamp').to.equal(true);
  });

  it('fires a processing-time timer set in the past at the next turn of the clock, and one set earlier than the next wake-up before it', () => {
    const { step, record } = setUp();
    record('a', 1, ['preg', 1500]);
    record('a', 2, ['preg', 900]);
    expect(step({ clock: 1000 }).map((f) => f.time)).to.deep.equal([900]);
    record('b', 3, ['preg', 1200]);
    expect(step({ clock: 1200 }).map((f) => f.time)).to.deep.equal([1200]);
    expect(step({ clock: 1600 }).map((f) => f.time)).to.deep.equal([1500]);
  });

  it('refuses a timer from a process function without onTimer, saying so, and a timer at a time that is not a finite number', () => {
    const { record } = setUp(null);
    expect(() => record('a', 1, ['reg', 10])).to.throw(CloudflinkError, /no onTimer/)
      .that.has.property('code', 'UDF_FAILED');
    expect(() => record('a', 1, ['preg', 10])).to.throw(CloudflinkError, /no onTimer/);
    const withTimer = setUp();
    expect(() => withTimer.record('a', 1, ['reg', NaN])).to.throw(CloudflinkError, /finite time/);
    expect(() => withTimer.record('a', 1, ['preg', Infinity])).to.throw(CloudflinkError, /finite time/);
  });

  it('keeps its timers as keyed state: none left once all fired', () => {
    const { step, record, state } = setUp();
    record('a', 1, ['reg', 10], ['preg', 1010]);
    expect(state.keys('__timers')).to.deep.equal(['a']);
    step({ watermark: 10 });
    step({ clock: 1010 });
    expect(state.keys('__timers')).to.deep.equal([]);
  });

  for (const seed of [1, 2, 3, 4]) {
    it(`fires what the plain loop fires, step by step (seed ${seed})`, () => {
      const steps = script(prng(seed), 600);
      const expected = reference(steps);
      expect(run(steps)).to.deep.equal(expected);
      const total = expected.flat().length;
      expect(total, 'timers fired').to.be.greaterThan(100);
      expect(expected.flat().filter((f) => f.includes('"processing"')).length, 'processing-time timers fired').to.be.greaterThan(20);
    });
  }

  for (const seed of [11, 12, 13]) {
    it(`restored from a snapshot mid-stream into a new backend, fires the rest exactly as an unbroken run (seed ${seed})`, () => {
      const random = prng(seed);
      const steps = script(random, 400);
      const unbroken = run(steps);
      expect(unbroken).to.deep.equal(reference(steps));
      for (const cut of [0, 1, 57, 200, 333, steps.length - 2, steps.length - 1, Math.floor(random() * steps.length)]) {
        const clock = new FakeClock(1000);
        const first = backend();
        const logic = keyedProcessLogic(countAndSet, report, keyOf, first, clock);
        const outs = steps.slice(0, cut).map((step) => {
          const out = new Capture();
          feed(logic, clock, step, out);
          return out;
        });
        const snapshot = viaWire(first.snapshot());
        // A new instance: a new backend, and a clock at the same time with none of the old callbacks.
        const second = backend();
        second.restore([snapshot]);
        const restoredClock = new FakeClock(clock.time);
        const restored = keyedProcessLogic(countAndSet, report, keyOf, second, restoredClock);
        restored.restoreState!([undefined]);
        for (const step of steps.slice(cut)) {
          const out = new Capture();
          feed(restored, restoredClock, step, out);
          outs.push(out);
        }
        expect(byStep(outs), `cut at ${cut}`).to.deep.equal(unbroken);
      }
    });
  }
});
