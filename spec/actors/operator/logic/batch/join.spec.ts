/**
 * Batch join, coGroup and cross against nested-loop references on random data: every join
 * type and strategy, in memory and spilling (8 KB, where a hash join's table turns into a
 * sort-merge), at parallelism 1 and 4, drained a few records at a time; results compared as
 * multisets. Null and undefined keys never join; coGroup groups them as keys.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { batchCoGroupLogic, batchCrossLogic, batchJoinLogic, type BatchResources } from '../../../../../actors/operator/logic/batch/join.ts';
import type { OperatorLogic } from '../../../../../actors/operator/logic/types.ts';
import type { JoinStrategy, JoinType } from '../../../../../lib/descriptor/types.ts';
import { CloudflinkError } from '../../../../../lib/errors/index.ts';
import { canonicalKey, subtaskForKey } from '../../../../../lib/partition/index.ts';
import { fn, thrownBy } from '../../../../helpers/logic.ts';
import { prng } from '../../../../helpers/random.ts';

const MAX_P = 128;
const TINY = 8 * 1024;
const LARGE = 64 * 1024 * 1024;

type Key = number | string | [string, number] | null | undefined;
/** The two sides key their records by different fields, as where(..).equalTo(..) may. */
interface Left { id: string; lk: Key; pad: string }
interface Right { id: string; rk: Key; pad: string }

const key1 = (r: unknown): unknown => (r as Left).lk;
const key2 = (r: unknown): unknown => (r as Right).rk;
const joins = (a: Key, b: Key): boolean => a !== null && a !== undefined && b !== null && b !== undefined && canonicalKey(a) === canonicalKey(b);

interface Shape { n1: number; n2: number; keys: number; nulls: number; skew: number }

/** Keys of several kinds (0 and -0 are one key), some null or undefined, a share on one hot key. */
function randomKey(rand: () => number, shape: Shape): Key {
  const roll = rand();
  if (roll < shape.nulls / 2) return null;
  if (roll < shape.nulls) return undefined;
  if (rand() < shape.skew) return 0;
  const k = Math.floor(rand() * shape.keys);
  switch (k % 4) {
    case 0: return k === 0 && rand() < 0.5 ? -0 : k;
    case 1: return `k${k}`;
    case 2: return ['t', k];
    default: return k;
  }
}

function inputs(seed: number, shape: Shape): { lefts: Left[]; rights: Right[] } {
  const rand = prng(seed);
  const pad = (): string => 'x'.repeat(Math.floor(rand() * 40));
  const lefts = Array.from({ length: shape.n1 }, (_, i): Left => ({ id: `L${i}`, lk: randomKey(rand, shape), pad: pad() }));
  const rights = Array.from({ length: shape.n2 }, (_, i): Right => ({ id: `R${i}`, rk: randomKey(rand, shape), pad: pad() }));
  return { lefts, rights };
}

const SHAPES: [string, Shape][] = [
  ['both empty', { n1: 0, n2: 0, keys: 10, nulls: 0, skew: 0 }],
  ['input 1 empty', { n1: 0, n2: 150, keys: 10, nulls: 0.1, skew: 0 }],
  ['input 2 empty', { n1: 150, n2: 0, keys: 10, nulls: 0.1, skew: 0 }],
  ['many-to-many with nulls', { n1: 250, n2: 200, keys: 40, nulls: 0.1, skew: 0 }],
  ['a hot key on both sides', { n1: 300, n2: 250, keys: 60, nulls: 0.05, skew: 0.3 }],
  ['disjoint-ish, wide keys', { n1: 200, n2: 200, keys: 2000, nulls: 0.02, skew: 0 }],
];

const pairId = (left: Left | null, right: Right | null): string => `${left?.id ?? '-'}|${right?.id ?? '-'}`;

function referenceJoin(lefts: Left[], rights: Right[], type: JoinType): string[] {
  const pairs: string[] = [];
  const rightMatched = new Set<Right>();
  for (const left of lefts) {
    let matched = false;
    for (const right of rights) {
      if (!joins(left.lk, right.rk)) continue;
      matched = true;
      rightMatched.add(right);
      pairs.push(pairId(left, right));
    }
    if (!matched && (type === 'left' || type === 'full')) pairs.push(pairId(left, null));
  }
  if (type === 'right' || type === 'full') for (const right of rights) if (!rightMatched.has(right)) pairs.push(pairId(null, right));
  return pairs.sort();
}

interface Drive {
  parallelism: number;
  /** Input 2 to every subtask, input 1 round-robin; otherwise both by key. */
  broadcast: boolean;
  max: number;
  seed: number;
}

