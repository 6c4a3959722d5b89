import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  captureFunction, JobHandle, SlidingEventTimeWindows, StreamExecutionEnvironment, TumblingEventTimeWindows,
  type SingleOutputStreamOperator, type WindowContext,
} from '../../lib/api/index.ts';
import { ClusterClient } from '../../lib/client/index.ts';
import type { LocalCluster } from '../../lib/cluster/local.ts';
import type { FixedWindowAssigner } from '../../lib/descriptor/types.ts';
import { instantiateUserFunction } from '../../lib/descriptor/udf.ts';
import { windowStarts } from '../../actors/operator/logic/windows.ts';
import { expectRecoveredFromKill, useProcessCluster } from '../helpers/cluster.ts';
import { eventually, range, type TestNats } from '../helpers/nats.ts';
import { prng } from '../helpers/random.ts';

/** One generated event: `n` is 1 (a reduce adds it up), `id` its index. */
interface Ev { k: string; t: number; v: number; n: number; id: number }

/** What the window functions below emit per window (process), or an Ev reduced over it (reduce). */
interface Summary { k: string; start: number; end: number; n: number; v: number; id: number }

interface Knobs {
  seed: number;
  keys: number;
  /** Event time grows by stepMs every 4 events, so that equal times are common. */
  stepMs: number;
  /** Each event is up to this far behind the time so far: within the watermarks' out-of-orderness when it is equal. */
  disorderMs: number;
  /** From event `lateFrom`, every `veryLateEvery`-th is `veryLateByMs` behind; every `lateEvery`-th is past the out-of-orderness by up to `lateByMs`. */
  lateFrom?: number;
  veryLateEvery?: number;
  veryLateByMs?: number;
  lateEvery?: number;
  lateByMs?: number;
}

/**
 * Event i: shipped as source text, so it reads only `params` (a Knobs). A subtask of a generator
 * emits its share in ascending order, so the time so far is at most stepMs · ⌊i / 4⌋: an event
 * within the disorder is never behind its source's watermark.
 */
