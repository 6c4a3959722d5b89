import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  captureFunction, EventTimeSessionWindows, SlidingEventTimeWindows, StreamExecutionEnvironment, TumblingEventTimeWindows,
  type BroadcastProcessContext, type BroadcastSideContext, type IntervalJoinContext, type JobHandle, type WindowContext,
} from '../../lib/api/index.ts';
import { ClusterClient } from '../../lib/client/index.ts';
import type { LocalCluster } from '../../lib/cluster/local.ts';
import { instantiateUserFunction } from '../../lib/descriptor/udf.ts';
import { expectRecoveredFromKill, useProcessCluster } from '../helpers/cluster.ts';
import { eventually, range, type TestNats } from '../helpers/nats.ts';
import { prng } from '../helpers/random.ts';

// ---- event-time inputs of the joins ----

/** One side's event: `id` is its index in its generator. */
interface Ev { k: string; t: number; id: number }

interface Knobs {
  /** Per generator (operator params), so that the two sides differ. */
  seed: number;
  keys: number;
  /** Event time grows by stepMs every 4 events. */
  stepMs: number;
  /** Each event is up to this far behind the time so far: exactly the watermarks' out-of-orderness, so none is late. */
  disorderMs: number;
  /** Timestamps are behind by multiples of this, so that differences often land exactly on a bound. */
  grainMs: number;
}

/**
 * Event i of one side: shipped as source text, so it reads only `params`. Time so far is
 * (⌊i/4⌋ + 20) · stepMs, ascending in i; a generator subtask emits its share in ascending i,
 * so no event is more than disorderMs behind its own subtask's maximum: never behind the
 * watermark of its channel, hence never behind the join's (the minimum over channels).
 * The + 20 steps keep every timestamp positive.
 */
function joinEvent(i: number): Ev {
  const p = params as Knobs;
  let h = Math.imul((i + 1) ^ p.seed, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = (h ^ (h >>> 13)) >>> 0;
  const now = (Math.floor(i / 4) + 20) * p.stepMs;
  return { k: `k${h % p.keys}`, t: now - p.grainMs * ((h >>> 8) % (p.disorderMs / p.grainMs + 1)), id: i };
}

/** The events as the Task Managers generate them: the shipped text, instantiated as they do. */
async function generated<T>(fn: (i: number) => T, count: number, knobs: object): Promise<T[]> {
  const at = await instantiateUserFunction(captureFunction(fn, 'generate()').fn, knobs as Record<string, unknown>, 'reference');
  return range(count).map((i) => at(i) as T);
}

/** Records as sorted JSON lines: equal multisets compare equal, and a difference shows as lines. */
const lines = (records: unknown[]): string[] => records.map((r) => JSON.stringify(r)).sort();

function groupBy<T, K>(items: T[], keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const group = groups.get(keyOf(item));
    if (group) group.push(item);
    else groups.set(keyOf(item), [item]);
  }
  return groups;
}

const floorTo = (t: number, size: number): number => t - (((t % size) + size) % size);

/** The starts of the windows of size `size` every `slide` holding t (tumbling: slide = size). */
function starts(t: number, size: number, slide: number): number[] {
  const found: number[] = [];
  for (let start = floorTo(t, slide); start > t - size; start -= slide) found.push(start);
  return found;
}

interface Group { k: string; start: number; end: number; lefts: Ev[]; rights: Ev[] }

/** Each key's fixed windows with both sides' events in them. */
function fixedWindows(lefts: Ev[], rights: Ev[], size: number, slide: number): Group[] {
  const windows = new Map<string, Group>();
  for (const [side, events] of [['lefts', lefts], ['rights', rights]] as const) {
    for (const e of events) {
      for (const start of starts(e.t, size, slide)) {
        const id = `${e.k}@${start}`;
        if (!windows.has(id)) windows.set(id, { k: e.k, start, end: start + size, lefts: [], rights: [] });
        windows.get(id)![side].push(e);
      }
    }
  }
  return [...windows.values()];
}

/**
 * Each key's sessions over both sides: a record opens [t, t + gap), and windows that overlap or
 * touch merge (Flink's TimeWindow.intersects is inclusive). Touching is a race in Flink (a session
 * that fired and was purged no longer merges), so the specs pick a gap no two timestamps differ by.
 */
