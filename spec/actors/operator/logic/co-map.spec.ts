import { expect } from 'chai';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { validateDescriptor, type JobDescriptor } from '../../../../lib/descriptor/index.ts';
import { createOperatorLogic } from '../../../../actors/operator/logic/index.ts';
import { coMapLogic } from '../../../../actors/operator/logic/transforms.ts';
import type { TaskDeployment } from '../../../../actors/operator/protocol.ts';
import type { OperatorLogic, UserFn } from '../../../../actors/operator/logic/types.ts';
import { fn, runWithInputs as run, thrownBy, type Input } from '../../../helpers/logic.ts';
import { prng } from '../../../helpers/random.ts';


function expectUdfError(action: () => unknown, pattern: RegExp): void {
  const caught = thrownBy(action);
  expect(caught).to.be.instanceOf(CloudflinkError);
  expect((caught as CloudflinkError).code).to.equal('UDF_FAILED');
  expect((caught as Error).message).to.match(pattern);
}

/** Which function handled the record: 1 tags it "one", 2 "two". */
const tagging = (flat: boolean): OperatorLogic => flat
  ? coMapLogic(fn((x: unknown) => ['one', x]), fn((x: unknown) => ['two', x]), true)
  : coMapLogic(fn((x: unknown) => `one:${String(x)}`), fn((x: unknown) => `two:${String(x)}`), false);

