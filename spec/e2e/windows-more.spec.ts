import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import {
  captureFunction, ProcessingTimeSessionWindows, StreamExecutionEnvironment, SlidingProcessingTimeWindows, TumblingEventTimeWindows, TumblingProcessingTimeWindows,
  type PlainProcessContext, type WindowContext,
} from '../../lib/api/index.ts';
import type { ClusterClient } from '../../lib/client/index.ts';
import type { JobDescriptor } from '../../lib/descriptor/types.ts';
import { instantiateUserFunction } from '../../lib/descriptor/udf.ts';
import { runCli } from '../helpers/cli.ts';
import { clusterFlags, useProcessCluster } from '../helpers/cluster.ts';
import { range, type TestNats } from '../helpers/nats.ts';

/** One generated event: `n` is 1 (a reduce adds it up), `id` its index. */
interface Ev { k: string; t: number; v: number; n: number; id: number }

interface Knobs {
  seed: number;
  keys: number;
  /** Event time grows by stepMs every 4 events, so that equal times are common. */
  stepMs: number;
  /** Each event is up to this far behind the time so far: within the watermarks' out-of-orderness when it is equal. */
  disorderMs: number;
  /** From event `lateFrom`, every `lateEvery`-th is `lateByMs` behind the time so far: far behind the watermark. */
  lateFrom?: number;
  lateEvery?: number;
  lateByMs?: number;
}