function sessions(lefts: Ev[], rights: Ev[], gapMs: number): Group[] {
  const tagged = [...lefts.map((e) => ({ e, left: true })), ...rights.map((e) => ({ e, left: false }))];
  const found: Group[] = [];
  for (const [k, events] of groupBy(tagged, (x) => x.e.k)) {
    events.sort((a, b) => a.e.t - b.e.t);
    let current: Group | undefined;
    for (const { e, left } of events) {
      if (current === undefined || e.t > current.end) found.push(current = { k, start: e.t, end: e.t + gapMs, lefts: [], rights: [] });
      current.end = Math.max(current.end, e.t + gapMs);
      (left ? current.lefts : current.rights).push(e);
    }
  }
  return found;
}

const ids = (events: Ev[]): number[] => events.map((e) => e.id).sort((a, b) => a - b);

/** What the join function emits per pair, and the plain loop's pairs of each window. */
function pair(left: Ev, right: Ev): [string, number, number] {
  return [left.k, left.id, right.id];
}
const expectedPairs = (groups: Group[]): [string, number, number][] => groups.flatMap((g) => g.lefts.flatMap((l) => g.rights.map((r) => pair(l, r))));

/** What the coGroup function emits per key and window, one side possibly empty. */
function cogroup(lefts: Ev[], rights: Ev[], ctx: WindowContext<unknown>): unknown[] {
  const sorted = (events: Ev[]) => events.map((e) => e.id).sort((a, b) => a - b);
  return [[ctx.key, ctx.window.start, ctx.window.end, sorted(lefts), sorted(rights)]];
}
const expectedGroups = (groups: Group[]): unknown[] => groups.map((g) => [g.k, g.start, g.end, ids(g.lefts), ids(g.rights)]);

/** What the interval join function emits per pair: key, ids, both timestamps and the result's. */
type Meeting = [string, number, number, number, number, number];

/** What the interval join function emits per pair. */
function meet(left: Ev, right: Ev, ctx: IntervalJoinContext<string>): Meeting[] {
  return [[ctx.key, left.id, right.id, ctx.leftTimestamp, ctx.rightTimestamp, ctx.timestamp]];
}

/** The plain loop's interval join: right.t - left.t within the bounds, an exclusive bound one millisecond inside. */
function expectedMeetings(lefts: Ev[], rights: Ev[], lower: number, upper: number, exclusive = false): Meeting[] {
  const lo = exclusive ? lower + 1 : lower;
  const hi = exclusive ? upper - 1 : upper;
  const rightsOf = groupBy(rights, (r) => r.k);
  return lefts.flatMap((l) => (rightsOf.get(l.k) ?? []).filter((r) => r.t - l.t >= lo && r.t - l.t <= hi)
    .map((r): Meeting => [l.k, l.id, r.id, l.t, r.t, Math.max(l.t, r.t)]));
}

/** Pairs exactly at a bound: the inputs tell inclusive from exclusive only if there are some. */
function atTheBounds(lefts: Ev[], rights: Ev[], lower: number, upper: number): number {
  const rightsOf = groupBy(rights, (r) => r.k);
  return lefts.reduce((n, l) => n + (rightsOf.get(l.k) ?? []).filter((r) => r.t - l.t === lower || r.t - l.t === upper).length, 0);
}

// ---- broadcast state inputs ----

/** A record of the main stream: in a category, whose rule says what to multiply v by. */
interface Item { id: number; k: string; cat: number; v: number }
/** A rule: sets (or removes) the multiplier of a category; `j` is its index in the rule stream. */
interface Rule { j: number; cat: number; mult: number; op: 'put' | 'remove' }

