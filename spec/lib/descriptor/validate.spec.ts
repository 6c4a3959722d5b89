import { expect } from 'chai';
import schema from '../../../config/descriptor.schema.json' with { type: 'json' };
import {
  DEFAULT_MAX_PARALLELISM, DEFAULT_MODE, DEFAULT_PARALLELISM, OPERATORS, validateDescriptor,
  type DescriptorIssue, type JobDescriptor,
} from '../../../lib/descriptor/index.ts';
import {
  DEFAULT_CHECKPOINT_MIN_PAUSE_MS, DEFAULT_CHECKPOINT_TIMEOUT_MS, DEFAULT_CHECKPOINTING_MODE, DEFAULT_TOLERABLE_CHECKPOINT_FAILURES,
} from '../../../lib/descriptor/validate.ts';
import { RESTART_STRATEGY_TYPES } from '../../../lib/restart/index.ts';

/** A fresh copy of the wordcount job each time, for a spec to break one thing in. */
function wordcount(): JobDescriptor {
  return {
    apiVersion: 'cloudflink/v1', name: 'wordcount', parallelism: 2,
    vertices: [
      { id: 'lines', operator: 'source.textFile', path: '/tmp/in.txt', parallelism: 1 },
      { id: 'words', operator: 'flatMap', fn: '(line) => line.toLowerCase().split(/\\W+/).filter(Boolean).map((w) => [w, 1])' },
      { id: 'counts', operator: 'sum', field: 1 },
      { id: 'out', operator: 'sink.textFile', path: '/tmp/out.txt', parallelism: 1 },
    ],
    edges: [
      { from: 'lines', to: 'words', partition: 'rebalance' },
      { from: 'words', to: 'counts', partition: 'hash', key: { field: 0 } },
      { from: 'counts', to: 'out' },
    ],
  };
}

/** The descriptor as loosely typed JSON, to break it in ways the types forbid. */
function broken(edit: (d: any) => void): unknown {
  const d = wordcount();
  edit(d);
  return d;
}

function issuesOf(input: unknown): DescriptorIssue[] {
  const result = validateDescriptor(input);
  if (result.ok) expect.fail('expected the descriptor to be rejected');
  return result.issues;
}

function pathsOf(input: unknown): string[] {
  return issuesOf(input).map((i) => i.path);
}

/** The one issue a descriptor has; fails if there are more, so that no rule adds noise. */
function onlyIssue(input: unknown): DescriptorIssue {
  const issues = issuesOf(input);
  expect(issues, JSON.stringify(issues, null, 2)).to.have.length(1);
  return issues[0]!;
}

