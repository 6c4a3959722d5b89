import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeFrame, encodeFrame } from '../../../../../lib/codec/index.ts';
import { CloudflinkError } from '../../../../../lib/errors/index.ts';
import { canonicalKey, subtaskForKey } from '../../../../../lib/partition/index.ts';
import type { AggregationKind } from '../../../../../lib/descriptor/types.ts';
import {
  type BatchGroupingFns, type BatchGroupingVertex, type BatchResources, PARTIAL_MARKER, batchCombineLogic, batchGroupingLogic,
} from '../../../../../actors/operator/logic/batch/grouping.ts';
import type { OperatorLogic } from '../../../../../actors/operator/logic/types.ts';
import { prng } from '../../../../helpers/random.ts';
import { fn, thrownBy } from '../../../../helpers/logic.ts';

const MAX_P = 128;
/** Small enough that a few hundred records spill. */
const TINY = 16 * 1024;

type Key = string | number | null | undefined;
interface Rec { id: number; k: Key; v: number; w: number; s: string; big: bigint; n: number | null | undefined }

/** Random records: null and undefined keys, duplicates, and when `skewed` one key with most records. */
function randomRecords(seed: number, count: number, skewed: boolean): Rec[] {
  const random = prng(seed);
  const int = (n: number): number => Math.floor(random() * n);
  const keyOf = (): Key => {
    if (skewed && random() < 0.7) return 'hot';
    switch (int(5)) {
      case 0: return null;
      case 1: return undefined;
      case 2: return int(20);
      default: return `k${int(30)}`;
    }
  };
  const alphabet = 'abcde';
  return Array.from({ length: count }, (_, id) => ({
    id,
    k: keyOf(),
    v: int(201) - 100,
    w: int(1000),
    s: Array.from({ length: 1 + int(3) }, () => alphabet[int(alphabet.length)]).join(''),
    big: BigInt(int(1e6)) * 1000000n,
    n: random() < 0.15 ? (random() < 0.5 ? null : undefined) : int(10),
  }));
}

const byK = (r: unknown): unknown => (r as Rec).k;

/** The groups of `records` by `keyOf`, each in input order, as a plain loop makes them. */
function groupsOf<T>(records: T[], keyOf: (r: T) => unknown): { key: unknown; records: T[] }[] {
  const groups = new Map<string, { key: unknown; records: T[] }>();
  for (const r of records) {
    const key = keyOf(r);
    const c = canonicalKey(key);
    let group = groups.get(c);
    if (group === undefined) groups.set(c, group = { key, records: [] });
    group.records.push(r);
  }
  return [...groups.values()];
}

/** A multiset of records, comparable whatever their order (groups come in no particular order). */
const bag = (records: unknown[]): string[] => records.map((r) => canonicalKey(r)).sort();

let directory: string;
beforeEach(() => { directory = mkdtempSync(join(tmpdir(), 'cf-grouping-')); });
afterEach(() => rmSync(directory, { recursive: true, force: true }));

const resources = (memoryBytes = TINY, extra: Partial<BatchResources> = {}): BatchResources => ({ memoryBytes, directory, ...extra });
// The sorters remove the directory too once their files are gone.
const filesLeft = (): string[] => (existsSync(directory) ? readdirSync(directory, { recursive: true }).map(String) : []);

interface Run { out: unknown[]; calls: number; sawSpills: boolean }

/** process every record, finish, then drain `max` at a time until done (checking each call's count), then close. */
function run(logic: OperatorLogic, records: unknown[], max: number): Run {
  const out: unknown[] = [];
  const collector = { emit: (r: unknown) => { out.push(r); } };
  for (const r of records) logic.process!(r, collector);
  logic.finish?.(collector);
  let calls = 0;
  let sawSpills = filesLeft().length > 0;
  for (;;) {
    const before = out.length;
    const done = logic.drain!(collector, max);
    calls++;
    expect(out.length - before).to.be.at.most(max);
    if (filesLeft().length > 0) sawSpills = true;
    if (done) break;
    expect(calls).to.be.below(1e6);
  }
  logic.close!();
  expect(filesLeft(), 'spill files after close()').to.deep.equal([]);
  return { out, calls, sawSpills };
}

