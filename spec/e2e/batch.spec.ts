import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ExecutionEnvironment, type DataSet, type DataSink, type JobHandle } from '../../lib/api/index.ts';
import type { JoinStrategy, JoinType } from '../../lib/descriptor/types.ts';
import type { JobStateEvent } from '../../lib/events/types.ts';
import type { ClusterClient } from '../../lib/client/index.ts';
import type { LocalCluster } from '../../lib/cluster/local.ts';
import { runCli } from '../helpers/cli.ts';
import { clusterFlags, expectRecoveredFromKill, expectRegionFailover, useProcessCluster } from '../helpers/cluster.ts';
import { eventually, range, type TestNats } from '../helpers/nats.ts';
import { prng } from '../helpers/random.ts';
import { spillRoot } from '../../lib/batch/spill.ts';
import pagerank from '../../scripts/examples/pagerank.ts';

// ---- inputs ----

/** A record: `u` is unique (a shuffled id), `v` repeats, `k` is skewed (a hot key, nulls, a long tail). */
interface Rec { id: number; k: string | null; v: number; u: number }

function skewedKey(random: () => number, tail: number): string | null {
  const x = random();
  if (x < 0.25) return 'hot';
  if (x < 0.35) return null;
  return `k${Math.floor(random() * tail)}`;
}

function records(seed: number, count: number, tail = 30): Rec[] {
  const random = prng(seed);
  const us = range(count);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [us[i], us[j]] = [us[j]!, us[i]!];
  }
  return range(count).map((id) => ({ id, k: skewedKey(random, tail), v: Math.floor(random() * 100), u: us[id]! }));
}

/** Records as sorted JSON lines: equal multisets compare equal, and a difference shows as lines. */
const lines = (items: unknown[]): string[] => items.map((r) => JSON.stringify(r)).sort();

/** Groups by key, in first-seen order, the key's JSON as the map key (so null is a key like any other). */
function groupsOf<T>(items: T[], keyOf: (item: T) => unknown): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const id = JSON.stringify(keyOf(item));
    const group = groups.get(id);
    if (group) group.push(item);
    else groups.set(id, [item]);
  }
  return groups;
}

const keyOfGroup = (id: string): unknown => JSON.parse(id);
const sortedNumbers = (values: number[]): number[] => [...values].sort((a, b) => a - b);

/** Part files in subtask order (the file itself at parallelism 1), their lines concatenated. */
function outputLines(path: string): string[] {
  const parts = statSync(path).isDirectory()
    ? readdirSync(path).filter((f) => f.startsWith('part-')).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5))).map((f) => join(path, f))
    : [path];
  return parts.flatMap((file) => readFileSync(file, 'utf8').split('\n').filter((l) => l !== ''));
}

/** What a join emits per pair, and what the plain loop expects of each join type. */
interface Side { id: number; k: string | null }
type Pair = [number | null, number | null];

function expectedJoin(lefts: Side[], rights: Side[], type: JoinType): Pair[] {
  const out: Pair[] = [];
  const matched = new Set<number>();
  for (const l of lefts) {
    const ms = l.k === null ? [] : rights.filter((r) => r.k === l.k);
    for (const r of ms) { out.push([l.id, r.id]); matched.add(r.id); }
    if (ms.length === 0 && (type === 'left' || type === 'full')) out.push([l.id, null]);
  }
  if (type === 'right' || type === 'full') for (const r of rights) if (!matched.has(r.id)) out.push([null, r.id]);
  return out;
}

const STRATEGIES: Record<JoinType, (JoinStrategy | undefined)[]> = {
  inner: [undefined, 'sort-merge', 'repartition-hash', 'broadcast-hash'],
  left: [undefined, 'sort-merge', 'repartition-hash', 'broadcast-hash'],
  right: [undefined, 'sort-merge', 'repartition-hash'],
  full: [undefined, 'sort-merge', 'repartition-hash'],
};

// ---- CSV ----

interface Sale { shop: string; city: string; amount: number; price: number; ok: boolean }
const CSV_FIELDS = [
  { name: 'shop', type: 'string' }, { name: 'city', type: 'string' }, { name: 'amount', type: 'integer' },
  { name: 'price', type: 'number' }, { name: 'ok', type: 'boolean' },
] as const;
const CITIES = ['Oslo', 'Lima', 'San Jose, CA', 'Say "Hi"', 'Bergen'];

/** One CSV field as a writer would quote it. */
const quoted = (text: string): string => (/[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);

/** RFC 4180 fields of one line (no line breaks inside quotes), as the reference reads the job's output. */
function parseCsv(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      for (i += 1; ; i += 1) {
        if (line[i] === '"' && line[i + 1] === '"') { field += '"'; i += 1; } else if (line[i] === '"') { i += 1; break; } else field += line[i];
      }
    } else {
      while (i < line.length && line[i] !== ',') field += line[i++];
    }
    fields.push(field);
    if (i >= line.length) return fields;
    i += 1;
  }
}

