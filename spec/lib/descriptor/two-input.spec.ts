import { expect } from 'chai';
import { validateDescriptor, type DescriptorIssue, type JobDescriptor, type ResolvedJob } from '../../../lib/descriptor/index.ts';

/** A fresh two-input job each time: words (input 1) and numbers (input 2) into 'co', then a sink. */
function connected(operator: 'coMap' | 'coFlatMap' = 'coMap'): JobDescriptor {
  return {
    apiVersion: 'cloudflink/v1', name: 'connected', parallelism: 2,
    vertices: [
      { id: 'words', operator: 'source.elements', elements: ['a', 'bb'], parallelism: 1 },
      { id: 'numbers', operator: 'source.generator', count: 5 },
      { id: 'co', operator, fn1: '(s) => [s.length]', fn2: '(n) => [n * params.k]', params: { k: 3 } },
      { id: 'out', operator: 'sink.collect' },
    ],
    edges: [
      { from: 'words', to: 'co', input: 1 },
      { from: 'numbers', to: 'co', input: 2 },
      { from: 'co', to: 'out' },
    ],
  };
}

/** The descriptor as loosely typed JSON, to break it in ways the types forbid. */
function broken(edit: (d: any) => void, operator: 'coMap' | 'coFlatMap' = 'coMap'): unknown {
  const d = connected(operator);
  edit(d);
  return d;
}

function valid(input: unknown): ResolvedJob {
  const result = validateDescriptor(input);
  if (!result.ok) return expect.fail(JSON.stringify(result.issues, null, 2));
  return result.job;
}

function issuesOf(input: unknown): DescriptorIssue[] {
  const result = validateDescriptor(input);
  if (result.ok) expect.fail('expected the descriptor to be rejected');
  return result.issues;
}

/** The one issue a descriptor has; fails if there are more, so that no rule adds noise. */
function onlyIssue(input: unknown): DescriptorIssue {
  const issues = issuesOf(input);
  expect(issues, JSON.stringify(issues, null, 2)).to.have.length(1);
  return issues[0]!;
}

/** The issues as `path: message`, sorted, to compare a whole report at once. */
function report(input: unknown): string[] {
  return issuesOf(input).map((i) => `${i.path}: ${i.message}`).sort();
}

