import { expect } from 'chai';
import { decode, encode } from '../../../../lib/codec/index.ts';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { canonicalKey } from '../../../../lib/partition/index.ts';
import { builtinWindowAggregate, type BuiltinWindowFunction, type WindowAggregate } from '../../../../actors/operator/logic/window-functions.ts';
import { prng } from '../../../helpers/random.ts';
import { thrownBy } from '../../../helpers/logic.ts';

type Value = number | bigint | string;
/** `v` is what is ranked, `g` a small group for distinct keys, `t` its event time; `id` its arrival. */
interface Rec { id: number; v: Value; g: unknown; t: number }

const by = (record: unknown): unknown => (record as Rec).v;

/** Random records of one kind of value, with many duplicates and ties, negatives included. */
function randomRecords(random: () => number, count: number, kind: 'number' | 'bigint' | 'string' | 'float'): Rec[] {
  const range = 1 + Math.floor(random() * 12);
  return Array.from({ length: count }, (_, id) => {
    const n = Math.floor((random() - 0.5) * 2 * range);
    const v: Value = kind === 'number' ? n : kind === 'bigint' ? BigInt(n) * 10n ** 15n : kind === 'float' ? n / 4 : ['', 'a', 'ab', 'b', 'B', 'é', 'Z', 'aa'][Math.abs(n) % 8]!;
    // Plain objects with their fields in either order, and arrays: equal by value, not reference.
    // Not -0 (n % 3 of a negative n can be): msgpack carries it as 0.
    const g = random() < 0.5 ? { x: Math.abs(n) % 3, y: 'k' } : random() < 0.5 ? { y: 'k', x: Math.abs(n) % 3 } : [Math.abs(n) % 2, 'k'];
    return { id, v, g, t: Math.floor((random() - 0.5) * 40) };
  });
}

const compare = (x: Value, y: Value): number => (x < y ? -1 : x > y ? 1 : 0);

/** The definitions, straightforwardly. */
function reference(fn: BuiltinWindowFunction, records: Rec[]): Rec[] {
  if ('distinct' in fn) {
    const keyOf = fn.distinct === true ? (r: Rec) => r : fn.distinct.key;
    return records.filter((r, i) => records.findIndex((s) => canonicalKey(keyOf(s)) === canonicalKey(keyOf(r))) === i);
  }
  if ('topN' in fn) {
    const { n, order } = fn.topN;
    return stableSort(records, (r) => r.v, order).slice(0, n);
  }
  return stableSort(records, fn.sort.by ? (r) => fn.sort.by!(r) as Value : (r) => r.t, fn.sort.order);
}

/** By insertion, so as not to lean on Array.prototype.sort being stable. */
function stableSort(records: Rec[], value: (r: Rec) => Value, order: 'asc' | 'desc'): Rec[] {
  const sign = order === 'asc' ? 1 : -1;
  const sorted: Rec[] = [];
  for (const r of records) {
    let i = sorted.length;
    while (i > 0 && sign * compare(value(sorted[i - 1]!), value(r)) > 0) i--;
    sorted.splice(i, 0, r);
  }
  return sorted;
}

/** An accumulator to checkpoint storage and back. */
const viaWire = (acc: unknown): unknown => decode(encode(acc));

/** Adds the records one at a time, through the wire now and then, as keyed state would go at a checkpoint. */
function accumulate(aggregate: WindowAggregate, records: Rec[], random: () => number, check?: (acc: unknown, upTo: number) => void): unknown {
  let acc = aggregate.create();
  records.forEach((r, i) => {
    acc = aggregate.add(acc, r, r.t);
    if (random() < 0.2) {
      const copy = viaWire(acc);
      expect(copy, 'an accumulator is plain data').to.deep.equal(acc);
      acc = copy;
    }
    check?.(acc, i + 1);
  });
  return acc;
}