/** Routes records by key to `parallelism` instances, as a hash edge does; what each subtask emitted. */
function runParallel(make: () => OperatorLogic, records: unknown[], keyOf: ((r: unknown) => unknown) | undefined, parallelism: number, max: number): Run[] {
  const parts: unknown[][] = Array.from({ length: parallelism }, () => []);
  records.forEach((r, i) => {
    const subtask = keyOf === undefined ? i % parallelism : subtaskForKey(canonicalKey(keyOf(r)), MAX_P, parallelism);
    parts[subtask]!.push(r);
  });
  return parts.map((part) => run(make(), part, max));
}

const all = (runs: Run[]): unknown[] => runs.flatMap((r) => r.out);

const CASES = [
  { name: 'empty input', count: 0, skewed: false },
  { name: 'one record', count: 1, skewed: false },
  { name: 'mixed keys', count: 600, skewed: false },
  { name: 'one key with most records', count: 2500, skewed: true },
];

/** Each operator with its reference on one group (a plain loop). */
interface Operator {
  name: string;
  spec: BatchGroupingVertex;
  fns: BatchGroupingFns;
  reference(group: Rec[], key: unknown): unknown[];
}

const concatIds = fn((a: Rec & { ids?: string }, b: Rec) => ({ k: a.k, ids: `${a.ids ?? a.id},${b.id}` }));

const aggregations: { kind: AggregationKind; field: string }[] = [
  { kind: 'sum', field: 'v' }, { kind: 'min', field: 's' }, { kind: 'max', field: 'w' }, { kind: 'count', field: 'c' },
  { kind: 'avg', field: 'a' }, { kind: 'sum', field: 'big' },
];

/** The reference aggregate of records that all carry `a` (the value to average) and `c`. */
function aggregateReference(group: Rec[]): unknown {
  let sum = 0;
  let big = 0n;
  let min = group[0]!.s;
  let max = group[0]!.w;
  let avgSum = 0;
  for (const r of group) {
    sum += r.v;
    big += r.big;
    if (r.s < min) min = r.s;
    if (r.w > max) max = r.w;
    avgSum += r.v;
  }
  return { ...group[0]!, v: sum, s: min, w: max, c: group.length, a: avgSum / group.length, big };
}

const withAvgField = (r: Rec): Rec & { a: number } => ({ ...r, a: r.v });

const OPERATORS: Operator[] = [
  {
    name: 'reduce (not commutative: ids in input order)',
    spec: { operator: 'batch.reduce', fn: { field: 'x' } as never },
    fns: { fn: concatIds, key: byK },
    reference: (group) => [group.slice(1).reduce((a: unknown, b) => concatIds(a, b), group[0])],
  },
  {
    name: 'aggregate (sum, min of strings, max, count, avg, sum of bigints)',
    spec: { operator: 'batch.aggregate', aggregations },
    fns: { key: byK },
    reference: (group) => [aggregateReference(group)],
  },
  {
    name: 'minBy',
    spec: { operator: 'batch.minBy', field: 'v' },
    fns: { key: byK },
    reference: (group) => [group.reduce((best, r) => (r.v < best.v ? r : best))],
  },
  {
    name: 'maxBy',
    spec: { operator: 'batch.maxBy', field: 's' },
    fns: { key: byK },
    reference: (group) => [group.reduce((best, r) => (r.s > best.s ? r : best))],
  },
  {
    name: 'first(3)',
    spec: { operator: 'batch.first', n: 3 },
    fns: { key: byK },
    reference: (group) => group.slice(0, 3),
  },
  {
    name: 'distinct by a key',
    spec: { operator: 'batch.distinct', key: { field: 'k' } },
    fns: { key: byK },
    reference: (group) => [group[0]],
  },
  {
    name: 'reduceGroup returning an array',
    spec: { operator: 'batch.reduceGroup', fn: { field: 'x' } as never },
    fns: { fn: fn((records: Rec[], key: unknown) => [{ key, ids: records.map((r) => r.id) }]), key: byK },
    reference: (group, key) => [{ key, ids: group.map((r) => r.id) }],
  },
  {
    name: 'reduceGroup returning a generator',
    spec: { operator: 'batch.reduceGroup', fn: { field: 'x' } as never },
    fns: {
      fn: fn(function* (records: Rec[], key: unknown) {
        yield { key, size: records.length };
        for (const r of records) if (r.v > 50) yield { key, big: r.id };
      }),
      key: byK,
    },
    reference: (group, key) => [{ key, size: group.length }, ...group.filter((r) => r.v > 50).map((r) => ({ key, big: r.id }))],
  },
];