function item(i: number): Item {
  const p = params as { itemSeed: number; keys: number; cats: number };
  let h = Math.imul((i + 1) ^ p.itemSeed, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = (h ^ (h >>> 13)) >>> 0;
  return { id: i, k: `k${h % p.keys}`, cat: (h >>> 8) % p.cats, v: 1 + ((h >>> 16) % 50) };
}

/** Rule i of the keyed pattern: one `put` per category, in a shuffled order given as params. */
function categoryRule(i: number): Rule {
  const p = params as { order: number[]; mults: number[] };
  return { j: i, cat: p.order[i]!, mult: p.mults[i]!, op: 'put' };
}

function ruleParams(seed: number, cats: number): { order: number[]; mults: number[] } {
  const random = prng(seed);
  const order = range(cats);
  for (let i = cats - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return { order, mults: order.map(() => 2 + Math.floor(random() * 9)) };
}

/** Non-keyed fn1: the record with the rule it saw (-1: none) and what it made of it. */
function applyRule(record: Item, ctx: BroadcastProcessContext<never>): unknown[] {
  const rule = ctx.broadcastState<number, Rule>('rules').get(record.cat);
  return [[record.id, rule ? rule.j : -1, rule ? record.v * rule.mult : null]];
}

/** fn2 of both patterns' rule side: keeps the rule, and acknowledges it on every subtask by a side output. */
function keepRule(rule: Rule, ctx: BroadcastSideContext<never>): unknown[] {
  const rules = ctx.broadcastState<number, Rule>('rules');
  if (rule.op === 'put') rules.put(rule.cat, rule);
  else rules.remove(rule.cat);
  ctx.output('acks', rule.j);
  return [];
}

/** What the keyed pattern emits per record: key, its count in the key, id, v · mult, and which way it went. */
type Released = [string, number, number, number, 'direct' | 'released'];

/**
 * The keyed pattern, made deterministic although the order in which rules and records meet is
 * not (rules and records come by different channels from different processes). Each category
 * gets exactly one rule and never loses it; fn1 applies the rule if it is there and otherwise
 * parks the record in the key's `pending` list; fn2 stores the rule and, through
 * applyToKeyedState, releases the parked records of its category with it. So each record comes
 * out once with v · mult(cat) whichever of the two went first: only `via` and the per-key count
 * `n` depend on the order, and the check reads those as sets.
 */
function applyOrPark(record: Item, ctx: BroadcastProcessContext<string>): Released[] {
  const count = ctx.state.value<number>('n');
  const n = (count.value() ?? 0) + 1;
  count.update(n);
  const rule = ctx.broadcastState<number, Rule>('rules').get(record.cat);
  if (rule === undefined) {
    ctx.state.list<[Item, number]>('pending').add([record, n]);
    return [];
  }
  return [[ctx.key, n, record.id, record.v * rule.mult, 'direct']];
}

function keepRuleAndRelease(rule: Rule, ctx: BroadcastSideContext<string>): Released[] {
  ctx.broadcastState<number, Rule>('rules').put(rule.cat, rule);
  ctx.output('acks', rule.j);
  const released: Released[] = [];
  ctx.applyToKeyedState('pending', (key, state) => {
    const pending = state.list<[Item, number]>('pending');
    const all = pending.get();
    const rest = all.filter(([record]) => record.cat !== rule.cat);
    if (rest.length === all.length) return;
    for (const [record, n] of all) if (record.cat === rule.cat) released.push([key, n, record.id, record.v * rule.mult, 'released']);
    if (rest.length === 0) pending.clear();
    else pending.update(rest);
  });
  return released;
}

/** Each record once with v · mult of its category's one rule, and each key's counts 1..n whatever the order. */
function checkReleased(out: Released[], items: Item[], rules: Rule[]): { direct: number; released: number } {
  const mult = new Map(rules.map((r) => [r.cat, r.mult]));
  expect(lines(out.map(([k, , id, value]) => [k, id, value])), 'each record once, with its category\'s rule')
    .to.deep.equal(lines(items.map((i) => [i.k, i.id, i.v * mult.get(i.cat)!])));
  for (const [k, ofKey] of groupBy(items, (i) => i.k)) {
    expect(out.filter(([key]) => key === k).map(([, n]) => n).sort((a, b) => a - b), `${k}: counted 1..n`).to.deep.equal(range(ofKey.length).map((i) => i + 1));
  }
  return { direct: out.filter((r) => r[4] === 'direct').length, released: out.filter((r) => r[4] === 'released').length };
}

const sortedNumbers = (values: number[]): number[] => [...values].sort((a, b) => a - b);
const timesEach = (values: number[], times: number): number[] => sortedNumbers(values.flatMap((v) => range(times).map(() => v)));

function committedLines(directory: string): string[] {
  return readdirSync(directory).filter((f) => f.startsWith('part-'))
    .flatMap((f) => readFileSync(join(directory, f), 'utf8').split('\n').filter(Boolean));
}

describe('joins and broadcast state on a cluster of real processes', function () {
  this.timeout(120_000);
  let nats: TestNats;
  let cluster: LocalCluster;
  let client: ClusterClient;
  // 2 TMs × 2 slots: a job of parallelism 4 takes them all, and a killed TM is replaced at once.
  useProcessCluster('joins', 2, 2, (started) => ({ nats, cluster, client } = started));
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'cloudflink-joins-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function killOneTaskManager(handle: JobHandle, random: () => number, afterMs: number): Promise<string> {
    await eventually(async () => (await handle.status()).state === 'RUNNING', 'the job to run');
    await new Promise((r) => setTimeout(r, afterMs + random() * 1000));
    const victim = `tm-${1 + Math.floor(random() * 2)}`;
    cluster.taskManagers.get(victim)!.kill('SIGKILL');
    await cluster.startTaskManager(victim);
    return victim;
  }

  for (const [parallelism, seed] of [[1, 1], [4, 2]] as const) {
    it(`window-joins and coGroups out-of-order sides as the plain loop does, tumbling, sliding and sessions (parallelism ${parallelism})`, async () => {
      const COUNT = 2400;
      const knobs = { keys: 30, stepMs: 10, disorderMs: 60, grainMs: 5 };
      // Not a multiple of the grain: no record starts exactly where another's session ends.
      const GAP = 42;
      const lefts = await generated(joinEvent, COUNT, { ...knobs, seed: 100 + seed });
      const rights = await generated(joinEvent, COUNT, { ...knobs, seed: 200 + seed });

      const env = new StreamExecutionEnvironment(client, { parallelism, params: knobs });
      // Paced over about 1.2 s, so that windows fire on watermarks as records flow, not all at the end.
      const side = (uid: string, sideSeed: number) => env.generate(COUNT, joinEvent, { uid, ratePerSecond: 2000, params: { seed: sideSeed } })
        .assignTimestampsAndWatermarks({ timestamp: 't', outOfOrdernessMs: knobs.disorderMs, intervalMs: 10 });
      const left = side('lefts', 100 + seed);
      const right = side('rights', 200 + seed);
      left.join(right).where('k').equalTo('k').window(TumblingEventTimeWindows.of(200)).apply(pair, { uid: 'tumbling-join' }).collect({ uid: 'tj' });
      left.join(right).where('k').equalTo('k').window(SlidingEventTimeWindows.of(300, 100)).apply(pair, { uid: 'sliding-join' }).collect({ uid: 'sj' });
      left.coGroup(right).where('k').equalTo('k').window(TumblingEventTimeWindows.of(250)).apply(cogroup, { uid: 'tumbling-cogroup' }).collect({ uid: 'tc' });
      left.coGroup(right).where('k').equalTo('k').window(EventTimeSessionWindows.withGap(GAP)).apply(cogroup, { uid: 'session-cogroup' }).collect({ uid: 'sc' });

      const result = await (await env.execute(`window-join-${parallelism}`)).result();
      expect(result.state, result.cause).to.equal('FINISHED');
      const got = result.collected;
      const sessionGroups = sessions(lefts, rights, GAP);
      expect(sessionGroups.filter((g) => g.lefts.length === 0 || g.rights.length === 0).length, 'sessions with one side only').to.be.greaterThan(0);
      expect(sessionGroups.filter((g) => g.lefts.length + g.rights.length >= 3).length, 'sessions merged from several records').to.be.greaterThan(100);
      expect(lines(got.tj!), 'tumbling 200, join').to.deep.equal(lines(expectedPairs(fixedWindows(lefts, rights, 200, 200))));
      expect(lines(got.sj!), 'sliding 300/100, join').to.deep.equal(lines(expectedPairs(fixedWindows(lefts, rights, 300, 100))));
      expect(lines(got.tc!), 'tumbling 250, coGroup').to.deep.equal(lines(expectedGroups(fixedWindows(lefts, rights, 250, 250))));
      expect(lines(got.sc!), `sessions of gap ${GAP}, coGroup`).to.deep.equal(lines(expectedGroups(sessionGroups)));
    });
  }

  for (const [parallelism, seed] of [[1, 3], [4, 4]] as const) {
    it(`interval-joins out-of-order sides as the plain loop does, with a negative lower bound and with exclusive bounds (parallelism ${parallelism})`, async () => {
      const COUNT = 3000;
      const knobs = { keys: 12, stepMs: 10, disorderMs: 60, grainMs: 5 };
      const lefts = await generated(joinEvent, COUNT, { ...knobs, seed: 300 + seed });
      const rights = await generated(joinEvent, COUNT, { ...knobs, seed: 400 + seed });
      expect(atTheBounds(lefts, rights, -20, 20), 'pairs exactly at ±20 ms').to.be.greaterThan(50);

      const env = new StreamExecutionEnvironment(client, { parallelism, params: knobs });
      const side = (uid: string, sideSeed: number) => env.generate(COUNT, joinEvent, { uid, ratePerSecond: 2500, params: { seed: sideSeed } })
        .assignTimestampsAndWatermarks({ timestamp: 't', outOfOrdernessMs: knobs.disorderMs, intervalMs: 10 });
      const left = side('lefts', 300 + seed).keyBy('k');
      const right = side('rights', 400 + seed).keyBy('k');
      const inclusive = left.intervalJoin(right).between(-45, 30).process(meet, { uid: 'interval' });
      inclusive.collect({ uid: 'ij' });
      left.intervalJoin(right).between(-20, 20).lowerBoundExclusive().upperBoundExclusive().process(meet, { uid: 'interval-exclusive' }).collect({ uid: 'ix' });
      // The results carry the later timestamp of their pair: windows downstream count them by it.
      inclusive.keyBy(function everything() { return 'all'; }).window(TumblingEventTimeWindows.of(1000))
        .process(function perSecond(results: unknown[], ctx: WindowContext<string>) { return [[ctx.window.start, results.length]]; }, { uid: 'per-second' })
        .collect({ uid: 'seconds' });

      const result = await (await env.execute(`interval-join-${parallelism}`)).result();
      expect(result.state, result.cause).to.equal('FINISHED');
      const expected = expectedMeetings(lefts, rights, -45, 30);
      expect(lines(result.collected.ij!), '[-45, 30]').to.deep.equal(lines(expected));
      expect(lines(result.collected.ix!), '(-20, 20)').to.deep.equal(lines(expectedMeetings(lefts, rights, -20, 20, true)));
      const perSecond = [...groupBy(expected, (m) => floorTo(m[5], 1000))].map(([start, ms]) => [start, ms.length]);
      expect(lines(result.collected.seconds!), 'results by their timestamp').to.deep.equal(lines(perSecond));
    });
  }

  it('drops a record behind the watermark from an interval join and a window join, and joins the rest', async () => {
    // The right side is all there at once and ends; the left is paced 125 ms apart, so that when
    // its late record (1500, after 3000) comes, the join's watermark is 2999 from both sides.
    const leftTimes = [0, 1000, 2000, 3000, 1500, 4000, 5000];
    const rights = range(60).map((i): Ev => ({ k: 'a', t: i * 100, id: i }));
    const lefts = leftTimes.map((t, id): Ev => ({ k: 'a', t, id }));
    const env = new StreamExecutionEnvironment(client, { parallelism: 1, params: { times: leftTimes } });
    const left = env.generate(leftTimes.length, function at(i: number) { return { k: 'a', t: (params.times as number[])[i]!, id: i }; }, { uid: 'lefts', ratePerSecond: 8 })
      .assignTimestampsAndWatermarks({ timestamp: 't', intervalMs: 10 });
    const right = env.fromCollection(rights, { uid: 'rights' }).assignTimestampsAndWatermarks({ timestamp: 't', intervalMs: 10 });
    // Right records stay buffered 2 s past their time (the lower bound): the late left record would still find some.
    left.keyBy('k').intervalJoin(right.keyBy('k')).between(-2000, 100).process(meet, { uid: 'interval' }).collect({ uid: 'ij' });
    left.join(right).where('k').equalTo('k').window(TumblingEventTimeWindows.of(1000)).apply(pair, { uid: 'window-join' }).collect({ uid: 'wj' });

    const result = await (await env.execute('joins-late')).result();
    expect(result.state, result.cause).to.equal('FINISHED');
    const onTime = lefts.filter((l) => l.id !== 4);
    expect(expectedMeetings([lefts[4]!], rights, -2000, 100).length, 'what the late record would have joined').to.be.greaterThan(0);
    expect(lines(result.collected.ij!), 'interval join without the late record').to.deep.equal(lines(expectedMeetings(onTime, rights, -2000, 100)));
    expect(lines(result.collected.wj!), 'window join without the late record').to.deep.equal(lines(expectedPairs(fixedWindows(onTime, rights, 1000, 1000))));
  });

  for (const [parallelism, seed] of [[1, 5], [4, 6]] as const) {
    it(`applies broadcast rules to a rebalanced stream and, keyed, parks records until their rule comes (parallelism ${parallelism})`, async () => {
      const COUNT = 3000;
      const CATS = 8;
      const knobs = { itemSeed: 500 + seed, keys: 20, cats: CATS };
      const items = await generated(item, COUNT, knobs);

      // Non-keyed: a run of puts and removes, from one subtask so that every subtask sees them in one order.
      const random = prng(600 + seed);
      const updates = range(40).map((j): Rule => ({ j, cat: Math.floor(random() * CATS), mult: 2 + Math.floor(random() * 9), op: random() < 0.2 ? 'remove' : 'put' }));
      // Keyed: one rule per category, paced over about 0.8 s so that records come before and after them.
      const perCategory = ruleParams(700 + seed, CATS);
      const categoryRules = range(CATS).map((i) => ({ j: i, cat: perCategory.order[i]!, mult: perCategory.mults[i]!, op: 'put' as const }));

      const env = new StreamExecutionEnvironment(client, { parallelism, params: knobs });
      // Paced over about 1.5 s.
      const main = env.generate(COUNT, item, { uid: 'items', ratePerSecond: 2000 });
      const updateStream = env.fromCollection(updates, { uid: 'updates', parallelism: 1 });
      const applied = main.rebalance().connect(updateStream.broadcast()).process(applyRule, keepRule, { uid: 'rules' });
      applied.collect({ uid: 'applied' });
      applied.getSideOutput<number>('acks').collect({ uid: 'applied-acks' });
      const ruleStream = env.generate(CATS, categoryRule, { uid: 'category-rules', parallelism: 1, ratePerSecond: 10, params: perCategory });
      const released = main.keyBy('k').connect(ruleStream.broadcast()).process(applyOrPark, keepRuleAndRelease, { uid: 'keyed-rules' });
      released.collect({ uid: 'released' });
      released.getSideOutput<number>('acks').collect({ uid: 'released-acks' });

      const result = await (await env.execute(`broadcast-${parallelism}`)).result();
      expect(result.state, result.cause).to.equal('FINISHED');
      const got = result.collected;

      // Non-keyed: which rules a record met depends on the race, so each output is checked to be
      // what SOME prefix of the (one-ordered) rule stream gives: the rule it names is a put of its
      // category, and the value is what that rule makes. The updates (40 records from memory)
      // are all in within milliseconds, while the paced records take 1.5 s: the second half of
      // the records must see the final rules.
      const out = got.applied as [number, number, number | null][];
      expect(sortedNumbers(out.map(([id]) => id)), 'each record once').to.deep.equal(range(COUNT));
      const finalRule = new Map<number, number>();
      for (const u of updates) finalRule.set(u.cat, u.op === 'put' ? u.j : -1);
      for (const [id, j, value] of out) {
        const record = items[id]!;
        if (j === -1) expect(value, `record ${id} without a rule`).to.equal(null);
        else {
          const rule = updates[j]!;
          expect([rule.cat, rule.op, value], `record ${id} under rule ${j}`).to.deep.equal([record.cat, 'put', record.v * rule.mult]);
        }
        if (id >= COUNT / 2) expect(j, `record ${id} (cat ${record.cat}), late in the stream, under the final rules`).to.equal(finalRule.get(record.cat) ?? -1);
      }
      expect(sortedNumbers(got['applied-acks'] as number[]), 'every update on every subtask').to.deep.equal(timesEach(range(updates.length), parallelism));

      const { direct, released: parked } = checkReleased(got.released as Released[], items, categoryRules);
      expect(direct, 'records that found their rule').to.be.greaterThan(0);
      expect(parked, 'records parked until their rule came').to.be.greaterThan(0);
      expect(sortedNumbers(got['released-acks'] as number[]), 'every rule on every subtask').to.deep.equal(timesEach(range(CATS), parallelism));
    });
  }

  it('keeps exactly-once interval join results through a Task Manager killed with kill -9', async () => {
    const random = prng(808);
    const COUNT = 12_000;
    const knobs = { keys: 40, stepMs: 10, disorderMs: 60, grainMs: 5 };
    const lefts = await generated(joinEvent, COUNT, { ...knobs, seed: 81 });
    const rights = await generated(joinEvent, COUNT, { ...knobs, seed: 82 });
    const output = join(dir, 'interval-kill');

    const env = new StreamExecutionEnvironment(client, { parallelism: 4, params: knobs });
    env.enableCheckpointing(200);
    env.setRestartStrategy({ type: 'fixed-delay', attempts: 10, delayMs: 200 });
    // Paced over about 4 s, so that the kill lands while pairs are buffered and checkpoints complete.
    const side = (uid: string, sideSeed: number) => env.generate(COUNT, joinEvent, { uid, ratePerSecond: 3000, params: { seed: sideSeed } })
      .assignTimestampsAndWatermarks({ timestamp: 't', outOfOrdernessMs: knobs.disorderMs, intervalMs: 10 }).keyBy('k');
    side('lefts', 81).intervalJoin(side('rights', 82)).between(-45, 30).process(meet, { uid: 'interval' })
      .map(function line(m: Meeting) { return m.join(' '); }, { uid: 'format' })
      .sinkToFiles(output, { uid: 'files' });
    const handle = await env.execute('interval-join-kill');
    const victim = await killOneTaskManager(handle, random, 1000);

    const result = await handle.result();
    expect(result.state, result.cause).to.equal('FINISHED');
    const expected = expectedMeetings(lefts, rights, -45, 30).map((m) => m.join(' ')).sort();
    expect(expected.length).to.be.greaterThan(COUNT / 2);
    expect(committedLines(output).sort(), 'each pair once').to.deep.equal(expected);
    await expectRecoveredFromKill(client, handle, victim);
  });

  it('keeps broadcast rules through a Task Manager killed with kill -9: records after the restore still find them, exactly once', async () => {
    const random = prng(909);
    const COUNT = 12_000;
    const CATS = 10;
    const knobs = { itemSeed: 91, keys: 40, cats: CATS };
    const items = await generated(item, COUNT, knobs);
    const perCategory = ruleParams(92, CATS);
    const categoryRules = range(CATS).map((i) => ({ j: i, cat: perCategory.order[i]!, mult: perCategory.mults[i]!, op: 'put' as const }));
    const output = join(dir, 'broadcast-kill');
    const acks = join(dir, 'broadcast-kill-acks');

    const env = new StreamExecutionEnvironment(client, { parallelism: 4, params: knobs });
    env.enableCheckpointing(200);
    env.setRestartStrategy({ type: 'fixed-delay', attempts: 10, delayMs: 200 });
    // The rules are all in within about 0.6 s and their source ends; the records take about 4 s
    // and the kill comes after 1.5 s or more. After the restore no rule is sent again (the acks
    // are each once per subtask), so the records after it find their rules only if the broadcast
    // state came back from the checkpoint: else they would stay parked and be missing.
    const rules = env.generate(CATS, categoryRule, { uid: 'category-rules', parallelism: 1, ratePerSecond: 16, params: perCategory });
    const released = env.generate(COUNT, item, { uid: 'items', ratePerSecond: 3000 })
      .keyBy('k').connect(rules.broadcast()).process(applyOrPark, keepRuleAndRelease, { uid: 'keyed-rules' });
    released.map(function line(r: Released) { return r.join(' '); }, { uid: 'format' }).sinkToFiles(output, { uid: 'files' });
    released.getSideOutput<number>('acks').map(function ack(j: number) { return String(j); }, { uid: 'format-acks' }).sinkToFiles(acks, { uid: 'ack-files' });
    const handle = await env.execute('broadcast-kill');
    const victim = await killOneTaskManager(handle, random, 1500);

    const result = await handle.result();
    expect(result.state, result.cause).to.equal('FINISHED');
    const committed = committedLines(output).map((l): Released => {
      const [k, n, id, value, via] = l.split(' ') as [string, string, string, string, 'direct' | 'released'];
      return [k, Number(n), Number(id), Number(value), via];
    });
    expect(committed.length, 'records committed').to.equal(COUNT);
    const { direct } = checkReleased(committed, items, categoryRules);
    expect(direct, 'records that found their rule').to.be.greaterThan(COUNT / 2);
    expect(sortedNumbers(committedLines(acks).map(Number)), 'each rule once on each subtask: none sent again after the restore').to.deep.equal(timesEach(range(CATS), 4));
    await expectRecoveredFromKill(client, handle, victim);
  });
});