function functionsFor(random: () => number): [string, BuiltinWindowFunction][] {
  const order = (): 'asc' | 'desc' => (random() < 0.5 ? 'asc' : 'desc');
  const n = 1 + Math.floor(random() * 8);
  const o1 = order();
  const o2 = order();
  const o3 = order();
  return [
    ['distinct', { distinct: true }],
    ['distinct by key', { distinct: { key: (r) => (r as Rec).g } }],
    ['distinct by value', { distinct: { key: by } }],
    [`topN ${n} ${o1}`, { topN: { n, by, order: o1 } }],
    [`top1 ${o2}`, { topN: { n: 1, by, order: o2 } }],
    [`sort by value ${o3}`, { sort: { by, order: o3 } }],
    [`sort by time ${o3}`, { sort: { order: o3 } }],
  ];
}

const kinds = ['number', 'bigint', 'string', 'float'] as const;

describe('builtinWindowAggregate', () => {
  describe('by example', () => {
    const recs: Rec[] = [
      { id: 0, v: 3, g: 'a', t: 30 }, { id: 1, v: -1, g: 'b', t: 10 }, { id: 2, v: 3, g: 'a', t: 10 },
      { id: 3, v: 7, g: 'c', t: -5 }, { id: 4, v: -1, g: 'b', t: 20 }, { id: 5, v: 0, g: 'a', t: 10 },
    ];
    const run = (fn: BuiltinWindowFunction, records = recs): number[] => {
      const aggregate = builtinWindowAggregate(fn, 'w');
      let acc = aggregate.create();
      for (const r of records) acc = aggregate.add(acc, r, r.t);
      return aggregate.result(acc).map((r) => (r as Rec).id);
    };

    it('distinct: the first record of each key, in arrival order', () => {
      expect(run({ distinct: { key: (r) => (r as Rec).g } })).to.deep.equal([0, 1, 3]);
      expect(run({ distinct: { key: by } })).to.deep.equal([0, 1, 3, 5]);
      expect(run({ distinct: true }, [...recs, { ...recs[2]! }, { id: 2, t: 10, g: 'a', v: 3 }])).to.deep.equal([0, 1, 2, 3, 4, 5]);
    });

    it('topN: the n best in rank order, ties by arrival', () => {
      expect(run({ topN: { n: 3, by, order: 'desc' } })).to.deep.equal([3, 0, 2]);
      expect(run({ topN: { n: 3, by, order: 'asc' } })).to.deep.equal([1, 4, 5]);
      expect(run({ topN: { n: 100, by, order: 'asc' } })).to.deep.equal([1, 4, 5, 0, 2, 3]);
    });

    it('sort: every record by value, or by event time without one, ties by arrival', () => {
      expect(run({ sort: { by, order: 'asc' } })).to.deep.equal([1, 4, 5, 0, 2, 3]);
      expect(run({ sort: { by, order: 'desc' } })).to.deep.equal([3, 0, 2, 5, 1, 4]);
      expect(run({ sort: { order: 'asc' } })).to.deep.equal([3, 1, 2, 5, 4, 0]);
      expect(run({ sort: { order: 'desc' } })).to.deep.equal([0, 4, 1, 2, 5, 3]);
    });

    it('gives nothing for an empty window', () => {
      for (const fn of functionsFor(prng(1)).map(([, f]) => f)) {
        const aggregate = builtinWindowAggregate(fn, 'w');
        expect(aggregate.result(aggregate.create())).to.deep.equal([]);
        expect(aggregate.result(aggregate.merge(aggregate.create(), aggregate.create()))).to.deep.equal([]);
      }
    });

    it('ranks bigints and strings (by UTF-16 code units)', () => {
      const big = [2n ** 63n - 1n, -(2n ** 63n), 0n, 5n].map((v, id) => ({ id, v, g: 0, t: 0 }));
      expect(run({ topN: { n: 2, by, order: 'desc' } }, big)).to.deep.equal([0, 3]);
      const words = ['b', 'B', 'ab', '', 'é', 'a'].map((v, id) => ({ id, v, g: 0, t: 0 }));
      expect(run({ sort: { by, order: 'asc' } }, words)).to.deep.equal([3, 1, 5, 2, 0, 4]);
    });
  });

  for (let seed = 1; seed <= 60; seed++) {
    const kind = kinds[seed % kinds.length]!;
    it(`equals the reference after every record, its accumulator through msgpack now and then (${kind}s, seed ${seed})`, () => {
      const random = prng(seed);
      const records = randomRecords(random, Math.floor(random() * 80), kind);
      for (const [name, fn] of functionsFor(random)) {
        const aggregate = builtinWindowAggregate(fn, 'w');
        accumulate(aggregate, records, random, (acc, upTo) => {
          expect(aggregate.result(acc), `${name}, after ${upTo}`).to.deep.equal(reference(fn, records.slice(0, upTo)));
          if ('topN' in fn) expect((acc as { e: unknown[] }).e.length, 'topN keeps at most n').to.be.at.most(fn.topN.n);
        });
      }
    });
  }

  for (let seed = 1; seed <= 60; seed++) {
    const kind = kinds[seed % kinds.length]!;
    it(`merges windows, in either grouping, as if a's records then b's had been added (${kind}s, seed ${seed})`, () => {
      const random = prng(1000 + seed);
      const records = randomRecords(random, Math.floor(random() * 60), kind);
      for (const [name, fn] of functionsFor(random)) {
        const aggregate = builtinWindowAggregate(fn, 'w');
        // Cut into up to 4 consecutive runs (some empty), each its own window.
        const cuts = [0, ...Array.from({ length: 3 }, () => Math.floor(random() * (records.length + 1))).sort((a, b) => a - b), records.length];
        const parts = () => cuts.slice(1).map((end, i) => accumulate(aggregate, records.slice(cuts[i]!, end), random));
        const leftToRight = parts().reduce((a, b) => viaWire(aggregate.merge(a, b)));
        expect(aggregate.result(leftToRight), `${name}, ((a b) c) d`).to.deep.equal(reference(fn, records));
        const rightToLeft = parts().reduceRight((b, a) => aggregate.merge(a, b));
        expect(aggregate.result(rightToLeft), `${name}, a (b (c d))`).to.deep.equal(reference(fn, records));
        // Adding on after a merge, as a session window does.
        const [a, b] = [accumulate(aggregate, records.slice(0, cuts[1]), random), accumulate(aggregate, records.slice(cuts[1], cuts[2]), random)];
        let acc = aggregate.merge(a, b);
        for (const r of records.slice(cuts[2])) acc = aggregate.add(acc, r, r.t);
        expect(aggregate.result(acc), `${name}, merged then added to`).to.deep.equal(reference(fn, records));
      }
    });
  }

  it('returns a new array from result: what was emitted does not change as records keep coming', () => {
    for (const [name, fn] of functionsFor(prng(3))) {
      const aggregate = builtinWindowAggregate(fn, 'w');
      const records = randomRecords(prng(4), 30, 'number');
      let acc = accumulate(aggregate, records.slice(0, 20), prng(5));
      const first = aggregate.result(acc);
      const copy = [...first];
      for (const r of records.slice(20)) acc = aggregate.add(acc, r, r.t);
      expect(first, name).to.deep.equal(copy);
    }
  });

  describe('errors', () => {
    const codeAndMessage = (action: () => unknown): [string, string] => {
      const error = thrownBy(action);
      expect(error).to.be.instanceOf(CloudflinkError);
      return [(error as CloudflinkError).code, (error as Error).message];
    };

    it('refuses n that is not a positive integer, and a missing by or order, as an invalid descriptor', () => {
      for (const n of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '3', undefined]) {
        const [code, message] = codeAndMessage(() => builtinWindowAggregate({ topN: { n: n as number, by, order: 'desc' } }, 'top-bids'));
        expect(code, String(n)).to.equal('DESCRIPTOR_INVALID');
        expect(message).to.match(/'top-bids'.*topN.*positive integer/);
      }
      expect(codeAndMessage(() => builtinWindowAggregate({ topN: { n: 2, by: 'v' as never, order: 'desc' } }, 'w'))[0]).to.equal('DESCRIPTOR_INVALID');
      expect(codeAndMessage(() => builtinWindowAggregate({ topN: { n: 2, by, order: 'up' as never } }, 'w'))[0]).to.equal('DESCRIPTOR_INVALID');
      expect(codeAndMessage(() => builtinWindowAggregate({ sort: { order: undefined as never } }, 'w'))[0]).to.equal('DESCRIPTOR_INVALID');
      expect(codeAndMessage(() => builtinWindowAggregate({ sort: { by: 3 as never, order: 'asc' } }, 'w'))[0]).to.equal('DESCRIPTOR_INVALID');
      expect(codeAndMessage(() => builtinWindowAggregate({ distinct: false as never }, 'w'))[0]).to.equal('DESCRIPTOR_INVALID');
      expect(codeAndMessage(() => builtinWindowAggregate({} as never, 'w'))[0]).to.equal('DESCRIPTOR_INVALID');
    });

    it('refuses a value that cannot be ranked, naming the vertex and the value', () => {
      for (const fn of [{ topN: { n: 2, by, order: 'asc' as const } }, { sort: { by, order: 'desc' as const } }]) {
        for (const v of [Number.NaN, null, undefined, true, { a: 1 }, [1]]) {
          const aggregate = builtinWindowAggregate(fn, 'ranked');
          const [code, message] = codeAndMessage(() => aggregate.add(aggregate.create(), { v }, 0));
          expect(code).to.equal('UDF_FAILED');
          expect(message).to.include("'ranked'");
          expect(message).to.match(/numbers, bigints or strings, got (number NaN|null|undefined|boolean true|object \{"a":1\}|an array)/);
        }
      }
    });

    it('refuses mixing kinds of values in a window, in add and in merge', () => {
      for (const fn of [{ topN: { n: 1, by, order: 'desc' as const } }, { topN: { n: 5, by, order: 'asc' as const } }, { sort: { by, order: 'asc' as const } }]) {
        for (const [x, y] of [[1, '1'], [1, 1n], ['a', 2n]] as [Value, Value][]) {
          const aggregate = builtinWindowAggregate(fn, 'mixed');
          const acc = aggregate.add(aggregate.create(), { v: x }, 0);
          const [code, message] = codeAndMessage(() => aggregate.add(acc, { v: y }, 0));
          expect(code).to.equal('UDF_FAILED');
          expect(message).to.match(/'mixed'.*cannot rank .* with .*one kind/);
          const other = aggregate.add(aggregate.create(), { v: y }, 0);
          expect(codeAndMessage(() => aggregate.merge(aggregate.add(aggregate.create(), { v: x }, 0), other))[0]).to.equal('UDF_FAILED');
        }
      }
    });

    it('refuses sorting by event time a record without one', () => {
      const aggregate = builtinWindowAggregate({ sort: { order: 'asc' } }, 'by-time');
      const [code, message] = codeAndMessage(() => aggregate.add(aggregate.create(), {}, undefined as never));
      expect(code).to.equal('UDF_FAILED');
      expect(message).to.match(/'by-time'.*without a timestamp/);
    });

    it('refuses a distinct key that msgpack cannot carry', () => {
      const aggregate = builtinWindowAggregate({ distinct: { key: () => () => 1 } }, 'dedup');
      const [code, message] = codeAndMessage(() => aggregate.add(aggregate.create(), {}, 0));
      expect(code).to.equal('UDF_FAILED');
      expect(message).to.match(/'dedup'.*function/);
    });
  });
});