describe('batchGroupingLogic', () => {
  for (const operator of OPERATORS) {
    describe(operator.name, () => {
      for (const c of CASES) {
        for (const parallelism of [1, 4]) {
          for (const max of [1, 7, 10_000]) {
            it(`${c.name}, parallelism ${parallelism}, drain ${max} at a time`, () => {
              const records = randomRecords(c.count * 31 + parallelism * 7 + max, c.count, c.skewed).map(withAvgField);
              const expected = groupsOf(records, (r) => r.k).flatMap((g) => operator.reference(g.records, g.key));
              const runs = runParallel(() => batchGroupingLogic(operator.spec, operator.fns, resources(), 'g'), records, byK, parallelism, max);
              expect(bag(all(runs))).to.deep.equal(bag(expected));
              if (c.count >= 2500 && parallelism === 1) expect(runs[0]!.sawSpills, 'the sorter spilled').to.equal(true);
            });
          }
        }
      }
    });
  }

  it('keeps undefined and null keys apart, and hands reduceGroup each as it was', () => {
    const records: Rec[] = randomRecords(5, 400, false).filter((r) => r.k === null || r.k === undefined);
    const logic = batchGroupingLogic({ operator: 'batch.reduceGroup', fn: { field: 'x' } as never },
      { fn: fn((rs: Rec[], key: unknown) => [{ key, n: rs.length, undefinedKey: key === undefined }]), key: byK }, resources(), 'g');
    const { out } = run(logic, records, 3);
    const expected = groupsOf(records, (r) => r.k).map((g) => ({ key: g.key, n: g.records.length, undefinedKey: g.key === undefined }));
    expect(bag(out)).to.deep.equal(bag(expected));
    expect(out).to.have.length(2);
  });

  describe('without a key: the whole partition is one group', () => {
    for (const count of [0, 1, 700]) {
      it(`reduce, aggregate and reduceGroup over ${count} records`, () => {
        const records = randomRecords(count + 1, count, false).map(withAvgField);
        const reduce = run(batchGroupingLogic({ operator: 'batch.reduce', fn: { field: 'x' } as never }, { fn: concatIds }, resources(), 'g'), records, 2);
        const aggregate = run(batchGroupingLogic({ operator: 'batch.aggregate', aggregations }, {}, resources(), 'g'), records, 2);
        const groups = run(batchGroupingLogic({ operator: 'batch.reduceGroup', fn: { field: 'x' } as never },
          { fn: fn((rs: Rec[], key: unknown) => [{ key, ids: rs.map((r) => r.id) }]) }, resources(), 'g'), records, 2);
        if (count === 0) {
          // Flink reduces nothing on an empty input.
          expect([reduce.out, aggregate.out, groups.out]).to.deep.equal([[], [], []]);
          return;
        }
        expect(bag(reduce.out)).to.deep.equal(bag([records.slice(1).reduce((a: unknown, b) => concatIds(a, b), records[0])]));
        expect(bag(aggregate.out)).to.deep.equal(bag([aggregateReference(records)]));
        expect(groups.out).to.deep.equal([{ key: undefined, ids: records.map((r) => r.id) }]);
      });
    }
  });

  describe('distinct', () => {
    for (const parallelism of [1, 4]) {
      it(`without a key, by the whole record, at parallelism ${parallelism}`, () => {
        const random = prng(parallelism);
        const records = Array.from({ length: 3000 }, () => ({ k: random() < 0.1 ? null : Math.floor(random() * 40), s: ['x', 'y', undefined][Math.floor(random() * 3)] }));
        const whole = (r: unknown): unknown => r;
        const expected = groupsOf(records, whole).map((g) => g.records[0]);
        const runs = runParallel(() => batchGroupingLogic({ operator: 'batch.distinct' }, {}, resources(), 'd'), records, whole, parallelism, 7);
        expect(bag(all(runs))).to.deep.equal(bag(expected));
      });
    }
  });

  describe('mapPartition', () => {
    for (const parallelism of [1, 4]) {
      for (const count of [0, 5, 1500]) {
        it(`${count} records at parallelism ${parallelism}: once per subtask with its records in input order, even when it has none`, () => {
          const records = randomRecords(count, count, true);
          const logic = (): OperatorLogic => batchGroupingLogic({ operator: 'batch.mapPartition', fn: { field: 'x' } as never },
            // A key is ignored: mapPartition never groups.
            { fn: fn(function* (rs: Rec[]) { yield rs.length; for (const r of rs) yield r.id; }), key: byK }, resources(), 'm');
          const runs = runParallel(logic, records, undefined, parallelism, 7);
          runs.forEach((r, subtask) => {
            const mine = records.filter((_, i) => i % parallelism === subtask).map((x) => x.id);
            expect(r.out).to.deep.equal([mine.length, ...mine]);
          });
        });
      }
    }
  });

  describe('sortPartition (null and undefined first when ascending, last when descending; stable)', () => {
    /** The reference: a plain stable sort with the same rules. */
    const compareWith = (orders: ('asc' | 'desc')[], keys: ((r: Rec) => unknown)[]) => (a: Rec, b: Rec): number => {
      for (let i = 0; i < keys.length; i++) {
        const x = keys[i]!(a) ?? null;
        const y = keys[i]!(b) ?? null;
        let c = 0;
        if (x === null && y !== null) c = -1;
        else if (y === null && x !== null) c = 1;
        else if (x !== null && y !== null) c = (x as number) < (y as number) ? -1 : (x as number) > (y as number) ? 1 : 0;
        if (c !== 0) return orders[i] === 'desc' ? -c : c;
      }
      return 0;
    };
    for (const parallelism of [1, 4]) {
      for (const orders of [['asc', 'asc'], ['desc', 'asc'], ['asc', 'desc'], ['desc', 'desc']] as ('asc' | 'desc')[][]) {
        for (const count of [0, 3000]) {
          it(`${count} records by n ${orders[0]}, then s ${orders[1]}, at parallelism ${parallelism}`, () => {
            const records = randomRecords(count + orders.length, count, false);
            const keys = [(r: Rec): unknown => r.n, (r: Rec): unknown => r.s];
            const sortKeys = keys.map((key, i) => ({ key: key as (r: unknown) => unknown, order: orders[i]! }));
            const runs = runParallel(() => batchGroupingLogic({ operator: 'batch.sortPartition', by: [] }, { sortKeys }, resources(), 's'), records, undefined, parallelism, 7);
            runs.forEach((r, subtask) => {
              const mine = records.filter((_, i) => i % parallelism === subtask);
              const expected = [...mine].sort(compareWith(orders, keys)).map((x) => x.id);
              expect((r.out as Rec[]).map((x) => x.id)).to.deep.equal(expected);
            });
            if (count > 0 && parallelism === 1) expect(runs[0]!.sawSpills).to.equal(true);
          });
        }
      }
    }

    it('sorts bigints and refuses a key of two kinds', () => {
      const sortKeys = [{ key: (r: unknown) => (r as Rec).big, order: 'desc' as const }];
      const records = randomRecords(9, 300, false);
      const { out } = run(batchGroupingLogic({ operator: 'batch.sortPartition', by: [] }, { sortKeys }, resources(), 's'), records, 50);
      expect((out as Rec[]).map((r) => r.id)).to.deep.equal([...records].sort((a, b) => (a.big > b.big ? -1 : a.big < b.big ? 1 : 0)).map((r) => r.id));
      const mixed = batchGroupingLogic({ operator: 'batch.sortPartition', by: [] }, { sortKeys: [{ key: (r) => r, order: 'asc' }] }, resources(), 's');
      mixed.process!(1, { emit: () => {} });
      const error = thrownBy(() => mixed.process!('1', { emit: () => {} }));
      expect(error).to.be.instanceOf(CloudflinkError).with.property('code', 'UDF_FAILED');
      expect((error as Error).message).to.match(/batch\.sortPartition 's'.*cannot compare/);
      mixed.close!();
    });
  });

  describe('sortGroup: reduceGroup and first(n) see each group sorted (then in input order)', () => {
    /** By n (null and undefined first ascending) then id, each in `order`. */
    const byN = (order: 'asc' | 'desc') => (a: Rec, b: Rec): number => {
      const x = a.n ?? null;
      const y = b.n ?? null;
      const c = x === y ? 0 : x === null ? -1 : y === null ? 1 : x - y;
      return (order === 'desc' ? -c : c) || a.id - b.id;
    };
    for (const parallelism of [1, 4]) {
      for (const order of ['asc', 'desc'] as const) {
        for (const { name, count, skewed } of CASES) {
          it(`${name}, by n ${order}, at parallelism ${parallelism}, spilling`, () => {
            const records = randomRecords(count + 77, count, skewed);
            const sortKeys = [{ key: (r: unknown) => (r as Rec).n, order }];
            const reference = groupsOf(records, byK).map((g) => ({ key: g.key, records: [...g.records].sort(byN(order)) }));
            const groups = all(runParallel(() => batchGroupingLogic({ operator: 'batch.reduceGroup', fn: { field: 'x' } as never },
              { fn: fn((rs: Rec[], key: unknown) => [{ key, ids: rs.map((r) => r.id) }]), key: byK, sortKeys }, resources(), 'g'), records, byK, parallelism, 5));
            expect(bag(groups)).to.deep.equal(bag(reference.map((g) => ({ key: g.key, ids: g.records.map((r) => r.id) }))));
            const firsts = all(runParallel(() => batchGroupingLogic({ operator: 'batch.first', n: 3 }, { key: byK, sortKeys }, resources(), 'f'),
              records, byK, parallelism, 5));
            expect(bag(firsts)).to.deep.equal(bag(reference.flatMap((g) => g.records.slice(0, 3))));
          });
        }
      }
    }

    it('needs a group key', () => {
      const error = thrownBy(() => batchGroupingLogic({ operator: 'batch.first', n: 1 }, { sortKeys: [{ key: (r) => r, order: 'asc' }] }, resources(), 'f'));
      expect(error).to.be.instanceOf(CloudflinkError).with.property('code', 'DESCRIPTOR_INVALID');
      expect((error as Error).message).to.match(/sortGroup sorts the records of each group, and there is no group key/);
    });
  });

  describe('close()', () => {
    it('removes the spill files when a drain stopped half-way', () => {
      const logic = batchGroupingLogic({ operator: 'batch.first', n: 2 }, { key: byK }, resources(), 'g');
      for (const r of randomRecords(1, 3000, false)) logic.process!(r, { emit: () => {} });
      expect(filesLeft()).to.not.deep.equal([]);
      expect(logic.drain!({ emit: () => {} }, 5)).to.equal(false);
      logic.close!();
      logic.close!();
      expect(filesLeft()).to.deep.equal([]);
    });
  });

  describe('errors', () => {
    const sink = { emit: () => {} };
    const drainAll = (logic: OperatorLogic): void => { while (!logic.drain!(sink, 100)); };

    it('a non-number for sum or avg is UDF_FAILED naming the vertex, the field and the value', () => {
      for (const kind of ['sum', 'avg'] as const) {
        const logic = batchGroupingLogic({ operator: 'batch.aggregate', aggregations: [{ kind, field: 'v' }] }, { key: byK }, resources(), 'totals');
        logic.process!({ k: 1, v: 1 }, sink);
        logic.process!({ k: 1, v: 'seven' }, sink);
        const error = thrownBy(() => drainAll(logic));
        expect(error).to.be.instanceOf(CloudflinkError).with.property('code', 'UDF_FAILED');
        expect((error as Error).message).to.include("batch.aggregate 'totals'").and.include(`${kind} of field "v"`).and.include('string seven');
        logic.close!();
      }
    });

    it('a reduceGroup or mapPartition function returning a non-iterable is UDF_FAILED', () => {
      const group = batchGroupingLogic({ operator: 'batch.reduceGroup', fn: { field: 'x' } as never }, { fn: fn(() => 5), key: byK }, resources(), 'rg');
      group.process!({ k: 1 }, sink);
      const e1 = thrownBy(() => drainAll(group));
      expect(e1).to.be.instanceOf(CloudflinkError).with.property('code', 'UDF_FAILED');
      expect((e1 as Error).message).to.match(/reduceGroup function of batch\.reduceGroup 'rg' must return an array or another iterable, not number 5/);
      group.close!();
      const partition = batchGroupingLogic({ operator: 'batch.mapPartition', fn: { field: 'x' } as never }, { fn: fn(() => 'text') }, resources(), 'mp');
      const e2 = thrownBy(() => drainAll(partition));
      expect((e2 as Error).message).to.match(/mapPartition function of batch\.mapPartition 'mp' must return/);
    });

    it('a user function that throws propagates as it is', () => {
      const boom = new Error('boom');
      const logic = batchGroupingLogic({ operator: 'batch.reduce', fn: { field: 'x' } as never }, { fn: fn(() => { throw boom; }), key: byK }, resources(), 'r');
      logic.process!({ k: 1 }, sink);
      logic.process!({ k: 1 }, sink);
      expect(thrownBy(() => drainAll(logic))).to.equal(boom);
      logic.close!();
      expect(filesLeft()).to.deep.equal([]);
    });

    it('minBy on values of two kinds in one group, or on a missing field, is UDF_FAILED', () => {
      const logic = batchGroupingLogic({ operator: 'batch.minBy', field: 'v' }, { key: byK }, resources(), 'm');
      logic.process!({ k: 1, v: 1 }, sink);
      logic.process!({ k: 1, v: 1n }, sink);
      expect(thrownBy(() => drainAll(logic))).to.have.property('code', 'UDF_FAILED');
      const missing = batchGroupingLogic({ operator: 'batch.minBy', field: 'v' }, { key: byK }, resources(), 'm');
      missing.process!({ k: 1 }, sink);
      expect((thrownBy(() => drainAll(missing)) as Error).message).to.match(/batch\.minBy 'm': field "v" needs a number, a bigint or a string, got undefined/);
    });

    it('a group larger than groupBytesLimit fails its task with a message that says a group must fit in memory', () => {
      const logic = batchGroupingLogic({ operator: 'batch.reduceGroup', fn: { field: 'x' } as never }, { fn: fn((rs: unknown[]) => rs), key: byK },
        resources(TINY, { groupBytesLimit: 64 * 1024 }), 'rg');
      for (const r of randomRecords(2, 5000, true)) logic.process!(r, sink);
      const error = thrownBy(() => drainAll(logic));
      expect(error).to.be.instanceOf(CloudflinkError).with.property('code', 'TASK_FAILED');
      expect((error as Error).message).to.match(/batch\.reduceGroup 'rg': one group passed .* a group must fit in memory/);
      logic.close!();
    });

    it('a missing function is DESCRIPTOR_INVALID', () => {
      expect(thrownBy(() => batchGroupingLogic({ operator: 'batch.reduce', fn: { field: 'x' } as never }, {}, resources(), 'r'))).to.have.property('code', 'DESCRIPTOR_INVALID');
      expect(thrownBy(() => batchGroupingLogic({ operator: 'batch.sortPartition', by: [] }, {}, resources(), 's'))).to.have.property('code', 'DESCRIPTOR_INVALID');
    });
  });
});