/** Event i: shipped as source text, so it reads only `params` (a Knobs). */
function event(i: number): Ev {
  const p = params as Knobs;
  let h = Math.imul((i + 1) ^ p.seed, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = (h ^ (h >>> 13)) >>> 0;
  const now = Math.floor(i / 4) * p.stepMs;
  let t = now - ((h >>> 8) % (p.disorderMs + 1));
  if (p.lateEvery !== undefined && i >= p.lateFrom! && i % p.lateEvery === 0) t = now - p.lateByMs!;
  return { k: `k${h % p.keys}`, t, v: (h >>> 4) % 20, n: 1, id: i };
}

const isLate = (i: number, p: Knobs): boolean => p.lateEvery !== undefined && i >= p.lateFrom! && i % p.lateEvery === 0;

/** The events as the Task Managers generate them: the shipped text, instantiated as they do. */
async function eventsOf(count: number, knobs: Knobs): Promise<Ev[]> {
  const at = await instantiateUserFunction(captureFunction(event, 'generate()').fn, knobs as unknown as Record<string, unknown>, 'reference');
  return range(count).map((i) => at(i) as Ev);
}

function sumUp(a: Ev, b: Ev): Ev {
  return { k: a.k, t: Math.max(a.t, b.t), v: a.v + b.v, n: a.n + b.n, id: a.id + b.id };
}

const sumOf = (k: string, events: Ev[]): Ev =>
  ({ k, t: Math.max(...events.map((e) => e.t)), v: events.reduce((s, e) => s + e.v, 0), n: events.length, id: events.reduce((s, e) => s + e.id, 0) });

/** A window's records by id, and its key. */
function ids(elements: Ev[], ctx: WindowContext<string>): { k: string; ids: number[] }[] {
  return [{ k: ctx.key, ids: elements.map((e) => e.id) }];
}

/** A window's records by id, not keyed. */
function allIds(elements: Ev[]): number[][] {
  return [elements.map((e) => e.id)];
}

/** Records as sorted JSON lines: equal multisets compare equal, and a difference shows as lines. */
const lines = (records: unknown[]): string[] => records.map((r) => JSON.stringify(r)).sort();

function byKey(events: Ev[]): Map<string, Ev[]> {
  const keys = new Map<string, Ev[]>();
  for (const e of events) keys.set(e.k, [...keys.get(e.k) ?? [], e]);
  return keys;
}

/** Flink's countWindow(size): each `size` records of a key, purged as they fire; a partial window never fires. */
function countTumbling(events: Ev[], size: number): Ev[][] {
  const windows: Ev[][] = [];
  for (let end = size; end <= events.length; end += size) windows.push(events.slice(end - size, end));
  return windows;
}

/** Flink's countWindow(size, slide): every `slide` records, the last `size` (fewer at first). */
function countSliding(events: Ev[], size: number, slide: number): Ev[][] {
  const windows: Ev[][] = [];
  for (let end = slide; end <= events.length; end += slide) windows.push(events.slice(Math.max(0, end - size), end));
  return windows;
}

const perKey = (events: Ev[], windowsOf: (events: Ev[]) => Ev[][]): { k: string; events: Ev[] }[] =>
  [...byKey(events)].flatMap(([k, own]) => windowsOf(own).map((w) => ({ k, events: w })));

/** Stable: ties keep their order. */
const sortedBy = (events: Ev[], by: (e: Ev) => number, order: 'asc' | 'desc' = 'asc'): Ev[] =>
  [...events].sort((a, b) => (order === 'asc' ? 1 : -1) * (by(a) - by(b)));

/** Each event-time tumbling window's events in arrival order, by ascending start: the order windowAll fires them in. */
function tumblingWindows(events: Ev[], sizeMs: number): Ev[][] {
  const windows = new Map<number, Ev[]>();
  for (const e of events) {
    const start = Math.floor(e.t / sizeMs) * sizeMs;
    windows.set(start, [...windows.get(start) ?? [], e]);
  }
  return [...windows].sort(([a], [b]) => a - b).map(([, w]) => w);
}

function firstOf<T>(records: T[], keyOf: (r: T) => string): T[] {
  const seen = new Set<string>();
  return records.filter((r) => !seen.has(keyOf(r)) && seen.add(keyOf(r)));
}

/** The sections of `cloudflink run --wait`'s stdout: "collected by <id> (<n> records):" then one JSON line each. */
function collectedFrom(stdout: string): Record<string, unknown[]> {
  const collected: Record<string, unknown[]> = {};
  let current: unknown[] | undefined;
  for (const line of stdout.split('\n').filter(Boolean)) {
    const header = /^collected by (\S+) \(\d+ records\):$/.exec(line);
    if (header) collected[header[1]!] = current = [];
    else current?.push(JSON.parse(line));
  }
  return collected;
}

describe('more windows, sorting and plain process functions on a cluster of real processes', function () {
  this.timeout(120_000);
  let nats: TestNats;
  let client: ClusterClient;
  // 2 TMs × 2 slots: a job of parallelism 4 takes them all.
  useProcessCluster('windows-more', 2, 2, (started) => ({ nats, client } = started));

  for (const parallelism of [1, 4]) {
    it(`fires countWindow(size) and countWindow(size, slide) per key as Flink does, never a partial one (parallelism ${parallelism})`, async () => {
      const COUNT = 3001;
      const knobs: Knobs = { seed: 31 + parallelism, keys: 7, stepMs: 2, disorderMs: 10 };
      const events = await eventsOf(COUNT, knobs);
      const env = new StreamExecutionEnvironment(client, { parallelism, params: { ...knobs } });
      // One source subtask: each key's records reach its window in index order, whatever the window's parallelism.
      const keyed = env.generate(COUNT, event, { uid: 'events', parallelism: 1 }).keyBy('k');
      keyed.countWindow(5).process(ids, { uid: 'tumbling-process' }).collect({ uid: 'tp' });
      keyed.countWindow(4).reduce(sumUp, { uid: 'tumbling-reduce' }).collect({ uid: 'tr' });
      keyed.countWindow(5, 2).process(ids, { uid: 'sliding-process' }).collect({ uid: 'sp' });
      keyed.countWindow(6, 3).reduce(sumUp, { uid: 'sliding-reduce' }).collect({ uid: 'sr' });
      keyed.countWindow(3, 4).aggregate({
        create: function zero() { return 0; },
        add: function addV(acc: number, e: Ev) { return acc + e.v; },
        result: function total(acc: number) { return acc; },
      }, { uid: 'gapped-aggregate' }).collect({ uid: 'ga' });
      // At full parallelism, the source too: a key's records interleave from 4 subtasks, so only what does not depend on the order is fixed.
      env.generate(COUNT, event, { uid: 'spread-events' }).keyBy('k').countWindow(5).process(ids, { uid: 'spread-process' }).collect({ uid: 'spread' });

      const result = await (await env.execute(`count-windows-${parallelism}`)).result();
      expect(result.state, result.cause).to.equal('FINISHED');
      const got = result.collected;
      const idsOf = (windows: { k: string; events: Ev[] }[]) => windows.map(({ k, events: w }) => ({ k, ids: w.map((e) => e.id) }));
      expect(lines(got.tp!), 'countWindow(5), process').to.deep.equal(lines(idsOf(perKey(events, (own) => countTumbling(own, 5)))));
      expect(lines(got.tr!), 'countWindow(4), reduce').to.deep.equal(lines(perKey(events, (own) => countTumbling(own, 4)).map(({ k, events: w }) => sumOf(k, w))));
      expect(lines(got.sp!), 'countWindow(5, 2), process').to.deep.equal(lines(idsOf(perKey(events, (own) => countSliding(own, 5, 2)))));
      expect(lines(got.sr!), 'countWindow(6, 3), reduce').to.deep.equal(lines(perKey(events, (own) => countSliding(own, 6, 3)).map(({ k, events: w }) => sumOf(k, w))));
      expect(lines(got.ga!), 'countWindow(3, 4), aggregate: the last 3 of every 4').to.deep.equal(lines(perKey(events, (own) => countSliding(own, 3, 4)).map(({ events: w }) => w.reduce((s, e) => s + e.v, 0))));

      // Each window: 5 records of its key, none in two windows; ⌊n / 5⌋ windows per key.
      const spread = got.spread as { k: string; ids: number[] }[];
      const seen = new Set<number>();
      for (const w of spread) {
        expect(w.ids, `a window of ${w.k}`).to.have.length(5);
        for (const id of w.ids) {
          expect(events[id]!.k, `event ${id} in a window of ${w.k}`).to.equal(w.k);
          expect(seen.has(id), `event ${id} in two windows`).to.equal(false);
          seen.add(id);
        }
      }
      const windowsPerKey = (windows: { k: string }[]) => [...byKey(events).keys()].sort().map((k) => [k, windows.filter((w) => w.k === k).length]);
      expect(windowsPerKey(spread)).to.deep.equal([...byKey(events)].sort(([a], [b]) => a.localeCompare(b)).map(([k, own]) => [k, Math.floor(own.length / 5)]));
    });
  }

  it('windowAll and countWindowAll: distinct, topN and sortBy (by a field, by event time) per window of out-of-order events (parallelism 1)', async () => {
    const COUNT = 2000;
    const SIZE = 100;
    const knobs: Knobs = { seed: 7, keys: 6, stepMs: 2, disorderMs: 15 };
    const events = await eventsOf(COUNT, knobs);
    expect(events.some((e, i) => i > 0 && e.t < events[i - 1]!.t), 'out of order').to.equal(true);
    const env = new StreamExecutionEnvironment(client, { parallelism: 1, params: { ...knobs } });
    const source = env.generate(COUNT, event, { uid: 'events', ratePerSecond: 10_000 })
      .assignTimestampsAndWatermarks({ timestamp: 't', outOfOrdernessMs: knobs.disorderMs, intervalMs: 10 });
    const windowed = () => source.windowAll(TumblingEventTimeWindows.of(SIZE)).sideOutputLateData('late');
    const byTime = windowed().sortBy(undefined, 'asc', { uid: 'by-time' });
    byTime.collect({ uid: 'time' });
    byTime.getSideOutput('late').collect({ uid: 'late' });
    windowed().sortBy('v', 'asc', { uid: 'by-v' }).collect({ uid: 'v-asc' });
    windowed().sortBy(function negated(e: Ev) { return -e.id; }, 'desc', { uid: 'by-id' }).collect({ uid: 'id-asc' });
    windowed().topN(3, 'v', 'desc', { uid: 'top-fn' }).collect({ uid: 'top' });
    windowed().topN(2, 't', 'asc', { uid: 'earliest-fn' }).collect({ uid: 'earliest' });
    windowed().distinct('k', { uid: 'first-per-key' }).collect({ uid: 'first' });
    source.map(function coarse(e: Ev) { return { k: e.k, odd: e.v % 2 }; }, { uid: 'coarse' })
      .windowAll(TumblingEventTimeWindows.of(SIZE)).distinct(undefined, { uid: 'distinct-fn' }).collect({ uid: 'distinct' });
    source.countWindowAll(7).process(allIds, { uid: 'count-all' }).collect({ uid: 'count' });
    source.countWindowAll(7, 3).process(allIds, { uid: 'count-all-sliding' }).collect({ uid: 'count-sliding' });

    const result = await (await env.execute('windows-all')).result();
    expect(result.state, result.cause).to.equal('FINISHED');
    const got = result.collected;
    const windows = tumblingWindows(events, SIZE);
    expect(windows.length).to.be.at.least(9);
    const id = (records: unknown[]) => (records as Ev[]).map((e) => e.id);
    expect(id(got.time!), 'sortBy(): by event time, ties in arrival order').to.deep.equal(windows.flatMap((w) => sortedBy(w, (e) => e.t)).map((e) => e.id));
    expect(got.late, 'nothing late within the out-of-orderness').to.deep.equal([]);
    expect(id(got['v-asc']!), "sortBy('v')").to.deep.equal(windows.flatMap((w) => sortedBy(w, (e) => e.v)).map((e) => e.id));
    expect(id(got['id-asc']!), 'sortBy(fn, desc)').to.deep.equal(windows.flatMap((w) => sortedBy(w, (e) => e.id)).map((e) => e.id));
    expect(id(got.top!), "topN(3, 'v'): ties in arrival order").to.deep.equal(windows.flatMap((w) => sortedBy(w, (e) => e.v, 'desc').slice(0, 3)).map((e) => e.id));
    expect(id(got.earliest!), "topN(2, 't', 'asc')").to.deep.equal(windows.flatMap((w) => sortedBy(w, (e) => e.t).slice(0, 2)).map((e) => e.id));
    expect(id(got.first!), "distinct('k'): each key's first record").to.deep.equal(windows.flatMap((w) => firstOf(w, (e) => e.k)).map((e) => e.id));
    expect(got.distinct, 'distinct(): whole records').to.deep.equal(windows.flatMap((w) => firstOf(w.map((e) => ({ k: e.k, odd: e.v % 2 })), (r) => JSON.stringify(r))));
    const idLists = (ws: Ev[][]) => ws.map((w) => w.map((e) => e.id));
    expect(got.count, 'countWindowAll(7): the last 5 records never fire').to.deep.equal(idLists(countTumbling(events, 7)));
    expect(got['count-sliding'], 'countWindowAll(7, 3)').to.deep.equal(idLists(countSliding(events, 7, 3)));
  });

  it('windowAll on an input of parallelism 4: the same windows whatever the interleaving, when ranks do not tie', async () => {
    const COUNT = 4000;
    const SIZE = 100;
    const knobs: Knobs = { seed: 8, keys: 5, stepMs: 2, disorderMs: 15 };
    const events = await eventsOf(COUNT, knobs);
    const env = new StreamExecutionEnvironment(client, { parallelism: 4, params: { ...knobs } });
    const source = env.generate(COUNT, event, { uid: 'events', ratePerSecond: 16_000 })
      .assignTimestampsAndWatermarks({ timestamp: 't', outOfOrdernessMs: knobs.disorderMs, intervalMs: 10 });
    const unique = function unique(e: Ev) { return e.v * 100_000 + e.id; };
    const windowed = () => source.windowAll(TumblingEventTimeWindows.of(SIZE));
    // Sinks of parallelism 1 too, or the windows' order would not survive into the collected list.
    windowed().sortBy(unique, 'desc', { uid: 'sorted-fn' }).collect({ uid: 'sorted', parallelism: 1 });
    windowed().topN(4, unique, 'asc', { uid: 'top-fn' }).collect({ uid: 'top', parallelism: 1 });
    source.map(function coarse(e: Ev) { return { k: e.k, odd: e.v % 2, w: Math.floor(e.t / 100) }; }, { uid: 'coarse' })
      .windowAll(TumblingEventTimeWindows.of(SIZE)).distinct(undefined, { uid: 'distinct-fn' }).collect({ uid: 'distinct' });

    const result = await (await env.execute('windows-all-4')).result();
    expect(result.state, result.cause).to.equal('FINISHED');
    const windows = tumblingWindows(events, SIZE);
    const rank = (e: Ev) => e.v * 100_000 + e.id;
    const id = (records: unknown[]) => (records as Ev[]).map((e) => e.id);
    expect(id(result.collected.sorted!), 'sortBy(fn, desc)').to.deep.equal(windows.flatMap((w) => sortedBy(w, rank, 'desc')).map((e) => e.id));
    expect(id(result.collected.top!), 'topN(4, fn, asc)').to.deep.equal(windows.flatMap((w) => sortedBy(w, rank).slice(0, 4)).map((e) => e.id));
    const coarse = events.map((e) => ({ k: e.k, odd: e.v % 2, w: Math.floor(e.t / 100) }));
    expect(lines(result.collected.distinct!), 'distinct()').to.deep.equal(lines(firstOf(coarse, (r) => JSON.stringify(r))));
  });

  for (const parallelism of [1, 4]) {
    it(`counts every record exactly once in aligned processing-time windows, firing the open ones at end of input (parallelism ${parallelism})`, async () => {
      const COUNT = 3000;
      const knobs: Knobs = { seed: 60 + parallelism, keys: 8, stepMs: 2, disorderMs: 0 };
      const events = await eventsOf(COUNT, knobs);
      const env = new StreamExecutionEnvironment(client, { parallelism, params: { ...knobs } });
      // Paced over about 0.75 s: several 200 ms windows fire while the input runs.
      const source = env.generate(COUNT, event, { uid: 'events', ratePerSecond: 4000 });
      const summarize = function summarize(elements: Ev[], ctx: WindowContext<string>) {
        return [{ k: ctx.key, start: ctx.window.start, end: ctx.window.end, n: elements.length, id: elements.reduce((s, e) => s + e.id, 0) }];
      };
      source.keyBy('k').window(TumblingProcessingTimeWindows.of(200)).process(summarize, { uid: 'tumbling-fn' }).collect({ uid: 'tumbling' });
      source.keyBy('k').window(SlidingProcessingTimeWindows.of(300, 100)).process(summarize, { uid: 'sliding-fn' }).collect({ uid: 'sliding' });
      source.keyBy('k').window(TumblingProcessingTimeWindows.of(150, 50)).process(summarize, { uid: 'offset-fn' }).collect({ uid: 'offset' });
      source.keyBy('k').window(TumblingProcessingTimeWindows.of(250)).reduce(sumUp, { uid: 'reduce-fn' }).collect({ uid: 'reduce' });
      // Records come far more often than the gap: one session per key, open until the end of input.
      source.keyBy('k').window(ProcessingTimeSessionWindows.withGap(400)).process(summarize, { uid: 'session-fn' }).collect({ uid: 'session' });
      // A minute long: still open when the input ends, so only the end of input fires it.
      source.windowAll(TumblingProcessingTimeWindows.of(60_000)).process(function minute(elements: Ev[], ctx: WindowContext<null>) {
        return [{ start: ctx.window.start, end: ctx.window.end, n: elements.length }];
      }, { uid: 'minute-fn' }).collect({ uid: 'minute' });

      const started = Date.now();
      const result = await (await env.execute(`processing-time-${parallelism}`)).result();
      const ended = Date.now();
      expect(result.state, result.cause).to.equal('FINISHED');
      type Fired = { k: string; start: number; end: number; n: number; id: number };
      const got = result.collected as Record<string, Fired[]>;
      const expected = [...byKey(events)].map(([k, own]) => [k, own.length, own.reduce((s, e) => s + e.id, 0)]).sort();
      /** Per key: how many records its windows held, and the sum of their ids, over `copies` (the windows a record is in). */
      const totals = (fired: { k: string; n: number; id: number }[], copies: number) => {
        const perKeyTotal = new Map<string, [number, number]>();
        for (const f of fired) {
          const [n, id] = perKeyTotal.get(f.k) ?? [0, 0];
          perKeyTotal.set(f.k, [n + f.n, id + f.id]);
        }
        return [...perKeyTotal].map(([k, [n, id]]) => [k, n / copies, id / copies]).sort();
      };
      for (const [name, size, slide, offset, copies] of [['tumbling', 200, 200, 0, 1], ['sliding', 300, 100, 0, 3], ['offset', 150, 150, 50, 1]] as const) {
        const fired = got[name]!;
        expect(totals(fired, copies), `${name}: each record in ${copies} window(s) of its key`).to.deep.equal(expected);
        for (const f of fired) {
          expect(f.end - f.start, `${name}: ${f.k}@${f.start}`).to.equal(size);
          expect((f.start - offset) % slide, `${name}: ${f.k}@${f.start} aligned`).to.equal(0);
          expect(f.start, `${name}: ${f.k}@${f.start} within the run`).to.be.within(started - size, ended);
        }
        expect(new Set(fired.map((f) => f.start)).size, `${name}: windows over the run`).to.be.at.least(3);
      }
      expect(totals(got.reduce!, 1), 'tumbling 250, reduce').to.deep.equal(expected);
      expect(totals(got.session!, 1), 'sessions').to.deep.equal(expected);
      for (const f of got.session!) expect(f.end - f.start, `session of ${f.k}`).to.be.at.least(400);
      const minute = got.minute!;
      expect(minute.reduce((s, f) => s + f.n, 0), 'the minute windows hold every record').to.equal(COUNT);
      expect(minute.length, 'one minute window, or two if the run crossed a minute').to.be.within(1, 2);
      for (const f of minute) expect([f.start % 60_000, f.end - f.start]).to.deep.equal([0, 60_000]);
    });
  }

  it('fires each processing-time window once, with every record that came in it', async () => {
    const env = new StreamExecutionEnvironment(client, { parallelism: 1 });
    // About 20 records a millisecond: many arrive in a window's last millisecond.
    env.generate(20_000, undefined, { uid: 'numbers', ratePerSecond: 20_000 })
      .windowAll(TumblingProcessingTimeWindows.of(100))
      .process(function counted(elements: number[], ctx: WindowContext<null>) { return [{ start: ctx.window.start, n: elements.length }]; }, { uid: 'count-fn' })
      .collect({ uid: 'counts' });
    const result = await (await env.execute('processing-time-once')).result();
    expect(result.state, result.cause).to.equal('FINISHED');
    const fired = result.collected.counts as { start: number; n: number }[];
    expect(fired.reduce((s, f) => s + f.n, 0)).to.equal(20_000);
    const twice = fired.filter((f) => fired.filter((g) => g.start === f.start).length > 1);
    expect(twice, 'windows that fired more than once').to.deep.equal([]);
  });

  it('sortByEventTime at parallelism 1: the input stably sorted by time, the events behind the watermark to the late output', async () => {
    const COUNT = 400;
    // 5 ms of event time per event at 800 events/s: a late event is 400 ms of event time, 100 ms of wall time, behind.
    const knobs: Knobs = { seed: 77, keys: 3, stepMs: 20, disorderMs: 30, lateFrom: 100, lateEvery: 23, lateByMs: 400 };
    const events = await eventsOf(COUNT, knobs);
    const late = events.filter((e) => isLate(e.id, knobs));
    const onTime = events.filter((e) => !isLate(e.id, knobs));
    expect(late.length).to.be.at.least(10);
    expect(onTime.some((e, i) => i > 0 && e.t === onTime[i - 1]!.t), 'equal times, for stability').to.equal(true);
    const env = new StreamExecutionEnvironment(client, { parallelism: 1, params: { ...knobs } });
    const sorted = env.generate(COUNT, event, { uid: 'events', ratePerSecond: 800 })
      .assignTimestampsAndWatermarks({ timestamp: 't', outOfOrdernessMs: knobs.disorderMs, intervalMs: 5 })
      .sortByEventTime({ uid: 'sort', lateTag: 'late' });
    sorted.collect({ uid: 'sorted' });
    sorted.getSideOutput<Ev>('late').collect({ uid: 'late' });

    const result = await (await env.execute('sort-by-event-time')).result();
    expect(result.state, result.cause).to.equal('FINISHED');
    expect((result.collected.sorted as Ev[]).map((e) => e.id), 'sorted, ties in arrival order').to.deep.equal(sortedBy(onTime, (e) => e.t).map((e) => e.id));
    expect(result.collected.late, 'the late events, in arrival order').to.deep.equal(late);
  });

  for (const parallelism of [1, 4]) {
    it(`runs a process function on a stream that is not keyed, with ctx.timestamp and side outputs (parallelism ${parallelism})`, async () => {
      const COUNT = 2000;
      const knobs: Knobs = { seed: 90 + parallelism, keys: 4, stepMs: 2, disorderMs: 10 };
      const events = await eventsOf(COUNT, knobs);
      const env = new StreamExecutionEnvironment(client, { parallelism, params: { ...knobs, divisor: 3 } });
      const processed = env.generate(COUNT, event, { uid: 'events' })
        .assignTimestampsAndWatermarks({ timestamp: 't', outOfOrdernessMs: knobs.disorderMs })
        .process(function route(e: Ev, ctx: PlainProcessContext) {
          const now = ctx.timerService.currentProcessingTime();
          if (e.v % (params as { divisor: number }).divisor === 0) ctx.output('divisible', { id: e.id, at: ctx.timestamp });
          else if (e.v === 1) ctx.output('ones', e.id);
          return e.id % 2 === 0 ? [{ id: e.id, at: ctx.timestamp, clock: typeof now === 'number' && now > 1e12 }] : [];
        }, { uid: 'route' });
      processed.collect({ uid: 'main' });
      processed.getSideOutput('divisible').collect({ uid: 'divisible' });
      processed.getSideOutput('ones').collect({ uid: 'ones' });

      const result = await (await env.execute(`plain-process-${parallelism}`)).result();
      expect(result.state, result.cause).to.equal('FINISHED');
      const got = result.collected;
      expect(lines(got.main!), 'main output').to.deep.equal(lines(events.filter((e) => e.id % 2 === 0).map((e) => ({ id: e.id, at: e.t, clock: true }))));
      expect(lines(got.divisible!), 'side output divisible').to.deep.equal(lines(events.filter((e) => e.v % 3 === 0).map((e) => ({ id: e.id, at: e.t }))));
      expect(lines(got.ones!), 'side output ones').to.deep.equal(lines(events.filter((e) => e.v === 1).map((e) => e.id)));
    });
  }

  it('fails a plain process function that uses ctx.state or a timer, saying to keyBy first', async () => {
    const failing = async (name: string, fn: (e: { k: string; i: number }, ctx: PlainProcessContext) => unknown[]): Promise<string | undefined> => {
      const env = new StreamExecutionEnvironment(client, { parallelism: 2 });
      env.fromCollection(range(20).map((i) => ({ k: `k${i % 3}`, i }))).process(fn, { uid: 'plain' }).collect({ uid: 'out' });
      const result = await (await env.execute(name)).result();
      expect(result.state, name).to.equal('FAILED');
      return result.cause;
    };
    const withState = await failing('plain-process-state', function remember(e, ctx) {
      (ctx as unknown as { state: { value(name: string): { update(v: unknown): void } } }).state.value('last').update(e.i);
      return [e];
    });
    expect(withState).to.match(/keyed state \(ctx\.state\) needs a keyed stream: keyBy\(\.\.\.\) before process\(\)/);
    const withTimer = await failing('plain-process-timer', function later(e, ctx) {
      (ctx.timerService as unknown as { registerProcessingTimeTimer(t: number): void }).registerProcessingTimeTimer(Date.now() + 10);
      return [e];
    });
    expect(withTimer).to.match(/a timer needs a keyed stream: keyBy\(\.\.\.\) before process\(\)/);
  });

  it('runs a JSON descriptor through the CLI: a global window with a count trigger, and a window join of two hash inputs', async () => {
    const file = 'spec/e2e/jobs/count-trigger-and-window-join.json';
    const descriptor = JSON.parse(readFileSync(file, 'utf8')) as JobDescriptor;
    const elements = (id: string) => (descriptor.vertices.find((v) => v.id === id) as { elements: Record<string, string | number>[] }).elements;

    const run = await runCli(['run', file, '--wait', ...clusterFlags(nats.url, 'windows-more')]);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stderr).to.match(/\(count-trigger-and-window-join\) FINISHED/);
    const collected = collectedFrom(run.stdout);

    // Not purging: each firing has every record of the key so far, every third one.
    const fired: { k: string; ids: number[] }[] = [];
    const soFar = new Map<string, number[]>();
    for (const { k, id } of elements('clicks') as { k: string; id: number }[]) {
      soFar.set(k, [...soFar.get(k) ?? [], id]);
      if (soFar.get(k)!.length % 3 === 0) fired.push({ k, ids: soFar.get(k)! });
    }
    expect(fired.map((f) => f.k).sort()).to.deep.equal(['a', 'a', 'b']);
    expect(lines(collected.fired!), 'the count trigger').to.deep.equal(lines(fired));

    const joined: unknown[] = [];
    for (const order of elements('orders')) {
      for (const payment of elements('payments')) {
        const sameWindow = Math.floor(Number(order.t) / 10) === Math.floor(Number(payment.t) / 10);
        if (order.k === payment.k && sameWindow) joined.push({ k: order.k, o: order.o, p: payment.p });
      }
    }
    expect(joined).to.have.length(5);
    expect(lines(collected.joined!), 'the window join').to.deep.equal(lines(joined));
  });
});

declare const params: unknown;