/** What the run left: the results, and whether spill files existed once all input was in. */
interface Outcome { results: unknown[]; spilled: boolean }

/**
 * Routes both inputs into `parallelism` instances, interleaved at random, then drains them in
 * turn, `max` at a time, and closes them; the spill directory must be empty after.
 */
function drive(make: () => OperatorLogic, lefts: unknown[], rights: unknown[], keys: [(r: unknown) => unknown, (r: unknown) => unknown] | undefined, options: Drive, directory: string): Outcome {
  const rand = prng(options.seed ^ 0x5eed);
  const instances = Array.from({ length: options.parallelism }, make);
  const results: unknown[] = [];
  const out = { emit: (record: unknown) => results.push(record) };
  const byKey = (key: unknown): number => subtaskForKey(canonicalKey(key), MAX_P, options.parallelism);
  let i = 0;
  let j = 0;
  let roundRobin = 0;
  while (i < lefts.length || j < rights.length) {
    if (j >= rights.length || (i < lefts.length && rand() < 0.5)) {
      const record = lefts[i++];
      const target = options.broadcast || keys === undefined ? roundRobin++ % options.parallelism : byKey(keys[0](record));
      instances[target]!.process!(record, out, 1);
    } else {
      const record = rights[j++];
      if (options.broadcast || keys === undefined) for (const instance of instances) instance.process!(record, out, 2);
      else instances[byKey(keys[1](record))]!.process!(record, out, 2);
    }
  }
  expect(results, 'nothing before the end of input').to.deep.equal([]);
  for (const instance of instances) instance.finish?.(out);
  const spilled = existsSync(directory) && readdirSync(directory).length > 0;
  const done = instances.map(() => false);
  while (done.includes(false)) {
    for (const [n, instance] of instances.entries()) {
      if (done[n]) continue;
      const before = results.length;
      done[n] = instance.drain!(out, options.max);
      expect(results.length - before, 'one drain emits at most max').to.be.at.most(options.max);
    }
  }
  for (const instance of instances) expect(instance.drain!(out, options.max), 'drained stays drained').to.equal(true);
  for (const instance of instances) instance.close!();
  expect(existsSync(directory) ? readdirSync(directory) : [], 'close() removes the spill files').to.deep.equal([]);
  return { results, spilled };
}