function event(i: number): Ev {
  const p = params as Knobs;
  let h = Math.imul((i + 1) ^ p.seed, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = (h ^ (h >>> 13)) >>> 0;
  const now = Math.floor(i / 4) * p.stepMs;
  let t = now - ((h >>> 8) % (p.disorderMs + 1));
  if (p.lateFrom !== undefined && i >= p.lateFrom && i % p.veryLateEvery! === 0) t = now - p.veryLateByMs!;
  else if (p.lateEvery !== undefined && i % p.lateEvery === 0) t = now - p.disorderMs - 1 - ((h >>> 4) % p.lateByMs!);
  return { k: `k${h % p.keys}`, t, v: (h >>> 4) % 100, n: 1, id: i };
}

function isVeryLate(i: number, p: Knobs): boolean {
  return p.lateFrom !== undefined && i >= p.lateFrom && i % p.veryLateEvery! === 0;
}

/** The events as the Task Managers generate them: the shipped text, instantiated as they do. */
async function eventsOf(count: number, knobs: Knobs): Promise<Ev[]> {
  const at = await instantiateUserFunction(captureFunction(event, 'generate()').fn, knobs as unknown as Record<string, unknown>, 'reference');
  return range(count).map((i) => at(i) as Ev);
}

function sumUp(a: Ev, b: Ev): Ev {
  return { k: a.k, t: Math.max(a.t, b.t), v: a.v + b.v, n: a.n + b.n, id: a.id + b.id };
}

function summarize(elements: Ev[], ctx: WindowContext<string>): Summary[] {
  let v = 0;
  let id = 0;
  for (const e of elements) {
    v += e.v;
    id += e.id;
  }
  return [{ k: ctx.key, start: ctx.window.start, end: ctx.window.end, n: elements.length, v, id }];
}

/** Each (key, window) of the plain loop: the events in it, in index order. */
function windowsOf(events: Ev[], assigner: FixedWindowAssigner): Map<string, { k: string; start: number; events: Ev[] }> {
  const windows = new Map<string, { k: string; start: number; events: Ev[] }>();
  for (const e of events) {
    for (const start of windowStarts(assigner, e.t)) {
      const id = `${e.k}@${start}`;
      if (!windows.has(id)) windows.set(id, { k: e.k, start, events: [] });
      windows.get(id)!.events.push(e);
    }
  }
  return windows;
}

const summaryOf = (k: string, start: number, size: number, events: Ev[]): Summary =>
  ({ k, start, end: start + size, n: events.length, v: events.reduce((s, e) => s + e.v, 0), id: events.reduce((s, e) => s + e.id, 0) });

const reducedOf = (k: string, events: Ev[]): Ev =>
  ({ k, t: Math.max(...events.map((e) => e.t)), v: events.reduce((s, e) => s + e.v, 0), n: events.length, id: events.reduce((s, e) => s + e.id, 0) });

/** Records as sorted JSON lines: equal multisets compare equal, and a difference shows as lines. */
const lines = (records: unknown[]): string[] => records.map((r) => JSON.stringify(r)).sort();

function expectedSummaries(events: Ev[], assigner: FixedWindowAssigner): Summary[] {
  return [...windowsOf(events, assigner).values()].map((w) => summaryOf(w.k, w.start, assigner.sizeMs, w.events));
}

function expectedReduced(events: Ev[], assigner: FixedWindowAssigner): Ev[] {
  return [...windowsOf(events, assigner).values()].map((w) => reducedOf(w.k, w.events));
}

const TUMBLING = TumblingEventTimeWindows.of(500) as FixedWindowAssigner;
const SLIDING = SlidingEventTimeWindows.of(1000, 250) as FixedWindowAssigner;
const TUMBLING_OFFSET = TumblingEventTimeWindows.of(300, 100) as FixedWindowAssigner;
const SLIDING_UNEVEN = SlidingEventTimeWindows.of(700, 300) as FixedWindowAssigner;

function committedLines(directory: string): string[] {
  return readdirSync(directory).filter((f) => f.startsWith('part-'))
    .flatMap((f) => readFileSync(join(directory, f), 'utf8').split('\n').filter(Boolean));
}

const vertex = (result: { vertices: { vertexId: string; recordsIn: number; recordsOut: number }[] }, id: string) =>
  result.vertices.filter((v) => v.vertexId === id).reduce((sum, v) => ({ recordsIn: sum.recordsIn + v.recordsIn, recordsOut: sum.recordsOut + v.recordsOut }), { recordsIn: 0, recordsOut: 0 });

describe('event-time windows on a cluster of real processes', function () {
  this.timeout(120_000);
  let nats: TestNats;
  let cluster: LocalCluster;
  let client: ClusterClient;
  // 2 TMs × 2 slots: a job of parallelism 4 takes them all, and a killed TM is replaced at once.
  useProcessCluster('windows', 2, 2, (started) => ({ nats, cluster, client } = started));
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'cloudflink-windows-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('(the generator) keeps every event within the disorder of the time so far, in any subtask\'s ascending share', async () => {
    const knobs: Knobs = { seed: 3, keys: 10, stepMs: 2, disorderMs: 40 };
    const events = await eventsOf(4000, knobs);
    let max = Number.NEGATIVE_INFINITY;
    let atTheBound = 0;
    for (const e of events) {
      expect(e.t, `event ${e.id}`).to.be.at.least(max - knobs.disorderMs);
      if (e.t === max - knobs.disorderMs) atTheBound++;
      max = Math.max(max, e.t);
    }
    expect(atTheBound, 'events exactly at the bound (not late: the watermark is 1 ms behind it)').to.be.greaterThan(0);
    expect(new Set(events.map((e) => e.k)).size).to.equal(knobs.keys);
  });

  for (const [parallelism, seed] of [[1, 11], [4, 12]] as const) {
    it(`gives the plain loop's windows for out-of-order events within the bound, late output empty (parallelism ${parallelism})`, async () => {
      const COUNT = 24_000;
      const knobs: Knobs = { seed, keys: 10, stepMs: 2, disorderMs: 40 };
      const events = await eventsOf(COUNT, knobs);

      const env = new StreamExecutionEnvironment(client, { parallelism, params: { ...knobs } });
      // Paced over about 1.5 s, so that windows fire on watermarks as events flow, not all at the end.
      const source = env.generate(COUNT, event, { uid: 'events', ratePerSecond: 16_000 })
        .assignTimestampsAndWatermarks({ timestamp: 't', outOfOrdernessMs: knobs.disorderMs, intervalMs: 10 });
      const windowed = (assigner: FixedWindowAssigner) => source.keyBy('k').window(assigner).sideOutputLateData('late');
      const collectWithLate = <T>(id: string, stream: SingleOutputStreamOperator<T>): void => {
        stream.collect({ uid: id });
        stream.getSideOutput('late').collect({ uid: `${id}-late` });
      };
      const tumblingReduce = windowed(TUMBLING).reduce(sumUp, { uid: 'tumbling-reduce' });
      collectWithLate('tr', tumblingReduce);
      collectWithLate('sp', windowed(SLIDING).process(summarize, { uid: 'sliding-process' }));
      collectWithLate('tp', windowed(TUMBLING_OFFSET).process(summarize, { uid: 'tumbling-offset-process' }));
      collectWithLate('sr', windowed(SLIDING_UNEVEN).reduce(sumUp, { uid: 'sliding-uneven-reduce' }));
      // Windows of windows: the 500 ms results carry the timestamp end - 1, so they fall in the right seconds.
      tumblingReduce.keyBy(function everything() { return 'all'; })
        .window(TumblingEventTimeWindows.of(1000))
        .process(function perSecond(reduced: Ev[], ctx: WindowContext<string>) { return [{ start: ctx.window.start, n: reduced.reduce((s, r) => s + r.n, 0) }]; }, { uid: 'per-second' })
        .collect({ uid: 'seconds' });

      const result = await (await env.execute(`windows-${parallelism}`)).result();
      expect(result.state, result.cause).to.equal('FINISHED');
      expect(vertex(result, 'tumbling-reduce').recordsIn, 'every event reached the window').to.equal(COUNT);
      const got = result.collected;
      expect(lines(got.tr!), 'tumbling 500, reduce').to.deep.equal(lines(expectedReduced(events, TUMBLING)));
      expect(lines(got.sp!), 'sliding 1000/250, process').to.deep.equal(lines(expectedSummaries(events, SLIDING)));
      expect(lines(got.tp!), 'tumbling 300 + 100, process').to.deep.equal(lines(expectedSummaries(events, TUMBLING_OFFSET)));
      expect(lines(got.sr!), 'sliding 700/300, reduce').to.deep.equal(lines(expectedReduced(events, SLIDING_UNEVEN)));
      for (const id of ['tr', 'sp', 'tp', 'sr']) expect(got[`${id}-late`], `${id}: nothing is late within the bound`).to.deep.equal([]);
      const perSecond = new Map<number, number>();
      for (const e of events) perSecond.set(Math.floor(e.t / 1000) * 1000, (perSecond.get(Math.floor(e.t / 1000) * 1000) ?? 0) + 1);
      expect(lines(got.seconds!), 'windows of windows').to.deep.equal(lines([...perSecond].map(([start, n]) => ({ start, n }))));
    });
  }

  it('sends events later than the out-of-orderness and the lateness to the late output, and only those; the windows take the rest', async () => {
    const COUNT = 12_000;
    // 7.5 s of event time per second of wall time: the very late events are 20 s (over 2 s of wall time) behind.
    const knobs: Knobs = { seed: 21, keys: 6, stepMs: 5, disorderMs: 100, lateFrom: 4000, veryLateEvery: 97, veryLateByMs: 20_000, lateEvery: 89, lateByMs: 300 };
    const events = await eventsOf(COUNT, knobs);
    const veryLate = events.filter((e) => isVeryLate(e.id, knobs));
    const onTime = events.filter((e) => !isVeryLate(e.id, knobs));
    expect(events.filter((e) => e.id % 89 === 0 && !isVeryLate(e.id, knobs)).length, 'events late within the lateness').to.be.greaterThan(100);

    const env = new StreamExecutionEnvironment(client, { parallelism: 2, params: { ...knobs } });
    const source = env.generate(COUNT, event, { uid: 'events', ratePerSecond: 6000 })
      .assignTimestampsAndWatermarks({ timestamp: 't', outOfOrdernessMs: knobs.disorderMs, intervalMs: 10 });
    const tumbling = source.keyBy('k').window(TumblingEventTimeWindows.of(1000)).allowedLateness(500).sideOutputLateData('too-late')
      .process(summarize, { uid: 'tumbling' });
    tumbling.collect({ uid: 't' });
    tumbling.getSideOutput<Ev>('too-late').collect({ uid: 't-late' });
    const slidingWindows = source.keyBy('k').window(SlidingEventTimeWindows.of(2000, 500)).allowedLateness(500).sideOutputLateData('too-late')
      .process(summarize, { uid: 'sliding' });
    slidingWindows.collect({ uid: 's' });
    slidingWindows.getSideOutput<Ev>('too-late').collect({ uid: 's-late' });

    const result = await (await env.execute('windows-late')).result();
    expect(result.state, result.cause).to.equal('FINISHED');
    for (const [id, assigner] of [['t', TumblingEventTimeWindows.of(1000)], ['s', SlidingEventTimeWindows.of(2000, 500)]] as const) {
      const late = result.collected[`${id}-late`] as Ev[];
      expect(lines(late), `${id}: the late output is the very late events, once each`).to.deep.equal(lines(veryLate));
      // A window fires on time, then again for each event within the lateness: its last firing has them all.
      const last = new Map<string, Summary>();
      for (const s of result.collected[id] as Summary[]) {
        const before = last.get(`${s.k}@${s.start}`);
        if (before) expect(s.n, `${id}: a later firing of ${s.k}@${s.start} holds more`).to.be.greaterThan(before.n);
        last.set(`${s.k}@${s.start}`, s);
      }
      expect(lines([...last.values()]), `${id}: every window, with every event not too late`).to.deep.equal(lines(expectedSummaries(onTime, assigner as FixedWindowAssigner)));
    }
  });

  describe('an idle source subtask', () => {
    const KEYS = 4;
    /** Event i of the busy source: ascending, 2 ms apart. */
    function busy(i: number): Ev {
      return { k: `k${i % 4}`, t: i * 2, v: i % 7, n: 1, id: i };
    }

    /**
     * A busy paced source and a quiet one (its only event due in 100 s), unioned into tumbling
     * windows of 1 s. The quiet one's watermarks cross a map in frames before the union.
     */
    async function startJob(output: string, idleTimeoutMs?: number): Promise<JobHandle> {
      const env = new StreamExecutionEnvironment(client, { parallelism: 2 });
      const busyEvents = env.generate(1_000_000, busy, { uid: 'busy', parallelism: 1, ratePerSecond: 2000 })
        .assignTimestampsAndWatermarks({ timestamp: 't', intervalMs: 50 });
      const quiet = env.generate(1, busy, { uid: 'quiet', parallelism: 1, ratePerSecond: 0.01 })
        .assignTimestampsAndWatermarks({ timestamp: 't', intervalMs: 50, ...(idleTimeoutMs === undefined ? {} : { idleTimeoutMs }) })
        .map(function same(e: Ev) { return e; }, { uid: 'quiet-map', parallelism: 1 }).disableChaining();
      busyEvents.union(quiet).uid('both').keyBy('k').window(TumblingEventTimeWindows.of(1000)).process(summarize, { uid: 'windows' })
        .writeAsText(output, { uid: 'out', parallelism: 1 });
      return env.execute(idleTimeoutMs === undefined ? 'windows-not-idle' : 'windows-idle');
    }

    async function cancel(handle: JobHandle): Promise<void> {
      await handle.cancel();
      await eventually(async () => (await handle.status()).state === 'CANCELED', 'the job to be cancelled');
    }

    it('does not hold the windows back once it declared itself idle: they fire while the job runs', async () => {
      const output = join(dir, 'idle.txt');
      const handle = await startJob(output, 300);
      // Metrics come with the heartbeats: windows fired, and the job still runs (the quiet source has not ended).
      await eventually(async () => {
        const status = await handle.status();
        return status.state === 'RUNNING' && vertex(status, 'windows').recordsOut >= 3 * KEYS;
      }, 'windows to fire while the quiet source is idle', 400, 50);
      await cancel(handle);
      const fired = readFileSync(output, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Summary);
      expect(fired.length).to.be.at.least(3 * KEYS);
      // The busy events are ascending: a window fired once complete.
      for (const s of fired) {
        const inWindow = range(s.end / 2).map(busy).filter((e) => e.k === s.k && e.t >= s.start);
        expect(s, `${s.k}@${s.start}`).to.deep.equal(summaryOf(s.k, s.start, 1000, inWindow));
      }
      const starts = [...new Set(fired.map((s) => s.start))].sort((a, b) => a - b);
      expect(starts, 'the first windows, none skipped').to.deep.equal(range(starts.length).map((i) => i * 1000));
    });

    it('holds every window back while it is quiet, without an idle timeout', async () => {
      const output = join(dir, 'not-idle.txt');
      const handle = await startJob(output);
      // 3000 events in the windows: 6 s of event time, 5 windows the busy source alone would have completed.
      const status = await eventually(async () => {
        const now = await handle.status();
        return now.state === 'RUNNING' && vertex(now, 'windows').recordsIn >= 3000 ? now : undefined;
      }, 'events to reach the windows', 400, 50);
      expect(vertex(status, 'windows').recordsOut, 'windows fired').to.equal(0);
      await cancel(handle);
      expect(readFileSync(output, 'utf8'), 'window results').to.equal('');
    });
  });

  it('keeps exactly-once window results through a Task Manager killed with kill -9', async () => {
    const random = prng(404);
    const COUNT = 40_000;
    const knobs: Knobs = { seed: 41, keys: 10, stepMs: 2, disorderMs: 40 };
    const events = await eventsOf(COUNT, knobs);
    const output = join(dir, 'kill');

    const env = new StreamExecutionEnvironment(client, { parallelism: 4, params: { ...knobs } });
    env.enableCheckpointing(100);
    env.setRestartStrategy({ type: 'fixed-delay', attempts: 10, delayMs: 200 });
    // Paced over about 4 s, so that the kill lands while windows fire and checkpoints complete.
    env.generate(COUNT, event, { uid: 'events', ratePerSecond: 10_000 })
      .assignTimestampsAndWatermarks({ timestamp: 't', outOfOrdernessMs: knobs.disorderMs, intervalMs: 10 })
      .keyBy('k').window(TUMBLING).process(summarize, { uid: 'windows' })
      .map(function line(s: Summary) { return `${s.k} ${s.start} ${s.n} ${s.v} ${s.id}`; }, { uid: 'format' })
      .sinkToFiles(output, { uid: 'files' });
    const handle = await env.execute('windows-kill');
    await eventually(async () => (await handle.status()).state === 'RUNNING', 'the job to run');
    await new Promise((r) => setTimeout(r, 800 + random() * 1500));
    const victim = `tm-${1 + Math.floor(random() * 2)}`;
    cluster.taskManagers.get(victim)!.kill('SIGKILL');
    await cluster.startTaskManager(victim);

    const result = await handle.result();
    expect(result.state, result.cause).to.equal('FINISHED');
    const expected = expectedSummaries(events, TUMBLING).map((s) => `${s.k} ${s.start} ${s.n} ${s.v} ${s.id}`).sort();
    expect(committedLines(output).sort(), 'each window once, complete').to.deep.equal(expected);

    await expectRecoveredFromKill(client, handle, victim);
  });

  it('stops with a savepoint and resumes (at another parallelism) with each window once, as an unbroken run', async () => {
    const COUNT = 16_000;
    const knobs: Knobs = { seed: 51, keys: 10, stepMs: 2, disorderMs: 40 };
    const events = await eventsOf(COUNT, knobs);
    const build = (parallelism: number): StreamExecutionEnvironment => {
      const env = new StreamExecutionEnvironment(client, { parallelism, params: { ...knobs } });
      env.generate(COUNT, event, { uid: 'events', ratePerSecond: 8000 })
        .assignTimestampsAndWatermarks({ timestamp: 't', outOfOrdernessMs: knobs.disorderMs, intervalMs: 10 })
        .keyBy('k').window(TUMBLING).process(summarize, { uid: 'windows' })
        .collect({ uid: 'out' });
      return env;
    };
    const first = await build(2).execute('windows-savepoint');
    await eventually(async () => (await first.status()).state === 'RUNNING', 'the job to run');
    await new Promise((r) => setTimeout(r, 700));
    const savepoint = await client.savepoint(first.jobId, { stop: true });
    const stopped = await first.result();
    expect(stopped.state, stopped.cause).to.equal('FINISHED');
    expect(vertex(stopped, 'windows').recordsIn, 'stopped midway').to.be.within(1, COUNT - 1);

    const descriptor = build(3).getDescriptor('windows-resumed');
    const second = new JobHandle(client, await client.submit(descriptor, { restoreFrom: savepoint }), descriptor.name);
    const resumed = await second.result();
    expect(resumed.state, resumed.cause).to.equal('FINISHED');
    const all = [...stopped.collected.out as Summary[], ...resumed.collected.out as Summary[]];
    // As Flink's stop without --drain: the stop ends the input but fires no window still open, or
    // it fires them with part of their events, and the resumed job fires them again with the rest.
    const byWindow = new Map<string, number[]>();
    for (const s of all) byWindow.set(`${s.k}@${s.start}`, [...byWindow.get(`${s.k}@${s.start}`) ?? [], s.n]);
    const twice = [...byWindow].filter(([, fired]) => fired.length > 1).map(([window, fired]) => `${window} with ${fired.join(' then ')} events`);
    expect(twice, 'windows fired at the stop and again after the resume').to.deep.equal([]);
    expect(lines(all)).to.deep.equal(lines(expectedSummaries(events, TUMBLING)));
  });
});

declare const params: unknown;
