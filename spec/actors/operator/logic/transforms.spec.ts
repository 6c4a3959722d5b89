import { expect } from 'chai';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { canonicalKey, subtaskForKey } from '../../../../lib/partition/index.ts';
import { KeyedStateBackend } from '../../../../lib/state/index.ts';
import { extremumLogic, filterLogic, flatMapLogic, mapLogic, reduceLogic, sumLogic, type Extremum } from '../../../../actors/operator/logic/transforms.ts';
import type { OperatorLogic } from '../../../../actors/operator/logic/types.ts';
import { prng } from '../../../helpers/random.ts';
import { fn, MAX_P, backend, viaWire } from '../../../helpers/logic.ts';

/** Feeds records one at a time; returns what was emitted after each. */
function run(logic: OperatorLogic, records: unknown[]): unknown[][] {
  return records.map((record) => {
    const out: unknown[] = [];
    logic.process!(record, { emit: (r) => out.push(r) });
    return out;
  });
}

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

/**
 * Specs that the rolling state of `make`'s logic goes through a checkpoint: restored into a new
 * backend at several cuts, and moved by key group to other parallelisms, it gives what an
 * unbroken run gives. `records(seed, count)` makes the input; `seeds` one per spec.
 */
function itKeepsRollingState<R extends { k: unknown }>(
  name: string, make: (state: KeyedStateBackend) => OperatorLogic, records: (seed: number, count: number) => R[],
  seeds: [number, number], rescales: readonly (readonly [number, number])[],
): void {
  it(`${name}: the rolling state survives a snapshot and a restore into a new backend`, () => {
    const input = records(seeds[0], 600);
    const expected = run(make(backend()), input);
    for (const cut of [0, 1, 299, 600]) {
      const first = backend();
      const before = run(make(first), input.slice(0, cut));
      const snapshot = viaWire(first.snapshot());
      // The old run goes on after the checkpoint and fails: what it did then is lost.
      run(make(first), input.slice(cut, cut + 50));
      const second = backend();
      second.restore([snapshot]);
      const after = run(make(second), input.slice(cut));
      expect([...before, ...after], `cut at ${cut}`).to.deep.equal(expected);
    }
  });

  it(`${name}: the rolling state moves with its key groups to another parallelism (${rescales.map(([from, to]) => `${from} → ${to}`).join(', ')})`, () => {
    const input = records(seeds[1], 800);
    const expected = run(make(backend()), input);
    for (const [from, to] of rescales) {
      const cut = 333;
      // Each record goes to the subtask that owns its key, as the hash partitioner sends it.
      const runAt = (logics: OperatorLogic[], parallelism: number, part: R[]): unknown[][] =>
        part.map((record) => run(logics[subtaskForKey(canonicalKey(record.k), MAX_P, parallelism)]!, [record])[0]!);
      const oldStates = Array.from({ length: from }, (_, i) => backend(i, from));
      const before = runAt(oldStates.map(make), from, input.slice(0, cut));
      const snapshots = oldStates.map((state) => viaWire(state.snapshot()));
      const newStates = Array.from({ length: to }, (_, i) => backend(i, to));
      for (const state of newStates) state.restore(snapshots);
      const after = runAt(newStates.map(make), to, input.slice(cut));
      expect([...before, ...after], `${from} → ${to}`).to.deep.equal(expected);
      expect(newStates.reduce((n, state) => n + state.size, 0), 'every key restored exactly once').to.equal(
        new Set(input.map((r) => canonicalKey(r.k))).size);
    }
  });
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
      expect(run(reduceLogic(add, byKey, backend()), records)).to.deep.equal([
        [{ k: 'a', v: 1 }], [{ k: 'b', v: 10 }], [{ k: 'a', v: 3 }], [{ k: 'a', v: 6 }], [{ k: 'b', v: 30 }],
      ]);
    });

    it('calls fn(accumulated, record) in that order', () => {
      const calls: unknown[][] = [];
      const logic = reduceLogic(fn((a: unknown, b: unknown) => { calls.push([a, b]); return `${String(a)}${String(b)}`; }), () => 'same', backend());
      expect(run(logic, ['x', 'y', 'z']).flat()).to.deep.equal(['x', 'xy', 'xyz']);
      expect(calls).to.deep.equal([['x', 'y'], ['xy', 'z']]);
    });

    it('treats equal keys as one key: strings, numbers, arrays, and objects whatever their field order', () => {
      const count = reduceLogic(fn((a: { n: number }) => ({ n: a.n + 1 })), (r) => (r as { key: unknown }).key, backend());
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
      const count = reduceLogic(fn((a: { n: number }) => ({ n: a.n + 1 })), (r) => (r as { key: unknown }).key, backend());
      const distinct: unknown[] = ['1', 1, [1], ['1'], { a: 1 }, { a: '1' }, [1, 2], [2, 1], null, true, 'true'];
      const out = run(count, distinct.map((key) => ({ key, n: 1 }))).flat() as { n: number }[];
      expect(out.map((r) => r.n)).to.deep.equal(distinct.map(() => 1));
    });
  });

  describe('sum', () => {
    it('keeps a rolling sum of a field per key; other fields come from the key\'s first record', () => {
      const logic = sumLogic('n', (r) => (r as { w: string }).w, backend());
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
      const logic = sumLogic(1, (r) => (r as unknown[])[0], backend());
      const out = run(logic, [['to', 1], ['be', 1], ['to', 1], ['to', 1]]).flat();
      expect(out).to.deep.equal([['to', 1], ['be', 1], ['to', 2], ['to', 3]]);
      expect(Array.isArray(out[3])).to.equal(true);
    });

    it('keys objects with different field order as one key', () => {
      const logic = sumLogic('n', (r) => (r as { k: unknown }).k, backend());
      const out = run(logic, [{ k: { x: 1, y: 2 }, n: 1 }, { k: { y: 2, x: 1 }, n: 4 }]).flat() as { n: number }[];
      expect(out.map((r) => r.n)).to.deep.equal([1, 5]);
    });

    it('sums bigints', () => {
      const logic = sumLogic('n', () => 'k', backend());
      expect(run(logic, [{ n: 1n }, { n: 2n }]).flat()).to.deep.equal([{ n: 1n }, { n: 3n }]);
    });

    it('does not change the records it was given', () => {
      const first = { w: 'a', n: 1 };
      const tuple = ['a', 1];
      run(sumLogic('n', (r) => (r as { w: string }).w, backend()), [first, { w: 'a', n: 2 }]);
      run(sumLogic(1, (r) => (r as unknown[])[0], backend()), [tuple, ['a', 2]]);
      expect(first).to.deep.equal({ w: 'a', n: 1 });
      expect(tuple).to.deep.equal(['a', 1]);
    });

    it('fails clearly when the field is not a number', () => {
      const logic = sumLogic('n', (r) => (r as { w: string }).w, backend());
      run(logic, [{ w: 'a', n: 1 }]);
      expectUdfError(() => run(logic, [{ w: 'a', n: 'x' }]), /sum\("n"\) needs a number in that field, got string x/);
      expectUdfError(() => run(logic, [{ w: 'a' }]), /sum\("n"\) needs a number in that field/);
      const tuples = sumLogic(1, (r) => (r as unknown[])[0], backend());
      run(tuples, [['a', 1]]);
      expectUdfError(() => run(tuples, [['a', [2]]]), /sum\(1\) needs a number in that field, got an array/);
    });

    it('fails clearly when the first record of a key has no number in the field', () => {
      // Otherwise a string slips through as the running sum and the next record is
      // concatenated to it ('x' + 1 = 'x1').
      const logic = sumLogic('n', (r) => (r as { w: string }).w, backend());
      expectUdfError(() => run(logic, [{ w: 'a', n: 'x' }]), /sum\("n"\) needs a number in that field, got string x/);
    });

    it('fails clearly on records that are neither arrays nor objects', () => {
      const logic = sumLogic('n', () => 'k', backend());
      expectUdfError(() => run(logic, [5]), /sum\("n"\) needs records that are arrays or objects, got number 5/);
      expectUdfError(() => run(logic, [null]), /needs records that are arrays or objects, got null/);
      expectUdfError(() => run(logic, ['text']), /got string text/);
    });
  });

  describe('keyed state', () => {
    type Counted = { k: unknown; n: number | bigint; tag?: string };
    const KEYS: unknown[] = ['a', 'b', 'é', '日本', 7, -1, 2.5, true, null, [1, 'x'], { p: 1, q: [2] }, 10n];

    /** Records over many keys, some keys given as objects whose fields come in another order. */
    function records(seed: number, count: number): Counted[] {
      const random = prng(seed);
      return Array.from({ length: count }, (_, i) => {
        const key = random() < 0.2 ? KEYS[Math.floor(random() * KEYS.length)] : `w${Math.floor(random() * 60)}`;
        const k = key !== null && typeof key === 'object' && !Array.isArray(key) && random() < 0.5 ? { q: [2], p: 1 } : key;
        return { k, n: 1 + Math.floor(random() * 9), tag: `#${i}` };
      });
    }

    const byKey = (r: unknown): unknown => (r as Counted).k;
    const makers: [string, (state: KeyedStateBackend) => OperatorLogic][] = [
      ['reduce', (state) => reduceLogic(fn((a: Counted, b: Counted) => ({ k: a.k, n: (a.n as number) + (b.n as number), tag: b.tag })), byKey, state)],
      ['sum', (state) => sumLogic('n', byKey, state)],
    ];

    it('keeps one entry of state per key, in the backend it was given', () => {
      for (const [name, make] of makers) {
        const state = backend();
        const input = records(1, 500);
        run(make(state), input);
        expect(state.size, name).to.equal(new Set(input.map((r) => canonicalKey(r.k))).size);
      }
    });

    for (const [name, make] of makers) {
      itKeepsRollingState(name, make, records, [2, 3], [[1, 3], [3, 2], [2, 4], [4, 1]]);
    }

    it('sum: bigint sums stay bigints through a snapshot and a restore', () => {
      const first = backend();
      run(sumLogic('n', byKey, first), [{ k: 'big', n: 2n ** 62n }, { k: 'small', n: 1n }]);
      const second = backend();
      second.restore([viaWire(first.snapshot())]);
      const out = run(sumLogic('n', byKey, second), [{ k: 'big', n: 1n }, { k: 'small', n: 2n }]).flat();
      expect(out).to.deep.equal([{ k: 'big', n: 2n ** 62n + 1n }, { k: 'small', n: 3n }]);
    });

    it('fails clearly when a record reaches a subtask that does not own its key', () => {
      const random = prng(4);
      const key = Array.from({ length: 100 }, () => `k${Math.floor(random() * 1e6)}`).find((k) => subtaskForKey(canonicalKey(k), MAX_P, 2) === 1)!;
      const logic = sumLogic('n', byKey, backend(0, 2));
      let caught: unknown;
      try {
        run(logic, [{ k: key, n: 1 }]);
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(CloudflinkError);
      expect((caught as CloudflinkError).code).to.equal('INTERNAL');
      expect((caught as Error).message).to.match(/routed to the wrong subtask/);
    });
  });
});