describe('validateDescriptor', () => {
  describe('a valid descriptor', () => {
    it('resolves wordcount with every default filled in', () => {
      const result = validateDescriptor(wordcount());
      if (!result.ok) expect.fail(JSON.stringify(result.issues));
      const { job } = result;
      expect(job).to.include({ apiVersion: 'cloudflink/v1', name: 'wordcount', mode: 'streaming', parallelism: 2, maxParallelism: 128 });
      expect(job.params).to.deep.equal({});
      expect(job.vertices.map((v) => [v.id, v.name, v.parallelism])).to.deep.equal([
        ['lines', 'lines', 1], ['words', 'words', 2], ['counts', 'counts', 2], ['out', 'out', 1],
      ]);
      expect(job.vertices.every((v) => Object.keys(v.params).length === 0)).to.equal(true);
      expect(job.edges.map((e) => [e.id, e.partition])).to.deep.equal([
        ['lines->words', 'rebalance'], ['words->counts', 'hash'], ['counts->out', 'rebalance'],
      ]);
      expect(job.edges[1]!.key).to.deep.equal({ field: 0 });
    });

    it('defaults an edge to forward between equal parallelisms, and keeps explicit ids and names', () => {
      const d = broken((d) => {
        d.vertices[3].parallelism = 2;
        d.vertices[2].name = 'count per word';
        d.edges[2].id = 'to-file';
      });
      const result = validateDescriptor(d);
      if (!result.ok) expect.fail(JSON.stringify(result.issues));
      expect(result.job.edges[2]).to.include({ id: 'to-file', partition: 'forward' });
      expect(result.job.vertices[2]!.name).to.equal('count per word');
    });

    it("merges each vertex's params over the job's", () => {
      const d = broken((d) => {
        d.params = { lang: 'en', min: 1 };
        d.vertices[1].params = { min: 3 };
      });
      const result = validateDescriptor(d);
      if (!result.ok) expect.fail(JSON.stringify(result.issues));
      expect(result.job.params).to.deep.equal({ lang: 'en', min: 1 });
      expect(result.job.vertices[1]!.params).to.deep.equal({ lang: 'en', min: 3 });
      expect(result.job.vertices[0]!.params).to.deep.equal({ lang: 'en', min: 1 });
    });

    it('does not change the input', () => {
      const d = wordcount();
      const before = JSON.stringify(d);
      validateDescriptor(d);
      expect(JSON.stringify(d)).to.equal(before);
    });

    it('accepts module references and key functions', () => {
      const d = broken((d) => {
        d.vertices[1].fn = { module: '@acme/udfs', export: 'tokenize' };
        d.edges[1].key = { fn: '([word]) => word' };
      });
      expect(validateDescriptor(d).ok).to.equal(true);
    });
  });

  describe('schema problems', () => {
    it('names an unknown operator once, with the known operators', () => {
      const issue = onlyIssue(broken((d) => { d.vertices[1].operator = 'mapp'; }));
      expect(issue.path).to.equal('/vertices/1/operator');
      expect(issue.message).to.equal(`unknown operator 'mapp'; known operators: ${OPERATORS.join(', ')}`);
    });

    it('says which versions are supported for another apiVersion', () => {
      const issue = onlyIssue(broken((d) => { d.apiVersion = 'cloudflink/v2'; }));
      expect(issue.path).to.equal('/apiVersion');
      expect(issue.message).to.match(/unsupported apiVersion 'cloudflink\/v2'.*cloudflink\/v1/);
    });

    it("reports a missing operator field at the field's path", () => {
      const issue = onlyIssue(broken((d) => { delete d.vertices[1].fn; }));
      expect(issue).to.deep.equal({ path: '/vertices/1/fn', message: "is required by operator 'flatMap'" });
    });

    it('reports a property the operator does not take, listing those it does', () => {
      const issue = onlyIssue(broken((d) => { d.vertices[2].fn = '(a, b) => a + b'; }));
      expect(issue.path).to.equal('/vertices/2/fn');
      expect(issue.message).to.match(/unknown property for operator 'sum'.*field/);
    });

    it('reports a misspelt property', () => {
      const issue = onlyIssue(broken((d) => { d.edges[0].partiton = d.edges[0].partition; delete d.edges[0].partition; }));
      expect(issue.path).to.equal('/edges/0/partiton');
      expect(issue.message).to.match(/unknown property; expected one of: id, from, to, partition, key/);
    });

    it('rejects a parallelism below 1, of the job or of a vertex', () => {
      expect(onlyIssue(broken((d) => { d.parallelism = 0; })).path).to.equal('/parallelism');
      expect(onlyIssue(broken((d) => { d.vertices[1].parallelism = -2; })).path).to.equal('/vertices/1/parallelism');
    });

    it('rejects ids that cannot be part of a NATS subject', () => {
      const issues = issuesOf(broken((d) => { d.vertices[0].id = 'the lines'; d.edges[0].from = 'the lines'; }));
      expect(issues.map((i) => i.path)).to.deep.equal(['/vertices/0/id']);
      expect(issues[0]!.message).to.match(/NATS subjects/);
    });

    it('summarises a key with both a field and a function', () => {
      const issue = onlyIssue(broken((d) => { d.edges[1].key = { field: 0, fn: '(r) => r[0]' }; }));
      expect(issue).to.deep.equal({ path: '/edges/1/key', message: "takes 'field' or 'fn', not both" });
    });

    it('explains what a user function must be', () => {
      const issue = onlyIssue(broken((d) => { d.vertices[1].fn = 42; }));
      expect(issue.path).to.equal('/vertices/1/fn');
      expect(issue.message).to.match(/source text of a function expression, or \{ "module"/);
    });
  });

  describe('graph problems', () => {
    it('reports a duplicate vertex id', () => {
      const issue = onlyIssue(broken((d) => { d.vertices.push({ id: 'out', operator: 'sink.print' }); }));
      expect(issue).to.deep.equal({ path: '/vertices/4/id', message: "duplicate vertex id 'out' (also /vertices/3)" });
    });

    it('reports an edge to or from a missing vertex', () => {
      const issues = issuesOf(broken((d) => { d.edges[2].to = 'outt'; d.edges[0].from = 'line'; }));
      expect(issues).to.deep.include({ path: '/edges/2/to', message: "no vertex has the id 'outt'" });
      expect(issues).to.deep.include({ path: '/edges/0/from', message: "no vertex has the id 'line'" });
    });

    it('names the vertices of a cycle', () => {
      const issue = onlyIssue(broken((d) => { d.edges.push({ from: 'counts', to: 'words' }); }));
      expect(issue.path).to.equal('/edges/3');
      expect(issue.message).to.match(/cycle: words -> counts -> words/);
    });

    it('rejects a parallelism above maxParallelism', () => {
      expect(onlyIssue(broken((d) => { d.maxParallelism = 4; d.vertices[1].parallelism = 8; })).path)
        .to.equal('/vertices/1/parallelism');
      const issue = onlyIssue(broken((d) => { d.maxParallelism = 1; }));
      expect(issue.path).to.equal('/parallelism');
      expect(issue.message).to.match(/2 exceeds maxParallelism 1/);
    });

    it('requires a key on a hash edge, and only there', () => {
      expect(onlyIssue(broken((d) => { delete d.edges[1].key; })).path).to.equal('/edges/1/key');
      const issue = onlyIssue(broken((d) => { d.edges[0].key = { field: 0 }; }));
      expect(issue).to.deep.equal({ path: '/edges/0/key', message: "only a 'hash' edge takes a key; this edge is 'rebalance'" });
    });

    it('rejects a forward edge between different parallelisms', () => {
      const issue = onlyIssue(broken((d) => { d.edges[0].partition = 'forward'; }));
      expect(issue.path).to.equal('/edges/0/partition');
      expect(issue.message).to.match(/'lines' has 1 and 'words' has 2/);
    });

    it('rejects an input to a source and an output from a sink', () => {
      const issues = issuesOf(broken((d) => {
        d.vertices.push({ id: 'audit', operator: 'sink.print' });
        d.edges.push({ from: 'out', to: 'audit' }, { from: 'words', to: 'lines' });
      }));
      expect(issues).to.deep.include({ path: '/edges/3/from', message: "'out' is a sink (sink.textFile) and cannot have output edges" });
      expect(issues).to.deep.include({ path: '/edges/4/to', message: "'lines' is a source (source.textFile) and cannot have input edges" });
    });

    it('rejects an operator with no input', () => {
      const issue = onlyIssue(broken((d) => { d.vertices.splice(3, 0, { id: 'orphan', operator: 'map', fn: '(x) => x' }); }));
      expect(issue.path).to.equal('/vertices/3');
      expect(issue.message).to.match(/'orphan' \(map\) has no input edge/);
    });

    it('requires one hash input for sum and reduce', () => {
      const notHash = onlyIssue(broken((d) => { d.edges[1].partition = 'rebalance'; delete d.edges[1].key; }));
      expect(notHash.path).to.equal('/edges/1/partition');
      expect(notHash.message).to.match(/must be a 'hash' edge/);

      const two = onlyIssue(broken((d) => { d.edges.push({ from: 'lines', to: 'counts', partition: 'hash', key: { field: 0 } }); }));
      expect(two.path).to.equal('/vertices/2');
      expect(two.message).to.match(/exactly one input edge.*it has 2/);

      const reduce = onlyIssue(broken((d) => {
        d.vertices[2] = { id: 'counts', operator: 'reduce', fn: '(a, b) => [a[0], a[1] + b[1]]' };
        delete d.edges[1].partition; delete d.edges[1].key;
        d.vertices[1].parallelism = 1; d.vertices[2].parallelism = 1;
      }));
      expect(reduce.path).to.equal('/edges/1/partition');
      expect(reduce.message).to.match(/this edge is 'forward' \(the default\)/);
    });

    it('rejects a job with no source or no sink', () => {
      const issues = issuesOf(broken((d) => { d.vertices = []; d.edges = []; }));
      expect(issues.map((i) => [i.path, i.message.slice(0, 24)])).to.deep.equal([
        ['/vertices', 'the job has no source; a'], ['/vertices', 'the job has no sink; add'],
      ]);
    });

    it('reports a user function that does not compile, with the SyntaxError', () => {
      const issue = onlyIssue(broken((d) => { d.vertices[1].fn = '(line) => line.split(('; }));
      expect(issue.path).to.equal('/vertices/1/fn');
      expect(issue.message).to.match(/does not compile: SyntaxError: /);
      expect(onlyIssue(broken((d) => { d.edges[1].key = { fn: '(r) => r[0' }; })).path).to.equal('/edges/1/key/fn');
    });
  });

  describe('many problems', () => {
    it('reports all of them, not just the first', () => {
      const issues = issuesOf(broken((d) => {
        d.vertices[1].operator = 'flatMapp';
        d.vertices[3].fn = 'nope';
        d.edges[2].to = 'output';
        d.vertices[2].field = undefined;
        d.edges[1].key = { fn: 'w => w[0' };
      }));
      expect(issues.map((i) => i.path)).to.have.members([
        '/vertices/1/operator', '/vertices/3/fn', '/vertices/2/field', '/edges/2/to', '/edges/1/key/fn',
        '/vertices/3', // 'out' lost its only input to the misspelt edge
      ]);
    });

    it('reports three unrelated problems together', () => {
      const paths = pathsOf(broken((d) => {
        d.apiVersion = 'v1';
        d.edges[0].from = 'linez';
        d.vertices[1].fn = '(line) =>';
      }));
      expect(paths).to.have.members(['/apiVersion', '/edges/0/from', '/vertices/1/fn']);
      expect(paths).to.have.length(3);
    });
  });

  describe('garbage', () => {
    for (const [label, input] of [
      ['null', null], ['undefined', undefined], ['a string', 'wordcount'], ['a number', 42], ['an array', [wordcount()]],
    ] as const) {
      it(`gives one root issue for ${label}`, () => {
        const issue = onlyIssue(input);
        expect(issue.path).to.equal('');
        expect(issue.message).to.match(/must be a JSON object or msgpack map/);
      });
    }

    it('lists the missing properties of {}', () => {
      expect(pathsOf({})).to.deep.equal(['/apiVersion', '/name', '/vertices', '/edges']);
    });

    it('survives garbage inside the lists', () => {
      const input = {
        apiVersion: 'cloudflink/v1', name: 7, mode: 'fast', parallelism: '2',
        vertices: [null, 1, 'x', [], {}, { id: 3, operator: {} }, { id: 'a', operator: 'map', fn: null, parallelism: 1.5 }],
        edges: [null, {}, { from: 1, to: [] }, { from: 'a', to: 'a', key: 'k', partition: 9 }],
      };
      const issues = issuesOf(input);
      expect(issues.length).to.be.greaterThan(10);
      for (const issue of issues) {
        expect(issue.path).to.be.a('string');
        expect(issue.message).to.be.a('string').and.not.match(/undefined|\[object/);
      }
    });

    it('survives lists that are not lists', () => {
      expect(pathsOf({ apiVersion: 'cloudflink/v1', name: 'x', vertices: {}, edges: 'none' })).to.deep.equal(['/vertices', '/edges']);
    });
  });

  describe('checkpointing and the restart strategy', () => {
    function resolved(edit: (d: any) => void) {
      const result = validateDescriptor(broken(edit));
      if (!result.ok) expect.fail(JSON.stringify(result.issues));
      return result.job;
    }

    it('without checkpointing: none taken, and no restarts', () => {
      const job = resolved(() => {});
      expect(job.checkpointing).to.deep.equal({
        enabled: false, intervalMs: 0, timeoutMs: 60_000, minPauseMs: 0, mode: 'exactly-once', tolerableFailures: 0,
      });
      expect(job.restartStrategy).to.deep.equal({ type: 'none' });
    });

    it("with checkpointing: its defaults filled in, and Flink's default restart strategy", () => {
      const job = resolved((d) => { d.checkpointing = { intervalMs: 500 }; });
      expect(job.checkpointing).to.deep.equal({
        enabled: true, intervalMs: 500, timeoutMs: 60_000, minPauseMs: 0, mode: 'exactly-once', tolerableFailures: 0,
      });
      expect(job.restartStrategy).to.deep.equal({ type: 'fixed-delay', attempts: 2147483647, delayMs: 1000 });
    });

    it('keeps what is given', () => {
      const checkpointing = { intervalMs: 10, timeoutMs: 2000, minPauseMs: 50, mode: 'at-least-once', tolerableFailures: 3 };
      const strategies = [
        { type: 'none' },
        { type: 'fixed-delay', attempts: 3, delayMs: 0 },
        { type: 'exponential-delay', initialDelayMs: 100, maxDelayMs: 100, multiplier: 1.5, jitter: 0, resetAfterMs: 3_600_000 },
        { type: 'failure-rate', maxFailures: 3, intervalMs: 60_000, delayMs: 1000 },
      ];
      for (const restartStrategy of strategies) {
        const job = resolved((d) => { d.checkpointing = checkpointing; d.restartStrategy = restartStrategy; });
        expect(job.checkpointing).to.deep.equal({ enabled: true, ...checkpointing });
        expect(job.restartStrategy).to.deep.equal(restartStrategy);
      }
    });

    it('reports bad checkpointing settings at their paths', () => {
      expect(onlyIssue(broken((d) => { d.checkpointing = { intervalMs: 5 }; })))
        .to.deep.equal({ path: '/checkpointing/intervalMs', message: 'must be at least 10 (got 5)' });
      expect(onlyIssue(broken((d) => { d.checkpointing = {}; })))
        .to.deep.equal({ path: '/checkpointing/intervalMs', message: 'is required' });
      expect(onlyIssue(broken((d) => { d.checkpointing = { intervalMs: 100, mode: 'twice' }; })))
        .to.deep.equal({ path: '/checkpointing/mode', message: "must be one of 'exactly-once', 'at-least-once' (got 'twice')" });
      expect(onlyIssue(broken((d) => { d.checkpointing = { intervalMs: 100, interval: 100 }; })).path).to.equal('/checkpointing/interval');
      expect(onlyIssue(broken((d) => { d.checkpointing = { intervalMs: 100, tolerableFailures: -1 }; })).path)
        .to.equal('/checkpointing/tolerableFailures');
    });

    it('reports an invalid restart strategy with its path', () => {
      const table: Array<{ strategy: unknown; issue: DescriptorIssue }> = [
        {
          strategy: { type: 'fixed', attempts: 3 },
          issue: { path: '/restartStrategy/type', message: "must be one of 'none', 'fixed-delay', 'exponential-delay', 'failure-rate' (got 'fixed')" },
        },
        { strategy: { attempts: 3 }, issue: { path: '/restartStrategy/type', message: 'is required' } },
        { strategy: 'fixed-delay', issue: { path: '/restartStrategy', message: "must be an object (got the string 'fixed-delay')" } },
        {
          strategy: { type: 'fixed-delay', attempts: 3 },
          issue: { path: '/restartStrategy/delayMs', message: "is required by restart strategy 'fixed-delay'" },
        },
        {
          strategy: { type: 'fixed-delay', attempts: -1, delayMs: 10 },
          issue: { path: '/restartStrategy/attempts', message: 'must be at least 0 (got -1)' },
        },
        {
          strategy: { type: 'none', attempts: 3 },
          issue: { path: '/restartStrategy/attempts', message: "unknown property for restart strategy 'none'; it takes: type" },
        },
        {
          strategy: { type: 'failure-rate', maxFailures: 3, intervalMs: 0, delayMs: 10 },
          issue: { path: '/restartStrategy/intervalMs', message: 'must be at least 1 (got 0)' },
        },
        {
          strategy: { type: 'exponential-delay', initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, jitter: 1.5, resetAfterMs: 10 },
          issue: { path: '/restartStrategy/jitter', message: 'must be at most 1 (got 1.5)' },
        },
        {
          strategy: { type: 'exponential-delay', initialDelayMs: 1000, maxDelayMs: 100, multiplier: 2, jitter: 0.1, resetAfterMs: 10 },
          issue: { path: '/restartStrategy/maxDelayMs', message: 'must be at least initialDelayMs (1000), got 100' },
        },
      ];
      for (const { strategy, issue } of table) {
        expect(onlyIssue(broken((d) => { d.restartStrategy = strategy; })), JSON.stringify(strategy)).to.deep.equal(issue);
      }
    });
  });

  describe('the rolling extrema and union', () => {
    const EXTREMA = ['min', 'max', 'minBy', 'maxBy'] as const;

    /** Wordcount with its sum replaced by `vertex`. */
    const withCounts = (vertex: Record<string, unknown>) => broken((d) => { d.vertices[2] = { id: 'counts', ...vertex }; });

    function resolved(input: unknown) {
      const result = validateDescriptor(input);
      if (!result.ok) expect.fail(JSON.stringify(result.issues));
      return result.job;
    }

    it('accepts min, max, minBy and maxBy with a field name or index; minBy and maxBy with first either way', () => {
      for (const operator of EXTREMA) {
        for (const field of [1, 0, 'count']) {
          expect(resolved(withCounts({ operator, field })).vertices[2], `${operator}(${field})`).to.deep.include({ operator, field });
        }
      }
      for (const operator of ['minBy', 'maxBy'] as const) {
        for (const first of [true, false]) {
          expect(resolved(withCounts({ operator, field: 1, first })).vertices[2]).to.deep.include({ operator, field: 1, first });
        }
      }
    });

    it('reports a missing or bad field at its path', () => {
      for (const operator of EXTREMA) {
        expect(onlyIssue(withCounts({ operator })), operator).to.deep.equal({ path: '/vertices/2/field', message: `is required by operator '${operator}'` });
        expect(onlyIssue(withCounts({ operator, field: -1 }))).to.deep.equal({ path: '/vertices/2/field', message: 'must be at least 0 (got -1)' });
        expect(onlyIssue(withCounts({ operator, field: '' }))).to.deep.equal({ path: '/vertices/2/field', message: 'must not be empty' });
        for (const field of [1.5, true, null, ['count']]) {
          const issue = onlyIssue(withCounts({ operator, field }));
          expect(issue.path, `${operator}, field ${JSON.stringify(field)}`).to.equal('/vertices/2/field');
          expect(issue.message).to.match(/^must be a string or an integer/);
        }
      }
    });

    it('takes first only on minBy and maxBy, and only a boolean', () => {
      for (const operator of ['minBy', 'maxBy'] as const) {
        expect(onlyIssue(withCounts({ operator, field: 1, first: 'yes' })))
          .to.deep.equal({ path: '/vertices/2/first', message: "must be a boolean (got the string 'yes')" });
        expect(onlyIssue(withCounts({ operator, field: 1, first: 0 }))).to.deep.equal({ path: '/vertices/2/first', message: 'must be a boolean (got 0)' });
      }
      for (const operator of ['min', 'max'] as const) {
        const issue = onlyIssue(withCounts({ operator, field: 1, first: false }));
        expect(issue.path).to.equal('/vertices/2/first');
        expect(issue.message).to.match(new RegExp(`^unknown property for operator '${operator}'; it takes: .*field$`));
      }
      const fn = onlyIssue(withCounts({ operator: 'maxBy', field: 1, fn: '(a, b) => a' }));
      expect(fn.path).to.equal('/vertices/2/fn');
      expect(fn.message).to.match(/unknown property for operator 'maxBy'; it takes: .*field, first$/);
    });

    it('needs one hash input, as sum does', () => {
      for (const operator of EXTREMA) {
        const notHash = onlyIssue(broken((d) => {
          d.vertices[2] = { id: 'counts', operator, field: 1 };
          d.edges[1].partition = 'rebalance'; delete d.edges[1].key;
        }));
        expect(notHash.path, operator).to.equal('/edges/1/partition');
        expect(notHash.message).to.match(new RegExp(`'counts' \\(${operator}\\) must be a 'hash' edge.*this edge is 'rebalance'`));

        const byDefault = onlyIssue(broken((d) => {
          d.vertices[2] = { id: 'counts', operator, field: 1 };
          delete d.edges[1].partition; delete d.edges[1].key;
        }));
        expect(byDefault).to.deep.include({ path: '/edges/1/partition' });
        expect(byDefault.message).to.match(/this edge is 'forward' \(the default\)/);

        const two = onlyIssue(broken((d) => {
          d.vertices[2] = { id: 'counts', operator, field: 1 };
          d.edges.push({ from: 'lines', to: 'counts', partition: 'hash', key: { field: 0 } });
        }));
        expect(two.path).to.equal('/vertices/2');
        expect(two.message).to.match(new RegExp(`'counts' \\(${operator}\\) is keyed and takes exactly one input edge.*it has 2`));
      }
    });

    /** Two sources, of parallelism 1 and 3, into a union; its output keyed into a maxBy. */
    function unioned(): any {
      return {
        apiVersion: 'cloudflink/v1', name: 'unioned', parallelism: 2,
        vertices: [
          { id: 'left', operator: 'source.elements', elements: [{ k: 'a', v: 1 }], parallelism: 1 },
          { id: 'right', operator: 'source.generator', count: 10, fn: '(i) => ({ k: "b", v: i })', parallelism: 3 },
          { id: 'both', operator: 'union' },
          { id: 'highest', operator: 'maxBy', field: 'v', first: false },
          { id: 'out', operator: 'sink.collect' },
        ],
        edges: [
          { from: 'left', to: 'both' },
          { from: 'right', to: 'both', partition: 'hash', key: { field: 'k' } },
          { from: 'both', to: 'highest', partition: 'hash', key: { field: 'k' } },
          { from: 'highest', to: 'out' },
        ],
      };
    }

    it('accepts a union of several inputs of any partitioning, and of one', () => {
      const job = resolved(unioned());
      expect(job.edges.filter((e) => e.to === 'both').map((e) => [e.id, e.partition])).to.deep.equal([['left->both', 'rebalance'], ['right->both', 'hash']]);
      expect(job.vertices.find((v) => v.id === 'both')).to.deep.include({ operator: 'union', parallelism: 2 });

      const three = unioned();
      three.vertices.push({ id: 'more', operator: 'source.generator', count: 3, parallelism: 2 });
      three.edges.push({ from: 'more', to: 'both', partition: 'broadcast' });
      expect(resolved(three).edges.filter((e) => e.to === 'both')).to.have.length(3);

      const one = unioned();
      one.edges.splice(1, 1);
      one.vertices.splice(1, 1);
      expect(resolved(one).edges.filter((e) => e.to === 'both')).to.have.length(1);
    });

    it('accepts two edges from one vertex into a union when each has its own id', () => {
      const twice = unioned();
      twice.edges.push({ id: 'left-again', from: 'left', to: 'both', partition: 'rebalance' });
      expect(resolved(twice).edges.filter((e) => e.to === 'both').map((e) => e.id)).to.deep.equal(['left->both', 'right->both', 'left-again']);
    });

    it('rejects a union without inputs, or with a property of its own', () => {
      const none = unioned();
      none.edges.splice(0, 2);
      // The one issue: that the sources lost their only output is allowed.
      expect(onlyIssue(none)).to.deep.equal({ path: '/vertices/2', message: "'both' (union) has no input edge; only sources (source.*) go without one" });
      const field = unioned();
      field.vertices[2].field = 'v';
      const issue = onlyIssue(field);
      expect(issue.path).to.equal('/vertices/2/field');
      // Only the properties every vertex takes.
      expect(issue.message).to.match(/^unknown property for operator 'union'; it takes: id, operator, name, /);
      expect(issue.message).not.to.match(/field|first|fn/);
    });
  });

  describe('the schema', () => {
    it('lists exactly the operators of the types, each with its own branch', () => {
      expect(schema.$defs.vertex.properties.operator.enum).to.deep.equal([...OPERATORS]);
      expect(schema.$defs.vertex.allOf.map((b) => b.if.properties.operator.const)).to.deep.equal([...OPERATORS]);
    });

    it('documents the defaults that resolution fills in', () => {
      expect(schema.properties.mode.default).to.equal(DEFAULT_MODE);
      expect(schema.properties.parallelism.default).to.equal(DEFAULT_PARALLELISM);
      expect(schema.properties.maxParallelism.default).to.equal(DEFAULT_MAX_PARALLELISM);
      const checkpointing = schema.$defs.checkpointing.properties;
      expect(checkpointing.timeoutMs.default).to.equal(DEFAULT_CHECKPOINT_TIMEOUT_MS);
      expect(checkpointing.minPauseMs.default).to.equal(DEFAULT_CHECKPOINT_MIN_PAUSE_MS);
      expect(checkpointing.mode.default).to.equal(DEFAULT_CHECKPOINTING_MODE);
      expect(checkpointing.tolerableFailures.default).to.equal(DEFAULT_TOLERABLE_CHECKPOINT_FAILURES);
    });

    it('lists exactly the restart strategies of the types, each with its own branch', () => {
      expect(schema.$defs.restartStrategy.properties.type.enum).to.deep.equal([...RESTART_STRATEGY_TYPES]);
      expect(schema.$defs.restartStrategy.allOf.map((b) => b.if.properties.type.const)).to.deep.equal([...RESTART_STRATEGY_TYPES]);
    });
  });
});