describe('two-input operators in a descriptor (coMap, coFlatMap)', () => {
  describe('valid', () => {
    for (const operator of ['coMap', 'coFlatMap'] as const) {
      it(`resolves a ${operator} with its edges' inputs kept and the usual defaults filled in`, () => {
        const job = valid(connected(operator));
        expect(job.vertices[2]).to.deep.include({
          id: 'co', name: 'co', operator, parallelism: 2, fn1: '(s) => [s.length]', fn2: '(n) => [n * params.k]', params: { k: 3 },
        });
        expect(job.edges.map((e) => [e.id, e.partition, e.input])).to.deep.equal([
          ['words->co', 'rebalance', 1], ['numbers->co', 'forward', 2], ['co->out', 'forward', undefined],
        ]);
        expect(job.edges[2]).not.to.have.property('input');
      });
    }

    it('takes the edges in any order, with any partitioning, and module references as functions', () => {
      const job = valid(broken((d) => {
        d.edges = [
          { from: 'numbers', to: 'co', input: 2, partition: 'broadcast' },
          { from: 'co', to: 'out', partition: 'rebalance' },
          { from: 'words', to: 'co', input: 1, partition: 'hash', key: { fn: '(s) => s[0]' } },
        ];
        d.vertices[2].fn1 = { module: 'my-udfs', export: 'parse' };
        d.vertices[2].fn2 = { module: 'my-udfs' };
      }));
      expect(job.edges.map((e) => [e.from, e.partition, e.input])).to.deep.equal([
        ['numbers', 'broadcast', 2], ['co', 'rebalance', undefined], ['words', 'hash', 1],
      ]);
      expect(job.vertices[2]).to.deep.include({ fn1: { module: 'my-udfs', export: 'parse' }, fn2: { module: 'my-udfs' } });
    });

    it('takes both inputs from one vertex when the two edges have ids of their own', () => {
      const job = valid(broken((d) => {
        d.vertices.splice(0, 1);
        d.edges = [
          { id: 'as-first', from: 'numbers', to: 'co', input: 1 },
          { id: 'as-second', from: 'numbers', to: 'co', input: 2 },
          { from: 'co', to: 'out' },
        ];
      }));
      expect(job.edges.map((e) => [e.id, e.input])).to.deep.equal([['as-first', 1], ['as-second', 2], ['co->out', undefined]]);
    });

    it('takes a chain of two-input vertices, each with its own inputs 1 and 2', () => {
      valid(broken((d) => {
        d.vertices.splice(3, 0, { id: 'co2', operator: 'coFlatMap', fn1: '(x) => [x]', fn2: '(s) => [s]' });
        d.edges[2] = { from: 'co', to: 'co2', input: 1 };
        d.edges.push({ from: 'words', to: 'co2', input: 2 }, { from: 'co2', to: 'out' });
      }));
    });
  });

  describe('inputs', () => {
    it('reports a missing input 1 on the vertex', () => {
      expect(onlyIssue(broken((d) => { d.edges.splice(0, 1); }))).to.deep.equal({
        path: '/vertices/2', message: `'co' (coMap) needs an edge with "input": 1 (its first stream)`,
      });
    });

    it('reports a missing input 2 on the vertex', () => {
      expect(onlyIssue(broken((d) => { d.edges.splice(1, 1); }, 'coFlatMap'))).to.deep.equal({
        path: '/vertices/2', message: `'co' (coFlatMap) needs an edge with "input": 2 (its second stream)`,
      });
    });

    it('reports no input at all once, and which inputs it needs', () => {
      expect(report(broken((d) => { d.edges.splice(0, 2); }))).to.deep.equal([
        `/vertices/2: 'co' (coMap) has no input edge; only sources (source.*) go without one`,
        `/vertices/2: 'co' (coMap) needs an edge with "input": 1 (its first stream)`,
        `/vertices/2: 'co' (coMap) needs an edge with "input": 2 (its second stream)`,
      ]);
    });

    it('reports a second edge as the same input on that edge, naming the first', () => {
      expect(report(broken((d) => { d.edges[1].input = 1; }))).to.deep.equal([
        `/edges/1/input: 'co' (coMap) takes one edge as input 1; /edges/0 is one already`,
        `/vertices/2: 'co' (coMap) needs an edge with "input": 2 (its second stream)`,
      ]);
      // A third edge into a complete pair: only the extra one is wrong.
      const third = onlyIssue(broken((d) => {
        d.vertices.splice(2, 0, { id: 'more', operator: 'source.generator', count: 1 });
        d.edges.push({ from: 'more', to: 'co', input: 2 });
      }));
      expect(third).to.deep.equal({ path: '/edges/3/input', message: `'co' (coMap) takes one edge as input 2; /edges/1 is one already` });
    });

    it('reports an edge without input on that edge', () => {
      expect(report(broken((d) => { delete d.edges[0].input; }))).to.deep.equal([
        `/edges/0: an edge into 'co' (coMap) must say which input it is: "input": 1 or 2`,
        `/vertices/2: 'co' (coMap) needs an edge with "input": 1 (its first stream)`,
      ]);
      expect(report(broken((d) => { delete d.edges[1].input; }, 'coFlatMap'))).to.deep.equal([
        `/edges/1: an edge into 'co' (coFlatMap) must say which input it is: "input": 1 or 2`,
        `/vertices/2: 'co' (coFlatMap) needs an edge with "input": 2 (its second stream)`,
      ]);
    });

    it('reports input on an edge into any other operator, on that edge', () => {
      const intoMap = onlyIssue(broken((d) => {
        d.vertices.splice(3, 0, { id: 'm', operator: 'map', fn: '(x) => x' });
        d.edges[2] = { from: 'co', to: 'm', input: 1 };
        d.edges.push({ from: 'm', to: 'out' });
      }));
      expect(intoMap.path).to.equal('/edges/2/input');
      expect(intoMap.message).to.match(/^only an edge into a two-input operator \(coMap, coFlatMap.*\) says which input it is; 'm' is map$/);
      const intoSink = onlyIssue(broken((d) => { d.edges[2].input = 2; }));
      expect(intoSink.path).to.equal('/edges/2/input');
      expect(intoSink.message).to.match(/'out' is sink\.collect$/);
      // A union has two inputs here too, but they are not told apart.
      expect(report(broken((d) => {
        d.vertices.splice(3, 0, { id: 'u', operator: 'union' });
        d.edges[2] = { from: 'co', to: 'u', input: 1 };
        d.edges.push({ from: 'words', to: 'u', input: 2 }, { from: 'u', to: 'out' });
      })).map((line) => line.split(':')[0])).to.deep.equal(['/edges/2/input', '/edges/3/input']);
    });

    it('reports input on the hash edge into a keyed operator on that edge only', () => {
      const issue = onlyIssue(broken((d) => {
        d.vertices.splice(3, 0, { id: 'sum', operator: 'sum', field: 0 });
        d.edges[2] = { from: 'co', to: 'sum', partition: 'hash', key: { field: 1 }, input: 1 };
        d.edges.push({ from: 'sum', to: 'out' });
      }));
      expect(issue.path).to.equal('/edges/2/input');
      expect(issue.message).to.match(/'sum' is sum$/);
    });

    for (const [value, shown] of [[3, '3'], ['1', `'1'`], [0, '0'], [null, 'null'], [1.5, '1.5']] as const) {
      it(`reports input ${JSON.stringify(value)} on that edge as not 1 or 2, and the input then missing on the vertex`, () => {
        expect(report(broken((d) => { d.edges[0].input = value; }))).to.deep.equal([
          `/edges/0/input: must be one of 1, 2 (got ${shown})`,
          `/vertices/2: 'co' (coMap) needs an edge with "input": 1 (its first stream)`,
        ]);
      });
    }

    it('reports a wrong input value into a map on that edge', () => {
      const paths = issuesOf(broken((d) => {
        d.vertices.splice(3, 0, { id: 'm', operator: 'map', fn: '(x) => x' });
        d.edges[2] = { from: 'co', to: 'm', input: '2' };
        d.edges.push({ from: 'm', to: 'out' });
      })).map((i) => i.path);
      expect([...new Set(paths)]).to.deep.equal(['/edges/2/input']);
    });

    it('does not report missing inputs when an edge into the vertex cannot be read', () => {
      const issue = onlyIssue(broken((d) => { d.edges[1].from = 42; }));
      expect(issue).to.deep.equal({ path: '/edges/1/from', message: 'must be a string (got 42)' });
    });

    it('reports two edges between the same vertices without ids of their own', () => {
      const issue = onlyIssue(broken((d) => { d.edges[1].from = 'words'; }));
      expect(issue).to.deep.equal({ path: '/edges/1', message: `a second edge from 'words' to 'co' (also /edges/0)` });
    });
  });

  describe('functions', () => {
    it('reports an fn1 or fn2 that does not compile at its path', () => {
      const fn1 = onlyIssue(broken((d) => { d.vertices[2].fn1 = '(s) => s +'; }));
      expect(fn1.path).to.equal('/vertices/2/fn1');
      expect(fn1.message).to.match(/^the user function does not compile: SyntaxError: /);
      const fn2 = onlyIssue(broken((d) => { d.vertices[2].fn2 = 'function (n) { return n; '; }, 'coFlatMap'));
      expect(fn2.path).to.equal('/vertices/2/fn2');
      expect(fn2.message).to.match(/^the user function does not compile: SyntaxError: /);
      const both = issuesOf(broken((d) => { d.vertices[2].fn1 = 'x =>'; d.vertices[2].fn2 = '((('; }));
      expect(both.map((i) => i.path)).to.deep.equal(['/vertices/2/fn1', '/vertices/2/fn2']);
    });

    it('reports a function that is not strict code', () => {
      const issue = onlyIssue(broken((d) => { d.vertices[2].fn2 = 'function (n) { with (n) { return 1; } }'; }));
      expect(issue.path).to.equal('/vertices/2/fn2');
      expect(issue.message).to.match(/does not compile/);
    });

    for (const operator of ['coMap', 'coFlatMap'] as const) {
      it(`requires fn1 and fn2 of a ${operator}`, () => {
        expect(onlyIssue(broken((d) => { delete d.vertices[2].fn1; }, operator)))
          .to.deep.equal({ path: '/vertices/2/fn1', message: `is required by operator '${operator}'` });
        expect(onlyIssue(broken((d) => { delete d.vertices[2].fn2; }, operator)))
          .to.deep.equal({ path: '/vertices/2/fn2', message: `is required by operator '${operator}'` });
      });
    }

    it('reports fn1 or fn2 of the wrong type, empty, or a bad module reference', () => {
      expect(onlyIssue(broken((d) => { d.vertices[2].fn1 = 5; }))).to.deep.equal({
        path: '/vertices/2/fn1', message: 'must be the source text of a function expression, or { "module": ..., "export": ... } (got 5)',
      });
      expect(onlyIssue(broken((d) => { d.vertices[2].fn2 = ''; }))).to.deep.equal({ path: '/vertices/2/fn2', message: 'must not be empty' });
      expect(onlyIssue(broken((d) => { d.vertices[2].fn1 = { module: 'm', extra: 1 }; })).path).to.equal('/vertices/2/fn1/extra');
    });

    it('reports fn on a coMap, and fn1 on a map, as unknown properties', () => {
      const fn = onlyIssue(broken((d) => { d.vertices[2].fn = '(x) => x'; }));
      expect(fn.path).to.equal('/vertices/2/fn');
      expect(fn.message).to.match(/^unknown property for operator 'coMap'; it takes: .*\bfn1, fn2$/);
      const fn1 = onlyIssue(broken((d) => {
        d.vertices.splice(3, 0, { id: 'm', operator: 'map', fn: '(x) => x', fn1: '(x) => x' });
        d.edges[2] = { from: 'co', to: 'm' };
        d.edges.push({ from: 'm', to: 'out' });
      }));
      expect(fn1.path).to.equal('/vertices/3/fn1');
      expect(fn1.message).to.match(/^unknown property for operator 'map'/);
    });
  });
});
