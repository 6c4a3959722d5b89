import { expect } from 'chai';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { filterLogic, flatMapLogic, mapLogic, reduceLogic, sumLogic } from '../../../../actors/operator/logic/transforms.ts';
import type { OperatorLogic, UserFn } from '../../../../actors/operator/logic/types.ts';

/** Feeds records one at a time; returns what was emitted after each. */
function run(logic: OperatorLogic, records: unknown[]): unknown[][] {
  return records.map((record) => {
    const out: unknown[] = [];
    logic.process!(record, { emit: (r) => out.push(r) });
    return out;
  });
}

const fn = (f: (...args: never[]) => unknown): UserFn => f as UserFn;

/** Expects a CloudflinkError with code UDF_FAILED and a message matching `pattern`. */
function expectUdfError(action: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected an error').to.be.instanceOf(CloudflinkError);
  expect((caught as CloudflinkError).code).to.equal('UDF_FAILED');
  expect((caught as Error).message).to.match(pattern);
}

describe('transforms', () => {
  describe('map', () => {
    it('emits fn(record) once per record', () => {
      expect(run(mapLogic(fn((x: number) => x * 2)), [1, 2, 3])).to.deep.equal([[2], [4], [6]]);
    });

    it('emits undefined and null results too', () => {
      expect(run(mapLogic(fn(() => undefined)), ['a'])).to.deep.equal([[undefined]]);
      expect(run(mapLogic(fn(() => null)), ['a'])).to.deep.equal([[null]]);
    });
  });

  describe('filter', () => {
    it('keeps the records for which fn is truthy, unchanged', () => {
      const records = [0, 1, 2, 3, 4, '', 'x', null, { a: 1 }];
      const kept = run(filterLogic(fn((x: unknown) => x)), records).flat();
      expect(kept).to.deep.equal([1, 2, 3, 4, 'x', { a: 1 }]);
      const even = run(filterLogic(fn((x: number) => x % 2 === 0)), [1, 2, 3, 4]).flat();
      expect(even).to.deep.equal([2, 4]);
    });
  });

  describe('flatMap', () => {
    it('emits every item of the returned array, in order', () => {
      const split = flatMapLogic(fn((line: string) => line.split(' ')));
      expect(run(split, ['a b c', 'd'])).to.deep.equal([['a', 'b', 'c'], ['d']]);
    });

    it('accepts a generator, a Set and any other iterable', () => {
      const generator = flatMapLogic(fn(function* (n: number) { for (let i = 0; i < n; i++) yield i; }));
      expect(run(generator, [3, 0, 1])).to.deep.equal([[0, 1, 2], [], [0]]);
      const set = flatMapLogic(fn((x: string) => new Set([x, x, `${x}!`])));
      expect(run(set, ['a'])).to.deep.equal([['a', 'a!']]);
      const map = flatMapLogic(fn(() => new Map([['k', 1]])));
      expect(run(map, [0])).to.deep.equal([[['k', 1]]]);
    });

    it('emits nothing for undefined or null', () => {
      expect(run(flatMapLogic(fn(() => undefined)), [1])).to.deep.equal([[]]);
      expect(run(flatMapLogic(fn(() => null)), [1])).to.deep.equal([[]]);
    });

    it('fails clearly when the function returns something that is not iterable', () => {
      expectUdfError(() => run(flatMapLogic(fn(() => 5)), [1]), /flatMap function must return an array or another iterable, not number 5/);
      expectUdfError(() => run(flatMapLogic(fn(() => ({ a: 1 }))), [1]), /must return an array or another iterable, not object \{"a":1\}/);
      expectUdfError(() => run(flatMapLogic(fn(() => true)), [1]), /not boolean true/);
    });

    it('refuses a string rather than emitting its characters', () => {
      expectUdfError(() => run(flatMapLogic(fn(() => 'abc')), [1]), /must return an array or another iterable, not string abc/);
    });
  });

  describe('reduce', () => {
    const byKey = (r: unknown): unknown => (r as { k: unknown }).k;
    const add = fn((a: { k: unknown; v: number }, b: { k: unknown; v: number }) => ({ k: a.k, v: a.v + b.v }));

    it('emits the running result of the record\'s key after each record', () => {
      const records = [{ k: 'a', v: 1 }, { k: 'b', v: 10 }, { k: 'a', v: 2 }, { k: 'a', v: 3 }, { k: 'b', v: 20 }];
      expect(run(reduceLogic(add, byKey), records)).to.deep.equal([
        [{ k: 'a', v: 1 }], [{ k: 'b', v: 10 }], [{ k: 'a', v: 3 }], [{ k: 'a', v: 6 }], [{ k: 'b', v: 30 }],
      ]);
    });

    it('calls fn(accumulated, record) in that order', () => {
      const calls: unknown[][] = [];
      const logic = reduceLogic(fn((a: unknown, b: unknown) => { calls.push([a, b]); return `${String(a)}${String(b)}`; }), () => 'same');
      expect(run(logic, ['x', 'y', 'z']).flat()).to.deep.equal(['x', 'xy', 'xyz']);
      expect(calls).to.deep.equal([['x', 'y'], ['xy', 'z']]);
    });

    it('treats equal keys as one key: strings, numbers, arrays, and objects whatever their field order', () => {
      const count = reduceLogic(fn((a: { n: number }) => ({ n: a.n + 1 })), (r) => (r as { key: unknown }).key);
      const sameKeys: unknown[][] = [
        ['w', 'w'],
        [7, 7],
        [-0, 0],
        [[1, 'a'], [1, 'a']],
        [{ a: 1, b: [2, 3] }, { b: [2, 3], a: 1 }],
        [{ x: { p: 1, q: 2 } }, { x: { q: 2, p: 1 } }],
      ];
      for (const [first, second] of sameKeys) {
        const out = run(count, [{ key: first, n: 1 }, { key: second, n: 1 }]).flat() as { n: number }[];
        expect(out.map((r) => r.n), `${JSON.stringify(first)} and ${JSON.stringify(second)}`).to.deep.equal([1, 2]);
      }
    });

    it('keeps keys apart that differ in type or value', () => {
      const count = reduceLogic(fn((a: { n: number }) => ({ n: a.n + 1 })), (r) => (r as { key: unknown }).key);
      const distinct: unknown[] = ['1', 1, [1], ['1'], { a: 1 }, { a: '1' }, [1, 2], [2, 1], null, true, 'true'];
      const out = run(count, distinct.map((key) => ({ key, n: 1 }))).flat() as { n: number }[];
      expect(out.map((r) => r.n)).to.deep.equal(distinct.map(() => 1));
    });
  });

  describe('sum', () => {
    it('keeps a rolling sum of a field per key; other fields come from the key\'s first record', () => {
      const logic = sumLogic('n', (r) => (r as { w: string }).w);
      const records = [
        { w: 'a', n: 1, tag: 'first' },
        { w: 'b', n: 5, tag: 'b' },
        { w: 'a', n: 2, tag: 'second' },
        { w: 'a', n: 0.5, tag: 'third' },
      ];
      expect(run(logic, records)).to.deep.equal([
        [{ w: 'a', n: 1, tag: 'first' }],
        [{ w: 'b', n: 5, tag: 'b' }],
        [{ w: 'a', n: 3, tag: 'first' }],
        [{ w: 'a', n: 3.5, tag: 'first' }],
      ]);
    });

    it('sums a tuple field by index, keyed by another', () => {
      const logic = sumLogic(1, (r) => (r as unknown[])[0]);
      const out = run(logic, [['to', 1], ['be', 1], ['to', 1], ['to', 1]]).flat();
      expect(out).to.deep.equal([['to', 1], ['be', 1], ['to', 2], ['to', 3]]);
      expect(Array.isArray(out[3])).to.equal(true);
    });

    it('keys objects with different field order as one key', () => {
      const logic = sumLogic('n', (r) => (r as { k: unknown }).k);
      const out = run(logic, [{ k: { x: 1, y: 2 }, n: 1 }, { k: { y: 2, x: 1 }, n: 4 }]).flat() as { n: number }[];
      expect(out.map((r) => r.n)).to.deep.equal([1, 5]);
    });

    it('sums bigints', () => {
      const logic = sumLogic('n', () => 'k');
      expect(run(logic, [{ n: 1n }, { n: 2n }]).flat()).to.deep.equal([{ n: 1n }, { n: 3n }]);
    });

    it('does not change the records it was given', () => {
      const first = { w: 'a', n: 1 };
      const tuple = ['a', 1];
      run(sumLogic('n', (r) => (r as { w: string }).w), [first, { w: 'a', n: 2 }]);
      run(sumLogic(1, (r) => (r as unknown[])[0]), [tuple, ['a', 2]]);
      expect(first).to.deep.equal({ w: 'a', n: 1 });
      expect(tuple).to.deep.equal(['a', 1]);
    });

    it('fails clearly when the field is not a number', () => {
      const logic = sumLogic('n', (r) => (r as { w: string }).w);
      run(logic, [{ w: 'a', n: 1 }]);
      expectUdfError(() => run(logic, [{ w: 'a', n: 'x' }]), /sum\("n"\) needs a number in that field, got string x/);
      expectUdfError(() => run(logic, [{ w: 'a' }]), /sum\("n"\) needs a number in that field/);
      const tuples = sumLogic(1, (r) => (r as unknown[])[0]);
      run(tuples, [['a', 1]]);
      expectUdfError(() => run(tuples, [['a', [2]]]), /sum\(1\) needs a number in that field, got an array/);
    });

    it('fails clearly when the first record of a key has no number in the field', () => {
      // Otherwise a string slips through as the running sum and the next record is
      // concatenated to it ('x' + 1 = 'x1').
      const logic = sumLogic('n', (r) => (r as { w: string }).w);
      expectUdfError(() => run(logic, [{ w: 'a', n: 'x' }]), /sum\("n"\) needs a number in that field, got string x/);
    });

    it('fails clearly on records that are neither arrays nor objects', () => {
      const logic = sumLogic('n', () => 'k');
      expectUdfError(() => run(logic, [5]), /sum\("n"\) needs records that are arrays or objects, got number 5/);
      expectUdfError(() => run(logic, [null]), /needs records that are arrays or objects, got null/);
      expectUdfError(() => run(logic, ['text']), /got string text/);
    });
  });
});