describe('DataSet jobs (mode batch) on a cluster of real processes', function () {
  this.timeout(120_000);
  let nats: TestNats;
  let cluster: LocalCluster;
  let client: ClusterClient;
  // 2 TMs × 2 slots: a job of parallelism 4 takes them all.
  useProcessCluster('batch', 2, 2, (started) => ({ nats, cluster, client } = started));
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'cloudflink-batch-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function finished(env: ExecutionEnvironment, name: string): Promise<Record<string, unknown[]>> {
    const result = await (await env.execute(name)).result();
    expect(result.state, result.cause).to.equal('FINISHED');
    return result.collected;
  }

  for (const [parallelism, seed] of [[1, 11], [4, 12]] as const) {
    it(`groups, aggregates, dedups, crosses and coGroups random skewed data with nulls as the plain loop does (parallelism ${parallelism})`, async () => {
      const data = records(seed, 3000);
      const others = records(seed + 100, 1200, 40);
      const small = records(seed + 200, 15).map(({ id, v }) => ({ id, v }));
      const tiny = records(seed + 300, 6).map(({ id, k }) => ({ id, k }));
      const FIRST = 3;
      const env = new ExecutionEnvironment(client, { parallelism, memoryPerSlotMb: 1 });
      const sinks: Record<string, DataSink<unknown>> = {};
      const input = env.fromCollection(data);
      const empty = env.fromCollection<Rec>([]);
      for (const [suffix, set] of [['', input], ['-empty', empty]] as const) {
        const base = set as DataSet<Rec>;
        sinks[`reduce${suffix}`] = base.map((r) => ({ k: r.k, v: r.v, n: 1 })).groupBy('k')
          .reduce((a, b) => ({ k: a.k, v: a.v + b.v, n: a.n + b.n })).collect();
        const forAggregate = base.map((r) => ({ k: r.k, s: r.v, mn: r.v, mx: r.v, n: 0, av: r.v }));
        sinks[`aggregate${suffix}`] = forAggregate.groupBy('k').aggregate('sum', 's').and('min', 'mn').and('max', 'mx').and('count', 'n').and('avg', 'av')
          .map((r) => [r.k, r.s, r.mn, r.mx, r.n, r.av]).collect();
        sinks[`sum${suffix}`] = forAggregate.groupBy('k').sum('s').andMax('mx').map((r) => [r.k, r.s, r.mx]).collect();
        sinks[`reduceGroup${suffix}`] = base.groupBy('k')
          .reduceGroup((rs: Rec[], key: unknown) => [[key, rs.length, rs.map((r) => r.id).sort((a, b) => a - b)]]).collect();
        sinks[`minBy${suffix}`] = base.groupBy('k').minBy('v').collect();
        sinks[`maxBy${suffix}`] = base.groupBy('k').maxBy('v').collect();
        sinks[`first${suffix}`] = base.groupBy('k').first(FIRST).collect();
        sinks[`sortedFirst${suffix}`] = base.groupBy('k').sortGroup('v', 'desc').sortGroup('id').first(FIRST).map((r: Rec) => [r.k, r.v, r.id]).collect();
        sinks[`sortedGroup${suffix}`] = base.groupBy('k').sortGroup('v').reduceGroup((rs: Rec[], key: unknown) => [[key, rs.map((r) => r.v)]]).collect();
        sinks[`distinctKey${suffix}`] = base.distinct('k').collect();
        sinks[`distinctRecord${suffix}`] = base.map((r) => ({ k: r.k, w: r.v % 4 })).distinct().collect();
        sinks[`distinctFn${suffix}`] = base.distinct((r: Rec) => r.v % 7).map((r) => r.v % 7).collect();
        sinks[`globalReduce${suffix}`] = base.map((r) => [r.v, 1]).reduce((a, b) => [a[0]! + b[0]!, a[1]! + b[1]!]).collect();
        sinks[`globalAggregate${suffix}`] = forAggregate.aggregate('sum', 's').and('min', 'mn').and('max', 'mx').and('count', 'n').and('avg', 'av')
          .map((r) => [r.s, r.mn, r.mx, r.n, r.av]).collect();
        sinks[`globalFirst${suffix}`] = base.first(FIRST).collect();
        sinks[`globalMinBy${suffix}`] = base.minBy('u').collect();
        sinks[`globalMaxBy${suffix}`] = base.maxBy('u').collect();
        sinks[`mapPartition${suffix}`] = base.mapPartition((rs: Rec[]) => [[rs.length, rs.reduce((s, r) => s + r.v, 0)]]).collect();
        sinks[`project${suffix}`] = base.project('u', 'k').collect();
        sinks[`projectArray${suffix}`] = base.map((r) => [r.id, r.k, r.v]).project(2, 0).collect();
        sinks[`union${suffix}`] = base.map((r) => r.id).union(env.fromCollection(others).map((r) => -1 - r.id), base.map((r) => 10_000 + r.id)).collect();
        sinks[`cross${suffix}`] = env.fromCollection(small).cross(base.filter((r) => r.id < 6)).with((a, b) => [a.id, b.id]).collect();
        sinks[`coGroup${suffix}`] = base.coGroup(env.fromCollection(others)).where('k').equalTo('k')
          .with((ls: Rec[], rs: Rec[], key: unknown) => [[key, ls.map((r) => r.id).sort((a, b) => a - b), rs.map((r) => r.id).sort((a, b) => a - b)]]).collect();
      }
      sinks.crossPairs = env.fromCollection(small).cross(env.fromCollection(tiny)).collect();
      const got = await finished(env, `groupings-${parallelism}`);
      const out = (name: string): unknown[] => got[sinks[name]!.id]!;

      for (const [suffix, set] of [['', data], ['-empty', []]] as const) {
        const rs = set as Rec[];
        const groups = groupsOf(rs, (r) => r.k);
        const perGroup = <R>(fn: (key: unknown, group: Rec[]) => R): R[] => [...groups].map(([id, g]) => fn(keyOfGroup(id), g));
        const sum = (g: Rec[]): number => g.reduce((s, r) => s + r.v, 0);
        const at = (what: string): string => `${what}${suffix}`;
        expect(lines(out(at('reduce'))), at('reduce')).to.deep.equal(lines(perGroup((k, g) => ({ k, v: sum(g), n: g.length }))));
        const aggregates = (g: Rec[]): number[] => [sum(g), Math.min(...g.map((r) => r.v)), Math.max(...g.map((r) => r.v)), g.length, sum(g) / g.length];
        expect(lines(out(at('aggregate'))), at('aggregate')).to.deep.equal(lines(perGroup((k, g) => [k, ...aggregates(g)])));
        expect(lines(out(at('sum'))), at('sum')).to.deep.equal(lines(perGroup((k, g) => [k, sum(g), Math.max(...g.map((r) => r.v))])));
        expect(lines(out(at('reduceGroup'))), at('reduceGroup')).to.deep.equal(lines(perGroup((k, g) => [k, g.length, g.map((r) => r.id)])));
        for (const [name, pick] of [['minBy', Math.min], ['maxBy', Math.max]] as const) {
          const picked = out(at(name)) as Rec[];
          // On a tie the first record wins: at parallelism 1 that is the first in input order; else any of the tied.
          if (parallelism === 1) expect(lines(picked), at(name)).to.deep.equal(lines(perGroup((_, g) => g.find((r) => r.v === pick(...g.map((x) => x.v)))!)));
          else expect(lines(picked.map((r) => [r.k, r.v])), at(name)).to.deep.equal(lines(perGroup((k, g) => [k, pick(...g.map((x) => x.v))])));
          expect(picked.every((r) => JSON.stringify(data[r.id]) === JSON.stringify(r)), `${at(name)}: input records`).to.equal(true);
        }
        const firsts = out(at('first')) as Rec[];
        if (parallelism === 1) expect(lines(firsts), at('first')).to.deep.equal(lines(perGroup((_, g) => g.slice(0, FIRST)).flat()));
        expect(lines([...groupsOf(firsts, (r) => r.k)].map(([id, g]) => [id, g.length])), `${at('first')}: n per group`)
          .to.deep.equal(lines(perGroup((k, g) => [JSON.stringify(k), Math.min(FIRST, g.length)])));
        expect(new Set(firsts.map((r) => r.id)).size, `${at('first')}: distinct records`).to.equal(firsts.length);
        expect(firsts.every((r) => JSON.stringify(data[r.id]) === JSON.stringify(r)), `${at('first')}: input records`).to.equal(true);

        // sortGroup: each group by v descending, ties by id; and each group's values ascending, whatever the parallelism.
        const byVDesc = (a: Rec, b: Rec): number => b.v - a.v || a.id - b.id;
        expect(lines(out(at('sortedFirst'))), at('sortedFirst'))
          .to.deep.equal(lines(perGroup((k, g) => [...g].sort(byVDesc).slice(0, FIRST).map((r) => [k, r.v, r.id])).flat()));
        expect(lines(out(at('sortedGroup'))), at('sortedGroup')).to.deep.equal(lines(perGroup((k, g) => [k, g.map((r) => r.v).sort((a, b) => a - b)])));

        const byKey = out(at('distinctKey')) as Rec[];
        if (parallelism === 1) expect(lines(byKey), at('distinctKey')).to.deep.equal(lines(perGroup((_, g) => g[0]!)));
        expect(lines(byKey.map((r) => r.k)), at('distinctKey')).to.deep.equal(lines([...groups.keys()].map(keyOfGroup)));
        expect(byKey.every((r) => JSON.stringify(data[r.id]) === JSON.stringify(r)), `${at('distinctKey')}: input records`).to.equal(true);
        expect(lines(out(at('distinctRecord'))), at('distinctRecord')).to.deep.equal([...new Set(lines(rs.map((r) => ({ k: r.k, w: r.v % 4 }))))]);
        expect(sortedNumbers(out(at('distinctFn')) as number[]), at('distinctFn')).to.deep.equal(sortedNumbers([...new Set(rs.map((r) => r.v % 7))]));

        // Over the whole set: nothing at all of an empty one (Flink's reduce and aggregate emit no record for no input).
        expect(out(at('globalReduce')), at('globalReduce')).to.deep.equal(rs.length ? [[sum(rs), rs.length]] : []);
        expect(out(at('globalAggregate')), at('globalAggregate')).to.deep.equal(rs.length ? [aggregates(rs)] : []);
        const globalFirst = out(at('globalFirst')) as Rec[];
        expect(globalFirst.length, at('globalFirst')).to.equal(Math.min(FIRST, rs.length));
        if (parallelism === 1) expect(globalFirst, at('globalFirst')).to.deep.equal(rs.slice(0, FIRST));
        expect(new Set(globalFirst.map((r) => r.id)).size, `${at('globalFirst')}: distinct`).to.equal(globalFirst.length);
        expect(globalFirst.every((r) => JSON.stringify(data[r.id]) === JSON.stringify(r)), `${at('globalFirst')}: input records`).to.equal(true);
        const byU = [...rs].sort((a, b) => a.u - b.u);
        expect(out(at('globalMinBy')), at('globalMinBy')).to.deep.equal(byU.slice(0, 1));
        expect(out(at('globalMaxBy')), at('globalMaxBy')).to.deep.equal(byU.slice(-1));

        // mapPartition runs once per subtask, an empty partition too.
        const partitions = out(at('mapPartition')) as [number, number][];
        expect(partitions.length, `${at('mapPartition')}: once per subtask`).to.equal(parallelism);
        expect(partitions.reduce((s, [n]) => s + n, 0), at('mapPartition')).to.equal(rs.length);
        expect(partitions.reduce((s, [, v]) => s + v, 0), at('mapPartition')).to.equal(sum(rs));
        expect(lines(out(at('project'))), at('project')).to.deep.equal(lines(rs.map((r) => ({ u: r.u, k: r.k }))));
        expect(lines(out(at('projectArray'))), at('projectArray')).to.deep.equal(lines(rs.map((r) => [r.v, r.id])));
        expect(sortedNumbers(out(at('union')) as number[]), at('union'))
          .to.deep.equal(sortedNumbers([...rs.map((r) => r.id), ...others.map((r) => -1 - r.id), ...rs.map((r) => 10_000 + r.id)]));
        expect(lines(out(at('cross'))), at('cross')).to.deep.equal(lines(small.flatMap((a) => rs.filter((r) => r.id < 6).map((b) => [a.id, b.id]))));
        const allKeys = groupsOf([...rs, ...others], (r) => r.k);
        const ids = (items: Rec[], id: string): number[] => items.filter((r) => JSON.stringify(r.k) === id).map((r) => r.id);
        expect(lines(out(at('coGroup'))), at('coGroup')).to.deep.equal(lines([...allKeys.keys()].map((id) => [keyOfGroup(id), ids(rs, id), ids(others, id)])));
      }
      expect(lines(out('crossPairs')), 'cross without a function: the pairs').to.deep.equal(lines(small.flatMap((a) => tiny.map((b) => [a, b]))));
    });
  }
  for (const [parallelism, seed] of [[1, 21], [4, 22]] as const) {
    it(`joins with duplicate, null and skewed keys, every type and strategy, spilling, as the plain loop does (parallelism ${parallelism})`, async () => {
      const lefts: Side[] = records(seed, 500, 40).map(({ id, k }) => ({ id, k }));
      const rights: Side[] = records(seed + 50, 300, 40).map(({ id, k }) => ({ id, k }));
      const cases = [['both', lefts, rights], ['empty left', [], rights], ['empty right', lefts, []]] as const;
      const env = new ExecutionEnvironment(client, { parallelism, memoryPerSlotMb: 1 });
      // Written to files, not collected: a job's result carries its collected records in one NATS message.
      const sinks: { name: string; type: JoinType; left: Side[]; right: Side[]; path: string }[] = [];
      const out = <T>(set: DataSet<T>): string => {
        const path = join(dir, `joins-${parallelism}-${sinks.length}`);
        set.writeAsJsonLines(path);
        return path;
      };
      for (const [what, left, right] of cases) {
        // fromCollection of at most 10 000 records: "known small", so the default of an inner or left join broadcasts it.
        const l = env.fromCollection<Side>([...left]);
        const r = env.fromCollection<Side>([...right]);
        for (const type of ['inner', 'left', 'right', 'full'] as const) {
          for (const strategy of STRATEGIES[type]) {
            const name = `${what}: ${type} join, ${strategy ?? 'default'}`;
            const path = out(l.join(r, { type, strategy }).where('k').equalTo('k')
              .with((a: Side | null, b: Side | null) => [a === null ? null : a.id, b === null ? null : b.id]));
            sinks.push({ name, type, left: [...left], right: [...right], path });
          }
        }
        // The outer-join shorthands, and a join without a function: the pairs.
        sinks.push({ name: `${what}: leftOuterJoin`, type: 'left', left: [...left], right: [...right],
          path: out(l.leftOuterJoin(r, 'sort-merge').where('k').equalTo('k').with((a, b) => [a.id, b === null ? null : b.id])) });
        sinks.push({ name: `${what}: fullOuterJoin`, type: 'full', left: [...left], right: [...right],
          path: out(l.fullOuterJoin(r).where('k').equalTo('k').with((a, b) => [a === null ? null : a.id, b === null ? null : b.id])) });
        sinks.push({ name: `${what}: pairs`, type: 'inner', left: [...left], right: [...right],
          path: out(l.join(r, 'inner').where('k').equalTo('k').map((pair: [Side, Side]) => [pair[0].id, pair[1].id])) });
      }
      // Joined on key-selector functions (null stays null, and matches nothing).
      const keyed = env.fromCollection(lefts).join(env.fromCollection(rights), { strategy: 'repartition-hash' })
        .where((s: Side) => (s.k === null ? null : s.k.toUpperCase())).equalTo((s: Side) => (s.k === null ? null : s.k.toUpperCase()))
        .with((a, b) => [a.id, b.id]);
      const keyedPath = out(keyed);
      await finished(env, `joins-${parallelism}`);
      const read = (path: string): unknown[] => outputLines(path).map((l) => JSON.parse(l));
      const expectedPairs = expectedJoin(lefts, rights, 'inner');
      expect(expectedPairs.length, 'pairs of the inner join').to.be.greaterThan(5000);
      for (const { name, type, left, right, path } of sinks) {
        expect(lines(read(path)), name).to.deep.equal(lines(expectedJoin(left, right, type)));
      }
      expect(lines(read(keyedPath)), 'inner join on key-selector functions').to.deep.equal(lines(expectedPairs));
    });
  }
  for (const [parallelism, seed] of [[1, 31], [4, 32]] as const) {
    it(`sorts totally with partitionByRange + sortPartition: the part files in order are sorted (parallelism ${parallelism})`, async () => {
      const random = prng(seed);
      const WORDS = ['ant', 'bee', 'cat', 'dog', 'eel', 'fox', 'Gnu', 'hen', 'ému', 'zebra'];
      // Skewed keys: a third of the records share one.
      const data = range(6000).map((id) => ({ id, k: random() < 0.3 ? 500 : Math.floor(random() * 1000) - 200, w: WORDS[Math.floor(random() * WORDS.length)]! }));
      type Row = (typeof data)[number];
      const env = new ExecutionEnvironment(client, { parallelism, memoryPerSlotMb: 1 });
      const input = env.fromCollection(data);
      const path = (name: string): string => join(dir, `sort-${parallelism}-${name}`);
      // By k, ties by id: one total order, so the output is exactly the sorted input.
      input.partitionByRange('k').sortPartition('k').sortPartition('id').writeAsJsonLines(path('by-k-id'));
      input.partitionByRange('k', 'desc').sortPartition('k', 'desc').writeAsText(path('by-k-desc'));
      input.partitionByRange('w').sortPartition('w').writeAsJsonLines(path('by-w'));
      input.partitionByRange((r: Row) => -r.k).sortPartition((r: Row) => -r.k).map((r: Row) => r.k).writeAsText(path('by-fn'));
      env.generateSequence(1, 5000).map((i: number) => (Math.imul(i, 0x9e3779b1) >>> 0) % 1000)
        .partitionByRange((x: number) => x).sortPartition((x: number) => x).writeAsText(path('numbers'));
      env.fromCollection<Row>([]).partitionByRange('k').sortPartition('k').writeAsJsonLines(path('empty'));
      await finished(env, `sort-${parallelism}`);

      const read = (name: string): Row[] => outputLines(path(name)).map((l) => JSON.parse(l) as Row);
      expect(read('by-k-id'), 'by k, then id').to.deep.equal([...data].sort((a, b) => a.k - b.k || a.id - b.id));
      // Equal keys are not kept in input order: they come from several subtasks of the range partitioner.
      for (const [name, keyOf, compare] of [
        ['by-k-desc', (r: Row) => r.k, (a: number, b: number) => b - a],
        ['by-w', (r: Row) => r.w, (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)],
      ] as const) {
        const got = read(name);
        const keys = got.map(keyOf as (r: Row) => never);
        expect(keys, `${name}: keys in order`).to.deep.equal([...keys].sort(compare as (a: never, b: never) => number));
        expect(lines(got), `${name}: the records`).to.deep.equal(lines(data));
      }
      expect(outputLines(path('by-fn')).map(Number), 'by a key function: -k ascending').to.deep.equal(data.map((r) => r.k).sort((a, b) => b - a));
      const numbers = range(5000).map((i) => (Math.imul(i + 1, 0x9e3779b1) >>> 0) % 1000);
      expect(outputLines(path('numbers')).map(Number), 'generateSequence, sorted').to.deep.equal(sortedNumbers(numbers));
      expect(outputLines(path('empty')), 'an empty input').to.deep.equal([]);
      if (parallelism > 1) {
        const parts = readdirSync(path('by-k-id')).filter((f) => readFileSync(join(path('by-k-id'), f), 'utf8') !== '');
        expect(parts.length, 'part files with records: the ranges spread the keys').to.be.greaterThan(1);
      }
    });
  }

  for (const parallelism of [1, 4]) {
    it(`reads a directory of CSV files with headers, aggregates, and writes CSV (parallelism ${parallelism})`, async () => {
      const random = prng(40 + parallelism);
      const input = join(dir, `csv-in-${parallelism}`);
      mkdirSync(input);
      const header = CSV_FIELDS.map((f) => f.name).join(',');
      const sales: Sale[] = [];
      for (const [file, count] of [['a.csv', 700], ['b.csv', 1], ['c.csv', 0], ['d.csv', 1300]] as const) {
        const rows = range(count).map((): Sale => ({
          shop: `s${Math.floor(random() * 7)}`, city: CITIES[Math.floor(random() * CITIES.length)]!,
          amount: Math.floor(random() * 50) - 10, price: Math.round(random() * 10_000) / 100, ok: random() < 0.8,
        }));
        sales.push(...rows);
        writeFileSync(join(input, file), [header, ...rows.map((r) => [r.shop, quoted(r.city), r.amount, r.price, r.ok].join(','))].join('\n') + '\n');
      }
      const output = join(dir, `csv-out-${parallelism}`);
      const env = new ExecutionEnvironment(client, { parallelism, memoryPerSlotMb: 1 });
      env.readCsvFile<Sale>(input, { fields: [...CSV_FIELDS], header: true })
        .filter((s: Sale) => s.ok)
        .groupBy('city').aggregate('sum', 'amount').and('max', 'price').and('count', 'shop')
        .writeAsCsv(output, { fields: ['city', 'amount', 'price', 'shop'], header: true });
      await finished(env, `csv-${parallelism}`);

      const written = outputLines(output);
      const outHeader = 'city,amount,price,shop';
      // A header per part file.
      expect(written.filter((l) => l === outHeader).length, 'headers').to.equal(parallelism);
      const got = written.filter((l) => l !== outHeader).map(parseCsv);
      const expected = [...groupsOf(sales.filter((s) => s.ok), (s) => s.city)].map(([id, g]) => [
        keyOfGroup(id), String(g.reduce((t, s) => t + s.amount, 0)), String(Math.max(...g.map((s) => s.price))), String(g.length),
      ]);
      expect(lines(got)).to.deep.equal(lines(expected));
      expect(got.length, 'every city').to.equal(CITIES.length);
    });
  }

  it('fails a job on a malformed CSV line, naming the file and the line', async () => {
    const input = join(dir, 'csv-bad');
    mkdirSync(input);
    writeFileSync(join(input, 'good.csv'), 'shop,city,amount,price,ok\ns1,Oslo,3,1.5,true\n');
    writeFileSync(join(input, 'bad.csv'), 'shop,city,amount,price,ok\ns1,Oslo,3,1.5,true\ns2,Lima,4,2,false\ns3,Lima,four,2,true\ns4,Lima,5,2,true\n');
    const quote = join(dir, 'csv-quote.csv');
    writeFileSync(quote, 'shop,city,amount,price,ok\ns1,"Oslo,3,1.5,true\n');
    const columns = join(dir, 'csv-columns.csv');
    writeFileSync(columns, 'shop,city,amount,price,ok\ns1,Oslo,3,1.5,true\n\ns1,Oslo,3\n');
    for (const [path, message] of [
      [input, /bad\.csv:4: field 'amount' expects integer, got 'four'/],
      [quote, /csv-quote\.csv:2: the quoted field at column \d+ is not closed/],
      [columns, /csv-columns\.csv:(3|4): expected 5 fields/],
    ] as const) {
      const env = new ExecutionEnvironment(client, { parallelism: 2 });
      // Not the batch default of a few restarts: the file will not change.
      env.setRestartStrategy({ type: 'none' });
      env.readCsvFile<Sale>(path, { fields: [...CSV_FIELDS], header: true }).groupBy('city').sum('amount').collect();
      const result = await (await env.execute('csv-bad')).result();
      expect(result.state, path).to.equal('FAILED');
      expect(result.cause, path).to.match(message);
    }
  });

  /** Sums over every pair a sort-merge join of generated sequences gives; the reference is a plain loop. */
  function joinJob(env: ExecutionEnvironment, sizes: { left: number; right: number; keys: number }, reduce?: (a: number[], b: number[]) => number[], output?: string): () => number[] {
    const left = env.generateSequence(0, sizes.left - 1).map((i: number) => ({ k: i % (params.keys as number), id: i }));
    const right = env.generateSequence(0, sizes.right - 1).map((i: number) => ({ k: (i * 7) % (params.keys as number), id: i }));
    const pairs = left.join(right, { strategy: 'sort-merge' }).where('k').equalTo('k').with((a, b) => [1, a.id + b.id]);
    // Each pair's sum as a line of text too: a file sink the failover must commit exactly once.
    if (output) pairs.map((pair: number[]) => String(pair[1])).writeAsText(output);
    pairs.reduce(reduce ?? ((a, b) => [a[0]! + b[0]!, a[1]! + b[1]!])).collect();
    return () => {
      let pairs = 0;
      let sum = 0;
      const rightsOf = new Map<number, number[]>();
      for (let i = 0; i < sizes.right; i++) rightsOf.set((i * 7) % sizes.keys, [...rightsOf.get((i * 7) % sizes.keys) ?? [], i]);
      for (let i = 0; i < sizes.left; i++) for (const j of rightsOf.get(i % sizes.keys) ?? []) { pairs += 1; sum += i + j; }
      return [pairs, sum];
    };
  }

  const KILL_SIZES = { left: 200_000, right: 100_000, keys: 50_000 };

  it('re-runs only the tasks of the killed Task Manager when one is killed with kill -9 during a join: the job stays RUNNING and finishes right, its files written once', async () => {
    const env = new ExecutionEnvironment(client, { parallelism: 4, memoryPerSlotMb: 1, params: { keys: KILL_SIZES.keys } });
    const output = join(dir, 'join-kill-pairs');
    const expected = joinJob(env, KILL_SIZES, undefined, output);
    const handle = await env.execute('join-kill');
    // The replacement comes under a new id: the dead one is never asked anything again.
    const victim = await killDuringJoin(handle, prng(55), 'new id');

    const result = await handle.result();
    expect(result.state, result.cause).to.equal('FINISHED');
    expect(Object.values(result.collected)).to.deep.equal([[expected()]]);
    const lines = outputLines(output);
    expect(lines.length, 'one line per pair').to.equal(expected()[0]);
    expect(lines.reduce((sum, line) => sum + Number(line), 0), 'the sum of the pairs').to.equal(expected()[1]);
    const { failovers, deployments } = await expectRegionFailover(handle, new RegExp(`task manager ${victim} lost`));
    // The sources finished before the join started: their stored output is read again, they do not run again.
    const sources = deployments.filter((d) => d.vertexName === 'generateSequence');
    expect(sources.map((d) => d.count)).to.deep.equal([1, 1, 1, 1, 1, 1, 1, 1]);
    const rerun = failovers.flatMap((f) => f.tasks.map((t) => t.vertexName));
    expect(rerun, rerun.join(', ')).to.include('join');
    expect(rerun.length, 'not every task of the job').to.be.lessThan(deployments.length);
    await eventually(async () => (await client.cluster()).taskManagers.length === 2, 'the lost task manager gone, its replacement registered');
    // The killed Task Manager's spill directories are removed by the next one to deploy on this host.
    expect(readdirSync(spillRoot()).filter((name) => name.startsWith(handle.jobId)), 'spill directories left').to.deep.equal([]);
  });

  it('restarts the whole job from its inputs after a kill -9 with the pipelined shuffle', async () => {
    const env = new ExecutionEnvironment(client, { parallelism: 4, memoryPerSlotMb: 1, params: { keys: KILL_SIZES.keys }, shuffle: 'pipelined' });
    const expected = joinJob(env, KILL_SIZES);
    const handle = await env.execute('join-kill-pipelined');
    const victim = await killDuringJoin(handle, prng(56));

    const result = await handle.result();
    expect(result.state, result.cause).to.equal('FINISHED');
    expect(Object.values(result.collected)).to.deep.equal([[expected()]]);
    // A batch job takes no checkpoints: it runs again from its inputs.
    await expectRecoveredFromKill(client, handle, victim, { fromCheckpoint: false });
  });

  it('re-runs the region of a function that threw, from its stored inputs, and finishes right', async () => {
    const marker = join(dir, 'threw-once');
    const sizes = { left: 20_000, right: 10_000, keys: 5_000 };
    const env = new ExecutionEnvironment(client, { parallelism: 2, params: { keys: sizes.keys, marker } });
    env.setRestartStrategy({ type: 'fixed-delay', attempts: 2, delayMs: 100 });
    const expected = joinJob(env, sizes, (a, b) => {
      // Throws the first time it runs anywhere, in one subtask only: creating the marker file is atomic.
      const fs = process.getBuiltinModule('node:fs');
      let first = true;
      try {
        fs.writeFileSync(params.marker as string, 'thrown', { flag: 'wx' });
      } catch {
        first = false;
      }
      if (first) throw new Error('a transient failure');
      return [a[0]! + b[0]!, a[1]! + b[1]!];
    });
    const handle = await env.execute('join-udf-fails-once');
    const result = await handle.result();
    expect(result.state, result.cause).to.equal('FINISHED');
    expect(Object.values(result.collected)).to.deep.equal([[expected()]]);
    const { failovers, deployments } = await expectRegionFailover(handle, /failed on record #\d+ of subtask \d\/2: a transient failure/);
    expect(failovers).to.have.length(1);
    expect(deployments.filter((d) => d.vertexName === 'generateSequence').map((d) => d.count)).to.deep.equal([1, 1, 1, 1]);
  });

  it('fails the job once the restart strategy gives up on a region that keeps failing, without running the rest again', async () => {
    const env = new ExecutionEnvironment(client, { parallelism: 2, params: { keys: 100 } });
    env.setRestartStrategy({ type: 'fixed-delay', attempts: 2, delayMs: 50 });
    joinJob(env, { left: 1000, right: 500, keys: 100 }, () => { throw new Error('always'); });
    const handle = await env.execute('join-udf-always-fails');
    const result = await handle.result();
    expect(result.state).to.equal('FAILED');
    expect(result.cause).to.match(/: always\b.*; then: .*: always\b.*; then: .*: always\b.*; gave up after 2 restarts \(fixed-delay\)$/);
    const { failovers, lifecycle } = await expectRegionFailover(handle, /always/);
    expect(failovers).to.have.length(2);
    const states = lifecycle.filter((e) => e.type === 'job.state').map((e) => (e as JobStateEvent).to);
    expect(states).to.deep.equal(['CREATED', 'RUNNING', 'FAILING', 'FAILED']);
  });

  /**
   * Kills a random live Task Manager once the join has taken some records, and starts a new one
   * in its place: under the same id, or under a new one (the old one never comes back).
   */
  async function killDuringJoin(handle: JobHandle, random: () => number, replacement: 'same id' | 'new id' = 'same id'): Promise<string> {
    const joining = await eventually(async () => {
      const status = await handle.status();
      const join = status.vertices.find((v) => v.name === 'join');
      return status.state === 'RUNNING' && join !== undefined && join.recordsIn > 20_000 && join.recordsOut === 0 ? join : undefined;
    }, 'the join to take records', 400, 25);
    // The join's sorters spill to <tmpdir>/cloudflink-spill/<job>-<attempt>-<vertex>-<subtask>-… (the Task Managers are local processes).
    const spills = spillRoot();
    const spilled = readdirSync(spills).filter((d) => d.startsWith(`${handle.jobId}-0-${joining.vertexId}-`) && readdirSync(join(spills, d)).length > 0);
    const live = [...cluster.taskManagers].filter(([, child]) => child.exitCode === null && child.signalCode === null).map(([id]) => id).sort();
    const victim = live[Math.floor(random() * live.length)]!;
    cluster.taskManagers.get(victim)!.kill('SIGKILL');
    await cluster.startTaskManager(replacement === 'same id' ? victim : undefined);
    expect(joining.recordsIn, 'killed while the join was reading').to.be.lessThan(300_000);
    expect(spilled.length, 'join subtasks that spilled before the kill').to.be.greaterThan(0);
    return victim;
  }

  it('unions, crosses and maps over forward edges that are not chained, each consumer reading every producer\'s stored end of input', async () => {
    const env = new ExecutionEnvironment(client, { parallelism: 2 });
    env.setRestartStrategy({ type: 'none' });
    // Subtask 2 of the evens (records 500 to 999) ends well after subtask 1: a consumer started too early would not find its output.
    const evens = env.generateSequence(0, 999).filter((i: number) => i % 2 === 0).map((i: number) => {
      if (i === 998) for (const until = Date.now() + 300; Date.now() < until;);
      return i;
    });
    const odds = env.generateSequence(0, 999).filter((i: number) => i % 2 === 1);
    const all = evens.union(odds).map((i: number) => i * 10).collect();
    const crossed = evens.cross(env.fromElements(1, 2)).with((a: number, b: number) => a * b).collect();
    const collected = await finished(env, 'forward-unchained');
    expect((collected[all.id] as number[]).sort((a, b) => a - b)).to.deep.equal(range(1000).map((i) => i * 10));
    expect((collected[crossed.id] as number[]).sort((a, b) => a - b)).to.deep.equal(
      range(500).flatMap((i) => [2 * i, 4 * i]).sort((a, b) => a - b));
  });

  it('runs PageRank as a bulk iteration of 10 rounds (the example job) and agrees with the plain loop', async () => {
    const random = prng(77);
    const PAGES = 300;
    const links: [number, number][] = [];
    for (let page = 0; page < PAGES; page++) {
      // Page 0 links nowhere (its rank is lost, as in Flink's example); some pages no link reaches.
      const degree = page === 0 ? 0 : 1 + Math.floor(random() * 5);
      for (const to of new Set(Array.from({ length: degree }, () => Math.floor(random() * PAGES * 0.9)))) links.push([page, to]);
    }
    const input = join(dir, 'links.csv');
    writeFileSync(input, `from,to\n${links.map(([from, to]) => `${from},${to}`).join('\n')}\n`);
    const output = join(dir, 'ranks.txt');
    const env = new ExecutionEnvironment(client, { parallelism: 4 });
    pagerank(env, { input, output, iterations: '10' });
    const result = await (await env.execute('pagerank')).result();
    expect(result.state, result.cause).to.equal('FINISHED');

    // The reference: the same formula in plain loops, over the pages the links name.
    const pages = [...new Set(links.flat())].sort((a, b) => a - b);
    const out = new Map<number, number[]>();
    for (const [from, to] of links) out.set(from, [...out.get(from) ?? [], to]);
    let ranks = new Map(pages.map((p) => [p, 1 / pages.length]));
    for (let round = 0; round < 10; round++) {
      const received = new Map(pages.map((p) => [p, 0]));
      for (const [from, targets] of out) for (const to of targets) received.set(to, received.get(to)! + ranks.get(from)! / targets.length);
      ranks = new Map(pages.map((p) => [p, 0.15 / pages.length + 0.85 * received.get(p)!]));
    }
    const lines = readFileSync(output, 'utf8').trim().split('\n').map((line) => line.split(' ').map(Number) as [number, number]);
    expect(lines.map(([page]) => page).sort((a, b) => a - b)).to.deep.equal(pages);
    for (const [page, rank] of lines) expect(rank, `rank of page ${page}`).to.be.closeTo(ranks.get(page)!, 1e-12);
    for (let i = 1; i < lines.length; i++) expect(lines[i - 1]![1], 'highest rank first').to.be.at.least(lines[i]![1]);
  });

  it('runs a job file with export const mode = \'batch\' through the CLI', async () => {
    const input = join(dir, 'cli-in');
    mkdirSync(input);
    const random = prng(66);
    const WORDS = ['apple', 'Berry', 'cherry', 'date', 'elder', 'fig'];
    const texts = range(3).map(() => range(200).map(() => range(1 + Math.floor(random() * 6)).map(() => WORDS[Math.floor(random() * WORDS.length)]).join(random() < 0.5 ? ' ' : ', ')));
    texts.forEach((text, i) => writeFileSync(join(input, `part-${i}.txt`), `${text.join('\n')}\n`));
    const output = join(dir, 'cli-out.csv');
    const run = await runCli(['run', 'spec/e2e/jobs/batch-wordcount.ts', '--wait', '--parallelism', '1',
      '--param', `input=${input}`, '--param', `output=${output}`, ...clusterFlags(nats.url, 'batch')]);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stderr).to.match(/batch-wordcount\) FINISHED/);
    const counts = new Map<string, number>();
    for (const word of texts.flat().join(' ').toLowerCase().split(/[^a-z]+/).filter(Boolean)) counts.set(word, (counts.get(word) ?? 0) + 1);
    expect(run.stdout).to.include(`distinct words: ${counts.size}`);
    const written = outputLines(output);
    expect(written[0]).to.equal('word,n');
    expect(lines(written.slice(1))).to.deep.equal(lines([...counts].map(([w, n]) => `${w},${n}`)));
  });

  it('gives the result of a job whose collect sinks together carry more than one NATS message', async () => {
    // Each sink stays under its own per-subtask limit (960 KB); together they pass 1 MB.
    const env = new ExecutionEnvironment(client, { parallelism: 1 });
    const text = env.generateSequence(0, 39_999).map((i: number) => `record ${String(i).padStart(12, '0')}`);
    text.collect();
    text.map((t: string) => t.toUpperCase()).collect();
    const collected = await finished(env, 'big-result');
    expect(Object.values(collected).map((records) => records.length)).to.deep.equal([40_000, 40_000]);
  });
  it('leaves no spill files or directories behind once a job that spilled has finished', async () => {
    const env = new ExecutionEnvironment(client, { parallelism: 2, memoryPerSlotMb: 1 });
    const left = env.generateSequence(0, 29_999).map((i: number) => ({ k: i % 1000, id: i }));
    left.join(env.generateSequence(0, 9_999).map((i: number) => ({ k: i % 1000, id: i })), { strategy: 'sort-merge' }).where('k').equalTo('k')
      .with(() => 1).reduce((a: number, b: number) => a + b).collect();
    left.partitionByHash('k').sortPartition('id', 'desc').first(1).collect();
    const handle = await env.execute('spill-cleanup');
    const result = await handle.result();
    expect(result.state, result.cause).to.equal('FINISHED');
    expect(Object.values(result.collected).map((records) => records.length)).to.deep.equal([1, 1]);
    const spills = join(tmpdir(), 'cloudflink-spill');
    const remaining = (): string[] => readdirSync(spills).filter((d) => d.startsWith(`${handle.jobId}-`))
      .map((d) => `${d} (${readdirSync(join(spills, d)).length} files)`);
    // The task's close comes before FINISHED; a second more for good measure.
    await new Promise((r) => setTimeout(r, 1000));
    expect(remaining(), `what the job left in ${spills}`).to.deep.equal([]);
  });
  it('runs a job whose fromCollection is larger than one NATS message, or refuses it saying why', async () => {
    const env = new ExecutionEnvironment(client, { parallelism: 1 });
    const text = range(60_000).map((i) => `record ${String(i).padStart(12, '0')}`);
    env.fromCollection(text).map((t: string) => t.length).reduce((a: number, b: number) => a + b).collect();
    let handle: JobHandle;
    try {
      handle = await env.execute('big-collection');
    } catch (error) {
      // The descriptor carries the collection; too large for one message is fine if it says so.
      expect((error as Error).message).to.match(/fromCollection|descriptor|too large|generateSequence|file/i);
      return;
    }
    const result = await handle.result();
    expect(result.state, result.cause).to.equal('FINISHED');
    expect(Object.values(result.collected)).to.deep.equal([[text.reduce((n, t) => n + t.length, 0)]]);
  });
});