describe('coMapLogic', () => {
  describe('coMap', () => {
    it('emits fn1(record) for input 1, fn2(record) for input 2', () => {
      const logic = coMapLogic(fn((s: string) => s.length), fn((n: number) => n * 10), false);
      expect(run(logic, [['abc', 1], [4, 2], ['', 1], [0, 2]])).to.deep.equal([[3], [40], [0], [0]]);
    });

    it('takes a record without an input to be of input 1', () => {
      expect(run(tagging(false), [['a', undefined], ['b', 2], ['c', undefined]])).to.deep.equal([['one:a'], ['two:b'], ['one:c']]);
    });

    it('routes every record of a seeded interleaving to its own function, in order', () => {
      for (const seed of [1, 2, 3]) {
        const random = prng(seed);
        const records = Array.from({ length: 500 }, (_, i): [unknown, Input] => {
          const input = ([1, 2, undefined] as const)[Math.floor(random() * 3)];
          return [input === 2 ? i : `s${i}`, input];
        });
        const calls: string[] = [];
        const logic = coMapLogic(
          fn((s: string) => { calls.push(`fn1 ${s}`); return { first: s }; }),
          fn((n: number) => { calls.push(`fn2 ${n}`); return { second: n }; }),
          false);
        const out = run(logic, records);
        expect(out, `seed ${seed}`).to.deep.equal(records.map(([r, input]) => [input === 2 ? { second: r } : { first: r }]));
        expect(calls, `seed ${seed}: one call per record`).to.deep.equal(records.map(([r, input]) => `${input === 2 ? 'fn2' : 'fn1'} ${String(r)}`));
      }
    });

    it('calls each function with the record alone', () => {
      const args: unknown[][] = [];
      const logic = coMapLogic(fn((...a: unknown[]) => args.push(a)), fn((...a: unknown[]) => args.push(a)), false);
      run(logic, [['x', 1], ['y', 2]]);
      expect(args).to.deep.equal([['x'], ['y']]);
    });

    it('emits undefined, null and iterables as they are: it does not flatten', () => {
      const logic = coMapLogic(fn(() => undefined), fn((x: unknown) => x), false);
      expect(run(logic, [['a', 1], [null, 2], [[1, 2], 2], ['str', 2]])).to.deep.equal([[undefined], [null], [[1, 2]], ['str']]);
    });

    it('lets an error of either function through as it was thrown', () => {
      const boom1 = new Error('fn1 broke');
      const boom2 = new TypeError('fn2 broke');
      const logic = coMapLogic(fn(() => { throw boom1; }), fn(() => { throw boom2; }), false);
      expect(thrownBy(() => run(logic, [['a', 1]]))).to.equal(boom1);
      expect(thrownBy(() => run(logic, [['a', 2]]))).to.equal(boom2);
    });
  });

  describe('coFlatMap', () => {
    it('emits every element of what fn1 or fn2 returned, in order', () => {
      const logic = coMapLogic(fn((line: string) => line.split(' ')), fn((n: number) => Array.from({ length: n }, (_, i) => i)), true);
      expect(run(logic, [['a b c', 1], [3, 2], ['d', undefined], [0, 2]])).to.deep.equal([['a', 'b', 'c'], [0, 1, 2], ['d'], []]);
    });

    it('routes by input as coMap does', () => {
      expect(run(tagging(true), [['a', 1], ['b', 2], ['c', undefined]])).to.deep.equal([['one', 'a'], ['two', 'b'], ['one', 'c']]);
    });

    it('accepts a generator, a Set and any other iterable, from either function', () => {
      const logic = coMapLogic(
        fn(function* (n: number) { for (let i = 0; i < n; i++) yield -i; }),
        fn((x: string) => new Set([x, x, `${x}!`])),
        true);
      expect(run(logic, [[3, 1], ['a', 2], [0, 1]])).to.deep.equal([[-0, -1, -2], ['a', 'a!'], []]);
      const map = coMapLogic(fn(() => new Map([['k', 1]])), fn(() => new Map([['j', 2]])), true);
      expect(run(map, [[0, 1], [0, 2]])).to.deep.equal([[['k', 1]], [['j', 2]]]);
    });

    it('emits nothing for undefined or null, from either function', () => {
      const logic = coMapLogic(fn(() => undefined), fn(() => null), true);
      expect(run(logic, [['a', 1], ['b', 2]])).to.deep.equal([[], []]);
    });

    it('matches a plain loop over a seeded interleaving', () => {
      const random = prng(7);
      const records = Array.from({ length: 300 }, (): [unknown, Input] => {
        const input = ([1, 2, undefined] as const)[Math.floor(random() * 3)];
        return [Math.floor(random() * 5), input];
      });
      const logic = coMapLogic(fn((n: number) => Array.from({ length: n }, () => n)), fn((n: number) => [`${n}`, `${n}`]), true);
      const expected: unknown[] = [];
      for (const [n, input] of records as [number, Input][]) {
        if (input === 2) expected.push(`${n}`, `${n}`);
        else for (let i = 0; i < n; i++) expected.push(n);
      }
      expect(run(logic, records).flat()).to.deep.equal(expected);
    });

    it('fails naming fn1 when fn1 returns something that is not iterable', () => {
      const logic = coMapLogic(fn((x: unknown) => x), fn(() => []), true);
      expectUdfError(() => run(logic, [[5, 1]]), /^a coFlatMap function \(fn1\) must return an array or another iterable, not number 5$/);
      expectUdfError(() => run(logic, [[{ a: 1 }, undefined]]), /\(fn1\) must return an array or another iterable, not object \{"a":1\}/);
      expectUdfError(() => run(logic, [[true, 1]]), /\(fn1\).*not boolean true/);
    });

    it('fails naming fn2 when fn2 returns something that is not iterable', () => {
      const logic = coMapLogic(fn(() => []), fn((x: unknown) => x), true);
      expectUdfError(() => run(logic, [[7, 2]]), /^a coFlatMap function \(fn2\) must return an array or another iterable, not number 7$/);
      expectUdfError(() => run(logic, [[{ b: 2 }, 2]]), /\(fn2\).*not object \{"b":2\}/);
    });

    it('does not take a string for an iterable of characters, from either function', () => {
      const logic = coMapLogic(fn((x: unknown) => x), fn((x: unknown) => x), true);
      expectUdfError(() => run(logic, [['abc', 1]]), /\(fn1\).*not string abc/);
      expectUdfError(() => run(logic, [['xyz', 2]]), /\(fn2\).*not string xyz/);
    });

    it('emits nothing of a record whose function failed, and goes on with the next', () => {
      const out: unknown[] = [];
      const logic = coMapLogic(fn((x: unknown) => x), fn((n: number) => [n]), true);
      expect(() => logic.process!(42, { emit: (r) => out.push(r) }, 1)).to.throw(CloudflinkError);
      logic.process!(1, { emit: (r) => out.push(r) }, 2);
      expect(out).to.deep.equal([1]);
    });
  });

  describe('built from a descriptor', () => {
    /** The coMap or coFlatMap vertex of a resolved descriptor, deployed as subtask 0 with its two inputs. */
    function deployment(operator: 'coMap' | 'coFlatMap', fn1: string, fn2: string, params: Record<string, unknown>): TaskDeployment {
      const descriptor: JobDescriptor = {
        apiVersion: 'cloudflink/v1', name: 'co', params,
        vertices: [
          { id: 'a', operator: 'source.elements', elements: ['x'] },
          { id: 'b', operator: 'source.elements', elements: [1] },
          { id: 'co', operator, fn1, fn2 },
          { id: 'out', operator: 'sink.collect' },
        ],
        edges: [{ from: 'a', to: 'co', input: 1 }, { from: 'b', to: 'co', input: 2 }, { from: 'co', to: 'out' }],
      };
      const result = validateDescriptor(descriptor);
      if (!result.ok) return expect.fail(JSON.stringify(result.issues));
      return {
        jobId: 'job', jobName: 'co', attempt: 0, execution: 0, checkpointing: { enabled: false, mode: 'exactly-once' },
        vertex: result.job.vertices[2]!, subtask: 0, slot: 0, maxParallelism: 128,
        inputs: [
          { edgeIndex: 0, peerVertexId: 'a', peerParallelism: 1, partition: 'forward', input: 1 },
          { edgeIndex: 1, peerVertexId: 'b', peerParallelism: 1, partition: 'forward', input: 2 },
        ],
        outputs: [{ edgeIndex: 2, peerVertexId: 'out', peerParallelism: 1, partition: 'forward' }],
        network: { frameRecords: 100 } as TaskDeployment['network'],
        collectLimit: 1000,
      };
    }

    it('compiles fn1 and fn2 from their source text, with the params in scope', async () => {
      const logic = await createOperatorLogic(deployment('coMap', '(s) => s + params.suffix', '(n) => n * params.factor', { suffix: '!', factor: 3 }));
      expect(run(logic, [['hi', 1], [5, 2]])).to.deep.equal([['hi!'], [15]]);
    });

    it('builds a coFlatMap that flattens', async () => {
      const logic = await createOperatorLogic(deployment('coFlatMap', '(s) => (s === "" ? 0 : s.split(""))', 'function* (n) { for (let i = 0; i < n; i++) yield i; }', {}));
      expect(run(logic, [['ab', 1], [2, 2]])).to.deep.equal([['a', 'b'], [0, 1]]);
      expectUdfError(() => run(logic, [['', 1]]), /\(fn1\).*not number 0$/);
    });
  });
});