describe('batch join, coGroup and cross logic', () => {
  let root: string;
  let directory: string;
  let count = 0;
  const resources = (memoryBytes: number): BatchResources => ({ memoryBytes, directory });
  before(() => { root = mkdtempSync(joinPath(tmpdir(), 'cloudflink-join-')); });
  beforeEach(() => { directory = joinPath(root, `case-${count++}`); });
  after(() => rmSync(root, { recursive: true, force: true }));

  describe('join against a nested loop', () => {
    const strategies: JoinStrategy[] = ['sort-merge', 'repartition-hash', 'broadcast-hash'];
    const types: JoinType[] = ['inner', 'left', 'right', 'full'];
    let seed = 1;
    for (const strategy of strategies) {
      for (const type of types) {
        if (strategy === 'broadcast-hash' && (type === 'right' || type === 'full')) continue;
        for (const parallelism of [1, 4]) {
          for (const memory of [LARGE, TINY]) {
            it(`${strategy} ${type}, parallelism ${parallelism}, ${memory === TINY ? '8 KB (spilling)' : 'in memory'}`, () => {
              for (const [name, shape] of SHAPES) {
                const caseSeed = seed++;
                const { lefts, rights } = inputs(caseSeed, shape);
                const withFn = caseSeed % 2 === 0;
                const pairFn = fn((l: Left | null, r: Right | null) => {
                  if (l !== null && r !== null) expect(canonicalKey(l.lk), 'a pair shares its key').to.equal(canonicalKey(r.rk));
                  return { pair: pairId(l, r) };
                });
                const { results } = drive(
                  () => batchJoinLogic({ type, strategy }, { key1, key2, ...(withFn ? { fn: pairFn } : {}) }, resources(memory), 'j'),
                  lefts, rights, [key1, key2],
                  { parallelism, broadcast: strategy === 'broadcast-hash', max: [1, 5, 64][caseSeed % 3]!, seed: caseSeed },
                  joinPath(directory, name.replace(/\W/g, '_')),
                );
                const got = results.map((r) => (withFn ? (r as { pair: string }).pair : pairId(...(r as [Left | null, Right | null])))).sort();
                expect(got, `${name} (seed ${caseSeed})`).to.deep.equal(referenceJoin(lefts, rights, type));
              }
            });
          }
        }
      }
    }

    it('without fn, emits [left, right] with null for the missing side', () => {
      const logic = batchJoinLogic({ type: 'full', strategy: 'sort-merge' }, { key1, key2 }, resources(LARGE), 'j');
      const a: Left = { id: 'a', lk: 1, pad: '' };
      const b: Right = { id: 'b', rk: 1, pad: '' };
      const c: Left = { id: 'c', lk: null, pad: '' };
      const d: Right = { id: 'd', rk: undefined, pad: '' };
      for (const [record, input] of [[a, 1], [b, 2], [c, 1], [d, 2]] as const) logic.process!(record, { emit: () => {} }, input);
      const out: unknown[] = [];
      while (!logic.drain!({ emit: (r) => out.push(r) }, 5));
      logic.close!();
      expect(out).to.have.deep.members([[a, b], [c, null], [null, d]]);
    });

    it('null and undefined keys match nothing, not even each other', () => {
      for (const strategy of ['sort-merge', 'repartition-hash'] as const) {
        const logic = batchJoinLogic({ type: 'inner', strategy }, { key1, key2 }, resources(LARGE), 'j');
        for (const k of [null, undefined, null]) {
          logic.process!({ id: 'l', lk: k, pad: '' }, { emit: () => {} }, 1);
          logic.process!({ id: 'r', rk: k, pad: '' }, { emit: () => {} }, 2);
        }
        const out: unknown[] = [];
        while (!logic.drain!({ emit: (r) => out.push(r) }, 5));
        logic.close!();
        expect(out, strategy).to.deep.equal([]);
      }
    });

    it('a hash join whose table outgrows its memory turns to sort-merge, and spills', () => {
      // With input 1 empty, only a table turned sorter can leave spill files.
      const { rights } = inputs(99, { n1: 0, n2: 400, keys: 30, nulls: 0.1, skew: 0.2 });
      for (const [memory, spills] of [[TINY, true], [LARGE, false]] as const) {
        const where = joinPath(directory, String(memory));
        const logic = (): OperatorLogic => batchJoinLogic({ type: 'right', strategy: 'repartition-hash' }, { key1, key2 }, { memoryBytes: memory, directory: where }, 'j');
        const { results, spilled } = drive(logic, [], rights, [key1, key2], { parallelism: 1, broadcast: false, max: 7, seed: 3 }, where);
        expect(spilled, `spilled at ${memory} bytes`).to.equal(spills);
        expect(results.map((r) => pairId(...(r as [null, Right]))).sort()).to.deep.equal(referenceJoin([], rights, 'right'));
      }
    });

    it('a hot key with large groups on both sides (sort-merge, 8 KB)', () => {
      const lefts = Array.from({ length: 700 }, (_, i): Left => ({ id: `L${i}`, lk: i % 10 === 0 ? i : 'hot', pad: 'p'.repeat(20) }));
      const rights = Array.from({ length: 500 }, (_, i): Right => ({ id: `R${i}`, rk: i % 10 === 0 ? `${i}` : 'hot', pad: 'q'.repeat(20) }));
      for (const strategy of ['sort-merge', 'repartition-hash'] as const) {
        const where = joinPath(directory, strategy);
        const { results, spilled } = drive(
          () => batchJoinLogic({ type: 'full', strategy }, { key1, key2, fn: fn((l: Left | null, r: Right | null) => pairId(l, r)) }, { memoryBytes: TINY, directory: where }, 'j'),
          lefts, rights, [key1, key2], { parallelism: 1, broadcast: false, max: 1000, seed: 5 }, where,
        );
        expect(spilled).to.equal(true);
        expect(results.length).to.equal(630 * 450 + 70 + 50);
        expect((results as string[]).sort(), strategy).to.deep.equal(referenceJoin(lefts, rights, 'full'));
      }
    });

    it('refuses a broadcast-hash right or full join at construction, as Flink does', () => {
      for (const type of ['right', 'full'] as const) {
        const error = thrownBy(() => batchJoinLogic({ type, strategy: 'broadcast-hash' }, { key1, key2 }, resources(LARGE), 'orders⋈users'));
        expect(error).to.be.instanceOf(CloudflinkError).with.property('code', 'DESCRIPTOR_INVALID');
        expect((error as Error).message).to.match(new RegExp(`'orders⋈users'.*broadcast-hash.*${type}.*repartition-hash`));
      }
      for (const type of ['inner', 'left'] as const) batchJoinLogic({ type, strategy: 'broadcast-hash' }, { key1, key2 }, resources(LARGE), 'j').close!();
    });

    it('a failing join function fails the drain; close() still removes the spill files', () => {
      const { lefts, rights } = inputs(7, { n1: 300, n2: 300, keys: 5, nulls: 0, skew: 0 });
      const boom = new Error('boom');
      const logic = batchJoinLogic({ type: 'inner', strategy: 'sort-merge' }, { key1, key2, fn: fn(() => { throw boom; }) }, resources(TINY), 'j');
      for (const l of lefts) logic.process!(l, { emit: () => {} }, 1);
      for (const r of rights) logic.process!(r, { emit: () => {} }, 2);
      expect(readdirSync(directory)).to.not.be.empty;
      expect(thrownBy(() => logic.drain!({ emit: () => {} }, 10))).to.equal(boom);
      logic.close!();
      expect(existsSync(directory) ? readdirSync(directory) : [], 'no spill file left').to.deep.equal([]);
    });

    it('close() in the middle of a drain removes the spill files', () => {
      const { lefts, rights } = inputs(8, { n1: 300, n2: 300, keys: 5, nulls: 0, skew: 0 });
      const logic = batchJoinLogic({ type: 'full', strategy: 'repartition-hash' }, { key1, key2 }, resources(TINY), 'j');
      for (const l of lefts) logic.process!(l, { emit: () => {} }, 1);
      for (const r of rights) logic.process!(r, { emit: () => {} }, 2);
      let emitted = 0;
      expect(logic.drain!({ emit: () => { emitted += 1; } }, 5)).to.equal(false);
      expect(emitted).to.equal(5);
      logic.close!();
      logic.close!();
      expect(existsSync(directory) ? readdirSync(directory) : [], 'no spill file left').to.deep.equal([]);
    });

    it('a key that msgpack cannot carry is the user function\'s error', () => {
      const logic = batchJoinLogic({ type: 'inner', strategy: 'sort-merge' }, { key1: () => () => 1, key2 }, resources(LARGE), 'j');
      const error = thrownBy(() => logic.process!({ id: 'a' }, { emit: () => {} }, 1));
      expect(error).to.be.instanceOf(CloudflinkError).with.property('code', 'UDF_FAILED');
      logic.close!();
    });
  });

  describe('coGroup against a nested loop', () => {
    interface Group { key: string; l: string[]; r: string[] }
    const group = (key: unknown, l: string[], r: string[]): string =>
      `${key === undefined ? 'u' : canonicalKey(key)} L ${[...l].sort().join(',')} R ${[...r].sort().join(',')}`;

    function reference(lefts: Left[], rights: Right[]): string[] {
      const groups = new Map<string, { key: Key; l: string[]; r: string[] }>();
      const at = (key: Key) => {
        const k = canonicalKey(key);
        if (!groups.has(k)) groups.set(k, { key, l: [], r: [] });
        return groups.get(k)!;
      };
      for (const left of lefts) at(left.lk).l.push(left.id);
      for (const right of rights) at(right.rk).r.push(right.id);
      return [...groups.values()].map((g) => group(g.key, g.l, g.r)).sort();
    }

    let seed = 500;
    for (const parallelism of [1, 4]) {
      for (const memory of [LARGE, TINY]) {
        it(`parallelism ${parallelism}, ${memory === TINY ? '8 KB (spilling)' : 'in memory'}: once per key of either input, null and undefined keys as keys`, () => {
          for (const [name, shape] of SHAPES) {
            const caseSeed = seed++;
            const { lefts, rights } = inputs(caseSeed, shape);
            const coGroup = fn(function* (ls: Left[], rs: Right[], key: Key): Generator<Group> {
              for (const l of ls) expect(canonicalKey(l.lk)).to.equal(canonicalKey(key));
              for (const r of rs) expect(canonicalKey(r.rk)).to.equal(canonicalKey(key));
              expect(ls.length + rs.length).to.be.above(0);
              yield { key: group(key, ls.map((x) => x.id), rs.map((x) => x.id)), l: [], r: [] };
            });
            const { results } = drive(
              () => batchCoGroupLogic({ key1, key2, fn: coGroup }, resources(memory), 'cg'),
              lefts, rights, [key1, key2],
              { parallelism, broadcast: false, max: [1, 5, 64][caseSeed % 3]!, seed: caseSeed },
              joinPath(directory, name.replace(/\W/g, '_')),
            );
            expect(results.map((g) => (g as Group).key).sort(), `${name} (seed ${caseSeed})`).to.deep.equal(reference(lefts, rights));
          }
        });
      }
    }

    it('emits everything the function returns, and nothing for undefined', () => {
      const logic = batchCoGroupLogic({ key1, key2, fn: fn((ls: Left[]) => (ls.length === 0 ? undefined : ls.map((l) => l.id))) }, resources(LARGE), 'cg');
      for (const [record, input] of [[{ id: 'a', lk: 1 }, 1], [{ id: 'b', lk: 1 }, 1], [{ id: 'c', rk: 2 }, 2]] as const) logic.process!(record, { emit: () => {} }, input);
      const out: unknown[] = [];
      while (!logic.drain!({ emit: (r) => out.push(r) }, 1));
      logic.close!();
      expect(out).to.have.members(['a', 'b']);
    });

    it('a function that returns no iterable, or throws, fails the drain', () => {
      const bad = batchCoGroupLogic({ key1, key2, fn: fn(() => 42) }, resources(LARGE), 'my coGroup');
      bad.process!({ id: 'a', lk: 1 }, { emit: () => {} }, 1);
      const error = thrownBy(() => bad.drain!({ emit: () => {} }, 5));
      expect(error).to.be.instanceOf(CloudflinkError).with.property('code', 'UDF_FAILED');
      expect((error as Error).message).to.match(/coGroup function of 'my coGroup' must return an array or another iterable, not number 42/);
      bad.close!();
      const boom = new Error('boom');
      const throwing = batchCoGroupLogic({ key1, key2, fn: fn(() => { throw boom; }) }, resources(LARGE), 'cg');
      throwing.process!({ id: 'a', rk: 1 }, { emit: () => {} }, 2);
      expect(thrownBy(() => throwing.drain!({ emit: () => {} }, 5))).to.equal(boom);
      throwing.close!();
    });
  });

  describe('cross against a nested loop', () => {
    const reference = (as: Left[], bs: Right[]): string[] => as.flatMap((a) => bs.map((b) => pairId(a, b))).sort();
    let seed = 900;
    for (const parallelism of [1, 4]) {
      for (const memory of [LARGE, TINY]) {
        it(`parallelism ${parallelism}, ${memory === TINY ? '8 KB (spilling both inputs)' : 'in memory'}: every pair once`, () => {
          for (const [name, shape] of SHAPES) {
            const caseSeed = seed++;
            const { lefts, rights } = inputs(caseSeed, { ...shape, n1: Math.min(shape.n1, 120), n2: Math.min(shape.n2, 90) });
            const withFn = caseSeed % 2 === 0;
            const where = joinPath(directory, name.replace(/\W/g, '_'));
            const { results, spilled } = drive(
              () => batchCrossLogic(withFn ? { fn: fn((a: Left, b: Right) => pairId(a, b)) } : {}, { memoryBytes: memory, directory: where }, 'x'),
              lefts, rights, undefined,
              { parallelism, broadcast: true, max: [1, 5, 64][caseSeed % 3]!, seed: caseSeed }, where,
            );
            if (memory === TINY && lefts.length > 0 && rights.length > 0) expect(spilled, name).to.equal(true);
            const got = results.map((r) => (withFn ? r as string : pairId(...(r as [Left, Right])))).sort();
            expect(got, `${name} (seed ${caseSeed})`).to.deep.equal(reference(lefts, rights));
          }
        });
      }
    }

    it('records survive the spill file as they were', () => {
      const a = { id: 'a', nested: { list: [1, 2.5, 'x', null, true], big: 2n ** 70n, when: 5 }, pad: 'z'.repeat(4000) };
      const logic = batchCrossLogic({}, resources(1024), 'x');
      logic.process!(a, { emit: () => {} }, 1);
      logic.process!(a, { emit: () => {} }, 2);
      const out: unknown[] = [];
      while (!logic.drain!({ emit: (r) => out.push(r) }, 1));
      logic.close!();
      expect(out).to.deep.equal([[a, a]]);
      expect(existsSync(directory) ? readdirSync(directory) : [], 'no spill file left').to.deep.equal([]);
    });

    it('a failing cross function fails the drain', () => {
      const boom = new Error('boom');
      const logic = batchCrossLogic({ fn: fn(() => { throw boom; }) }, resources(LARGE), 'x');
      logic.process!(1, { emit: () => {} }, 1);
      logic.process!(2, { emit: () => {} }, 2);
      expect(thrownBy(() => logic.drain!({ emit: () => {} }, 5))).to.equal(boom);
      logic.close!();
    });
  });
});