describe('batchCombineLogic, then the final reduce or aggregate after a shuffle', () => {
  /**
   * Records split over `combiners` subtasks at random, each pre-reduced within `memoryBytes`
   * (so flushed at arbitrary points), over the wire (msgpack), routed by key to `parallelism`
   * final subtasks.
   */
  function combineThenFinal(records: Rec[], final: () => OperatorLogic, combiner: () => OperatorLogic, combiners: number, parallelism: number, seed: number): { out: unknown[]; partials: unknown[] } {
    const random = prng(seed);
    const parts: Rec[][] = Array.from({ length: combiners }, () => []);
    for (const r of records) parts[Math.floor(random() * combiners)]!.push(r);
    const partials: unknown[] = [];
    for (const part of parts) partials.push(...run(combiner(), part, 1 + Math.floor(random() * 9)).out);
    const wired = decodeFrame<unknown[]>(encodeFrame(partials));
    return { out: all(runParallel(final, wired, byK, parallelism, 7)), partials };
  }

  for (const c of CASES) {
    for (const parallelism of [1, 4]) {
      for (const memoryBytes of [300, 2000, TINY, 1 << 30]) {
        it(`${c.name}: reduce, combiner memory ${memoryBytes}, final parallelism ${parallelism}`, () => {
          // Commutative and associative, as a function with a combiner must be; a list of ids checks that nothing is lost or doubled.
          const sum = fn((a: Rec & { ids?: number[] }, b: Rec & { ids?: number[] }) => ({ k: a.k, v: a.v + b.v, ids: [...(a.ids ?? [a.id]), ...(b.ids ?? [b.id])].sort((x, y) => x - y) }));
          const records = randomRecords(c.count + memoryBytes, c.count, c.skewed);
          const { out } = combineThenFinal(records,
            () => batchGroupingLogic({ operator: 'batch.reduce', fn: { field: 'x' } as never }, { fn: sum, key: byK }, resources(), 'r'),
            () => batchCombineLogic({ operator: 'batch.combine', key: { field: 'k' }, fn: { field: 'x' } as never }, { fn: sum, key: byK }, resources(memoryBytes), 'c'),
            3, parallelism, c.count + parallelism);
          const normal = (r: unknown): unknown => { const x = r as Rec & { ids?: number[] }; return { k: x.k, v: x.v, ids: x.ids ?? [x.id] }; };
          const expected = groupsOf(records, (r) => r.k).map((g) => ({ k: g.key, v: g.records.reduce((s, r) => s + r.v, 0), ids: g.records.map((r) => r.id) }));
          expect(bag(out.map(normal))).to.deep.equal(bag(expected));
        });

        it(`${c.name}: aggregate with avg and count, combiner memory ${memoryBytes}, final parallelism ${parallelism}`, () => {
          const records = randomRecords(c.count + memoryBytes + 1, c.count, c.skewed).map(withAvgField);
          const { out, partials } = combineThenFinal(records,
            () => batchGroupingLogic({ operator: 'batch.aggregate', aggregations }, { key: byK }, resources(), 'a'),
            () => batchCombineLogic({ operator: 'batch.combine', key: { field: 'k' }, aggregations }, { key: byK }, resources(memoryBytes), 'c'),
            3, parallelism, c.count + parallelism + 1);
          // The group's first record is whichever partial came first; only the aggregated fields and the key are defined.
          const fields = (r: unknown): unknown => { const x = r as Record<string, unknown>; return { k: x.k, v: x.v, s: x.s, w: x.w, c: x.c, a: x.a, big: x.big, marker: PARTIAL_MARKER in x }; };
          const expected = groupsOf(records, (r) => r.k).map((g) => fields(aggregateReference(g.records)));
          expect(bag(out.map(fields))).to.deep.equal(bag(expected));
          for (const p of partials) expect(p).to.have.property(PARTIAL_MARKER);
          if (memoryBytes === 300 && c.count > 100) expect(partials.length, 'the combiner flushed').to.be.above(groupsOf(records, (r) => r.k).length);
        });
      }
    }
  }

  it('aggregates array records: the partial is one item longer, and the final result is not', () => {
    const aggs = [{ kind: 'avg' as const, field: 1 }, { kind: 'count' as const, field: 2 }];
    const records = [['a', 1, 0], ['b', 5, 0], ['a', 2, 0], ['a', 6, 0]];
    const key = (r: unknown): unknown => (r as unknown[])[0];
    const partials = run(batchCombineLogic({ operator: 'batch.combine', key: { field: 0 }, aggregations: aggs }, { key }, resources(), 'c'), records, 10).out;
    expect(partials.map((p) => (p as unknown[]).length)).to.deep.equal([4, 4]);
    // A partial and raw records mixed in the final aggregate.
    const final = run(batchGroupingLogic({ operator: 'batch.aggregate', aggregations: aggs }, { key }, resources(), 'a'), [...partials, ['b', 7, 9]], 10).out;
    expect(bag(final)).to.deep.equal(bag([['a', 3, 3], ['b', 6, 2]]));
  });

  it('refuses neither or both of a function and aggregations', () => {
    const key = byK;
    expect(thrownBy(() => batchCombineLogic({ operator: 'batch.combine', key: { field: 'k' } }, { key }, resources(), 'c'))).to.have.property('code', 'DESCRIPTOR_INVALID');
    expect(thrownBy(() => batchCombineLogic({ operator: 'batch.combine', key: { field: 'k' }, aggregations }, { key, fn: concatIds }, resources(), 'c'))).to.have.property('code', 'DESCRIPTOR_INVALID');
  });
});