describe('extremumLogic: keyed rolling min, max, minBy and maxBy', () => {
  type Value = number | bigint | string;
  /** `id` tells apart records that hold the same value. */
  type Rec = { k: string; v: Value; id: number };
  type Tuple = [string, Value, number];
  const KINDS: readonly Extremum[] = ['min', 'max', 'minBy', 'maxBy'];
  const STRINGS = ['', 'a', 'A', 'b', 'aa', 'ab', 'ba', 'z', 'e', 'é', '日本', '10', '9'];

  const byKey = (r: unknown): unknown => (r as Rec).k;
  const byTupleKey = (r: unknown): unknown => (r as Tuple)[0];
  const toTuple = (r: Rec): Tuple => [r.k, r.v, r.id];

  /** Few distinct values, so that ties are common; now and then a far one (floats, bigints beyond 2^53). */
  function valueOf(kind: string, random: () => number): Value {
    const near = random() < 0.85;
    const small = Math.floor(random() * 7) - 3;
    if (kind === 'n') return near ? small : Math.round((random() - 0.5) * 2e6) / 8;
    if (kind === 'b') return near ? BigInt(small) : (random() < 0.5 ? -1n : 1n) * (2n ** 62n + BigInt(Math.floor(random() * 1000)));
    return STRINGS[Math.floor(random() * STRINGS.length)]!;
  }

  /** Records over twelve keys: the `n…` keys hold numbers, `b…` bigints, `s…` strings. */
  function records(seed: number, count: number): Rec[] {
    const random = prng(seed);
    const keys = ['n', 'b', 's'].flatMap((kind) => [0, 1, 2, 3].map((i) => `${kind}${i}`));
    return Array.from({ length: count }, (_, id) => {
      const k = keys[Math.floor(random() * keys.length)]!;
      return { k, v: valueOf(k[0]!, random), id };
    });
  }

  /**
   * Flink's semantics as a plain loop: per key, its first record and the record holding the
   * extremum so far; min/max emit the first with the extremum's value, minBy/maxBy the holder.
   */
  function reference(kind: Extremum, first: boolean, input: Rec[]): Rec[] {
    const firstOf = new Map<string, Rec>();
    const holder = new Map<string, Rec>();
    return input.map((record) => {
      const held = holder.get(record.k);
      if (held === undefined) {
        firstOf.set(record.k, record);
        holder.set(record.k, record);
      } else {
        const better = kind === 'min' || kind === 'minBy' ? record.v < held.v : record.v > held.v;
        const tie = !(record.v < held.v) && !(record.v > held.v);
        if (better || (tie && !first)) holder.set(record.k, record);
      }
      const best = holder.get(record.k)!;
      return kind === 'min' || kind === 'max' ? { ...firstOf.get(record.k)!, v: best.v } : best;
    });
  }

  it('follows Flink on a worked example: min/max keep the first record\'s other fields, minBy/maxBy break ties by first', () => {
    const input: Rec[] = [
      { k: 'a', v: 3, id: 0 }, { k: 'b', v: 'x', id: 1 }, { k: 'a', v: 1, id: 2 }, { k: 'a', v: 1, id: 3 },
      { k: 'a', v: 3, id: 4 }, { k: 'b', v: 'w', id: 5 }, { k: 'a', v: 5, id: 6 },
    ];
    const a = (v: number, id: number): Rec => ({ k: 'a', v, id });
    const b = (v: string, id: number): Rec => ({ k: 'b', v, id });
    const table: [Extremum, boolean, Rec[]][] = [
      ['min', true, [a(3, 0), b('x', 1), a(1, 0), a(1, 0), a(1, 0), b('w', 1), a(1, 0)]],
      ['max', true, [a(3, 0), b('x', 1), a(3, 0), a(3, 0), a(3, 0), b('x', 1), a(5, 0)]],
      ['minBy', true, [a(3, 0), b('x', 1), a(1, 2), a(1, 2), a(1, 2), b('w', 5), a(1, 2)]],
      ['minBy', false, [a(3, 0), b('x', 1), a(1, 2), a(1, 3), a(1, 3), b('w', 5), a(1, 3)]],
      ['maxBy', true, [a(3, 0), b('x', 1), a(3, 0), a(3, 0), a(3, 0), b('x', 1), a(5, 6)]],
      ['maxBy', false, [a(3, 0), b('x', 1), a(3, 0), a(3, 0), a(3, 4), b('x', 1), a(5, 6)]],
      // `first` is about whole records; min and max do the same without it.
      ['min', false, [a(3, 0), b('x', 1), a(1, 0), a(1, 0), a(1, 0), b('w', 1), a(1, 0)]],
      ['max', false, [a(3, 0), b('x', 1), a(3, 0), a(3, 0), a(3, 0), b('x', 1), a(5, 0)]],
    ];
    for (const [kind, first, expected] of table) {
      expect(run(extremumLogic(kind, 'v', first, byKey, backend()), input), `${kind}, first ${first}`).to.deep.equal(expected.map((r) => [r]));
      expect(reference(kind, first, input), `the reference, ${kind}, first ${first}`).to.deep.equal(expected);
    }
  });

  for (const kind of KINDS) {
    for (const first of [true, false]) {
      it(`${kind} (first ${first}): one record per input, as the plain loop gives, on objects and on tuples`, () => {
        for (const seed of [1, 2, 3, 4, 5]) {
          const input = records(seed, 400);
          const expected = reference(kind, first, input);
          expect(run(extremumLogic(kind, 'v', first, byKey, backend()), input), `seed ${seed}`).to.deep.equal(expected.map((r) => [r]));
          const tuples = run(extremumLogic(kind, 1, first, byTupleKey, backend()), input.map(toTuple));
          expect(tuples, `seed ${seed}, tuples`).to.deep.equal(expected.map((r) => [toTuple(r)]));
        }
      });
    }
  }

  it('is given inputs where the tie rule matters', () => {
    // Else the specs above could not tell first from last.
    for (const seed of [1, 2, 3, 4, 5]) {
      const input = records(seed, 400);
      expect(reference('minBy', true, input)).not.to.deep.equal(reference('minBy', false, input));
      expect(reference('maxBy', true, input)).not.to.deep.equal(reference('maxBy', false, input));
    }
  });

  it('changes neither its input nor any record it emitted earlier', () => {
    for (const kind of KINDS) {
      for (const first of [true, false]) {
        const objects = records(6, 300);
        const shapes: [string | number, (r: unknown) => unknown, unknown[]][] = [['v', byKey, objects], [1, byTupleKey, objects.map(toTuple)]];
        for (const [field, keyOf, input] of shapes) {
          const before = structuredClone(input);
          // Frozen: a write to an input or to an emitted record throws here, in strict mode.
          for (const record of input) Object.freeze(record);
          const emitted: { record: unknown; then: unknown }[] = [];
          const logic = extremumLogic(kind, field, first, keyOf, backend());
          for (const record of input) {
            logic.process!(record, { emit: (out) => emitted.push({ record: Object.freeze(out), then: structuredClone(out) }) });
          }
          const what = `${kind}(${JSON.stringify(field)}), first ${first}`;
          expect(input, what).to.deep.equal(before);
          expect(emitted.map((e) => e.record), what).to.deep.equal(emitted.map((e) => e.then));
          expect(emitted, what).to.have.length(input.length);
        }
      }
    }
  });

  it('fails, naming the operator, when one key mixes numbers, bigints and strings; other keys may hold other kinds', () => {
    const cases: [Value, Value, string][] = [
      [1, 'x', 'cannot compare string x with number 1'],
      [1, 1n, 'cannot compare bigint 1 with number 1'],
      ['1', 1, 'cannot compare number 1 with string 1'],
      [2n, 2, 'cannot compare number 2 with bigint 2'],
      [2n, '2', 'cannot compare string 2 with bigint 2'],
    ];
    for (const kind of KINDS) {
      for (const [held, next, message] of cases) {
        const logic = extremumLogic(kind, 'v', true, byKey, backend());
        expect(run(logic, [{ k: 'a', v: held }, { k: 'b', v: next }]).flat()).to.have.length(2);
        expectUdfError(() => run(logic, [{ k: 'a', v: next }]), new RegExp(`^${kind}\\("v"\\) ${message}: use one kind of value per key`));
      }
      const tuples = extremumLogic(kind, 1, false, byTupleKey, backend());
      run(tuples, [['a', 'x']]);
      expectUdfError(() => run(tuples, [['a', 7]]), new RegExp(`^${kind}\\(1\\) cannot compare number 7 with string x`));
    }
  });

  it('fails clearly on records that are neither arrays nor objects', () => {
    for (const kind of KINDS) {
      const logic = extremumLogic(kind, 'v', true, () => 'k', backend());
      const needs = `^${kind}\\("v"\\) needs records that are arrays or objects, got`;
      expectUdfError(() => run(logic, [5]), new RegExp(`${needs} number 5`));
      expectUdfError(() => run(logic, [null]), new RegExp(`${needs} null`));
      expectUdfError(() => run(logic, ['text']), new RegExp(`${needs} string text`));
      expectUdfError(() => run(logic, [undefined]), new RegExp(`${needs} undefined`));
      expectUdfError(() => run(logic, [3n]), new RegExp(`${needs} bigint 3`));
    }
  });

  it('fails clearly when the field holds no number, bigint or string, on the first record of a key and later', () => {
    const bad: [unknown, string][] = [[undefined, 'undefined'], [null, 'null'], [true, 'boolean true'], [{ n: 1 }, 'object \\{"n":1\\}'], [[1], 'an array']];
    for (const kind of KINDS) {
      for (const [value, shown] of bad) {
        const message = new RegExp(`^${kind}\\("v"\\) needs a number, a bigint or a string in that field, got ${shown}`);
        const logic = extremumLogic(kind, 'v', true, byKey, backend());
        expectUdfError(() => run(logic, [{ k: 'fresh', v: value }]), message);
        run(logic, [{ k: 'held', v: 1 }]);
        expectUdfError(() => run(logic, [{ k: 'held', v: value }]), message);
      }
      const logic = extremumLogic(kind, 'v', true, byKey, backend());
      expectUdfError(() => run(logic, [{ k: 'a', w: 1 }]), /got undefined/);
      expectUdfError(() => run(extremumLogic(kind, 2, true, byTupleKey, backend()), [['a', 1]]), new RegExp(`^${kind}\\(2\\) needs a number`));
    }
  });

  for (const kind of KINDS) {
    // minBy with first false and maxBy with first true: both tie rules go through a checkpoint.
    const make = (state: KeyedStateBackend): OperatorLogic => extremumLogic(kind, 'v', kind === 'maxBy', byKey, state);

    itKeepsRollingState(kind, make, records, [7, 8], [[2, 3], [3, 2], [1, 4], [4, 1]]);
  }
});
