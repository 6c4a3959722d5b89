import { expect } from 'chai';
import { buildDeployments } from '../../../actors/job-manager/execution-graph.ts';
import type { JobRun } from '../../../actors/job-manager/job-run.ts';
import { StreamExecutionEnvironment } from '../../../lib/api/index.ts';
import { isChained } from '../../../lib/descriptor/graph.ts';
import { validateDescriptor, type JobDescriptor, type ResolvedJob } from '../../../lib/descriptor/index.ts';

/** source → map → filter → sink, all at parallelism 2, every edge forward by default: a chain of four. */
function pipeline(): JobDescriptor {
  return {
    apiVersion: 'cloudflink/v1', name: 'pipeline', parallelism: 2,
    vertices: [
      { id: 'src', operator: 'source.elements', elements: [1, 2, 3] },
      { id: 'double', operator: 'map', fn: '(x) => x * 2' },
      { id: 'big', operator: 'filter', fn: '(x) => x > 2' },
      { id: 'out', operator: 'sink.collect' },
    ],
    edges: [{ from: 'src', to: 'double' }, { from: 'double', to: 'big' }, { from: 'big', to: 'out' }],
  };
}

/** The descriptor after `edit`, resolved; fails the spec if it does not validate. */
function resolved(edit: (d: any) => void = () => {}): ResolvedJob {
  const d = pipeline();
  edit(d);
  const result = validateDescriptor(JSON.parse(JSON.stringify(d)));
  if (!result.ok) expect.fail(JSON.stringify(result.issues));
  return result.job;
}

/** The edges of a job that are chained, as `from->to`. */
const chainedEdges = (job: ResolvedJob): string[] => job.edges.filter((e) => isChained(job, e)).map((e) => `${e.from}->${e.to}`);

describe('operator chaining', () => {
  describe('isChained', () => {
    it('chains a forward edge between vertices of equal parallelism into a vertex with no other input', () => {
      expect(chainedEdges(resolved())).to.deep.equal(['src->double', 'double->big', 'big->out']);
    });

    for (const partition of ['rebalance', 'hash', 'broadcast'] as const) {
      it(`does not chain a ${partition} edge, even between equal parallelisms`, () => {
        const job = resolved((d) => {
          d.edges[1].partition = partition;
          if (partition === 'hash') d.edges[1].key = { fn: '(x) => x % 2' };
        });
        expect(chainedEdges(job)).to.deep.equal(['src->double', 'big->out']);
      });
    }

    it('chains any partitioning between two vertices of parallelism 1 (one channel: every partitioning is forward)', () => {
      const job = resolved((d) => {
        d.parallelism = 1;
        d.edges[0].partition = 'rebalance';
        d.edges[1].partition = 'hash';
        d.edges[1].key = { fn: '(x) => x % 2' };
        d.edges[2].partition = 'broadcast';
      });
      expect(chainedEdges(job)).to.deep.equal(['src->double', 'double->big', 'big->out']);
      const wider = resolved((d) => {
        d.parallelism = 1;
        d.vertices[2].parallelism = 2;
        d.edges[0].partition = 'rebalance';
      });
      expect(chainedEdges(wider), 'not from 1 to 2 subtasks').to.deep.equal(['src->double']);
    });

    it('does not chain vertices of different parallelism (the edge defaults to rebalance)', () => {
      const job = resolved((d) => { d.vertices[2].parallelism = 3; });
      expect(job.edges.map((e) => e.partition)).to.deep.equal(['forward', 'rebalance', 'rebalance']);
      expect(chainedEdges(job)).to.deep.equal(['src->double']);
    });

    it('does not chain unequal parallelisms even on an edge marked forward (the rule itself, not only validation)', () => {
      const job = resolved();
      const wider: ResolvedJob = { ...job, vertices: job.vertices.map((v) => (v.id === 'big' ? { ...v, parallelism: 4 } : v)) };
      expect(wider.edges[1]!.partition).to.equal('forward');
      expect(chainedEdges(wider)).to.deep.equal(['src->double']);
    });

    it('does not chain into a vertex with a second input, on either of its edges', () => {
      const job = resolved((d) => {
        d.vertices.push({ id: 'src2', operator: 'source.elements', elements: [4] });
        d.edges.push({ from: 'src2', to: 'big' });
      });
      expect(chainedEdges(job)).to.deep.equal(['src->double', 'big->out']);
    });

    it('chains a vertex to each of its forward outputs (a fan-out stays in one pass)', () => {
      const job = resolved((d) => {
        d.vertices.push({ id: 'log', operator: 'sink.print' });
        d.edges.push({ from: 'double', to: 'log' });
      });
      expect(chainedEdges(job)).to.deep.equal(['src->double', 'double->big', 'big->out', 'double->log']);
    });

    it('chains nothing when the job turns operator chaining off', () => {
      expect(chainedEdges(resolved((d) => { d.operatorChaining = false; }))).to.deep.equal([]);
      expect(chainedEdges(resolved((d) => { d.operatorChaining = true; }))).to.have.length(3);
    });

    it('does not chain a vertex with disableChaining to the vertex before it or the one after it', () => {
      expect(chainedEdges(resolved((d) => { d.vertices[2].disableChaining = true; }))).to.deep.equal(['src->double']);
      expect(chainedEdges(resolved((d) => { d.vertices[0].disableChaining = true; }))).to.deep.equal(['double->big', 'big->out']);
      expect(chainedEdges(resolved((d) => { d.vertices[3].disableChaining = true; }))).to.deep.equal(['src->double', 'double->big']);
      expect(chainedEdges(resolved((d) => { d.vertices[2].disableChaining = false; }))).to.have.length(3);
    });

    it('starts a new chain at a vertex with startNewChain: not chained to the one before, still to the one after', () => {
      expect(chainedEdges(resolved((d) => { d.vertices[2].startNewChain = true; }))).to.deep.equal(['src->double', 'big->out']);
      expect(chainedEdges(resolved((d) => { d.vertices[2].startNewChain = false; }))).to.have.length(3);
    });
  });

  describe('the execution graph', () => {
    /** Just what buildDeployments reads of a run. */
    const runOf = (job: ResolvedJob): JobRun => ({ jobId: 'j1', job, attempt: 0, restoreSpec: () => undefined, task: () => ({ execution: 0 }) }) as unknown as JobRun;
    const slots = [{ tmId: 'tm-1', slot: 0 }, { tmId: 'tm-2', slot: 0 }];
    const network = { frameRecords: 100, frameBytes: 32768, bufferTimeoutMs: 5, credits: 8 };

    it('marks both ends of a chained edge, and only them, on every subtask', () => {
      const job = resolved((d) => { d.vertices[2].startNewChain = true; });
      const deployments = buildDeployments(runOf(job), slots, network, 100);
      expect(deployments).to.have.length(8);
      for (const task of deployments) {
        const ends = [...task.inputs.map((c) => ['in', c.edgeIndex, c.chained ?? false]), ...task.outputs.map((c) => ['out', c.edgeIndex, c.chained ?? false])];
        const expected = {
          src: [['out', 0, true]],
          double: [['in', 0, true], ['out', 1, false]],
          big: [['in', 1, false], ['out', 2, true]],
          out: [['in', 2, true]],
        }[task.vertex.id];
        expect(ends, `${task.vertex.id} ${task.subtask}`).to.deep.equal(expected);
      }
    });

    it('puts subtask i of chained vertices in the same slot of the same Task Manager', () => {
      const deployments = buildDeployments(runOf(resolved()), slots, network, 100);
      for (const subtask of [0, 1]) {
        const places = new Set(deployments.filter((t) => t.subtask === subtask).map((t) => `${t.tmId}/${t.slot}`));
        expect([...places]).to.deep.equal([`${slots[subtask]!.tmId}/0`]);
      }
    });

    it('marks no edge when the job turns chaining off', () => {
      const deployments = buildDeployments(runOf(resolved((d) => { d.operatorChaining = false; })), slots, network, 100);
      expect(deployments.flatMap((t) => [...t.inputs, ...t.outputs]).filter((c) => c.chained)).to.deep.equal([]);
    });
  });

  describe('the descriptor fields', () => {
    it('resolves operatorChaining to true unless the job says false, and keeps the vertex fields', () => {
      expect(resolved().operatorChaining).to.equal(true);
      expect(resolved((d) => { d.operatorChaining = false; }).operatorChaining).to.equal(false);
      const job = resolved((d) => { d.vertices[1].disableChaining = true; d.vertices[2].startNewChain = true; });
      expect(job.vertices[1]).to.include({ disableChaining: true });
      expect(job.vertices[2]).to.include({ startNewChain: true });
    });

    it('rejects a value that is not a boolean, with its path', () => {
      const d: any = pipeline();
      d.operatorChaining = 'no';
      d.vertices[0].startNewChain = 1;
      d.vertices[1].disableChaining = 'yes';
      d.vertices[3].disableChaining = null;
      const result = validateDescriptor(d);
      if (result.ok) expect.fail('expected the descriptor to be rejected');
      expect(result.issues).to.deep.equal([
        { path: '/operatorChaining', message: "must be a boolean (got the string 'no')" },
        { path: '/vertices/0/startNewChain', message: 'must be a boolean (got 1)' },
        { path: '/vertices/1/disableChaining', message: "must be a boolean (got the string 'yes')" },
        { path: '/vertices/3/disableChaining', message: 'must be a boolean (got null)' },
      ]);
    });
  });

  describe('the DataStream API', () => {
    function build(configure: (env: StreamExecutionEnvironment) => void): JobDescriptor {
      const env = new StreamExecutionEnvironment(undefined, { parallelism: 2 });
      configure(env);
      return env.getDescriptor('api');
    }

    const chainsOf = (descriptor: JobDescriptor): string[] => {
      const result = validateDescriptor(JSON.parse(JSON.stringify(descriptor)));
      if (!result.ok) expect.fail(JSON.stringify(result.issues));
      return chainedEdges(result.job);
    };

    it('leaves operatorChaining out by default and chains every forward link', () => {
      const descriptor = build((env) => { env.fromElements(1, 2).map((x) => x + 1).filter((x) => x > 1).collect(); });
      expect(descriptor).not.to.have.property('operatorChaining');
      for (const v of descriptor.vertices) expect(v).not.to.have.any.keys('disableChaining', 'startNewChain');
      expect(chainsOf(descriptor)).to.have.length(3);
    });

    it('env.disableOperatorChaining() writes operatorChaining: false, and nothing chains', () => {
      const descriptor = build((env) => { env.disableOperatorChaining().fromElements(1, 2).map((x) => x + 1).collect(); });
      expect(descriptor.operatorChaining).to.equal(false);
      expect(chainsOf(descriptor)).to.deep.equal([]);
    });

    it('disableChaining() and startNewChain() on an operator, and disableChaining() on a sink, reach its vertex', () => {
      let ids: string[] = [];
      const descriptor = build((env) => {
        const source = env.fromElements(1, 2);
        const first = source.map((x) => x + 1).disableChaining();
        const second = first.map((x) => x * 2).startNewChain();
        const third = second.filter((x) => x > 2);
        const sink = third.collect().disableChaining();
        ids = [source.id, first.id, second.id, third.id, sink.id];
      });
      const vertex = (id: string) => descriptor.vertices.find((v) => v.id === id)!;
      expect(vertex(ids[1]!)).to.include({ disableChaining: true });
      expect(vertex(ids[2]!)).to.include({ startNewChain: true });
      expect(vertex(ids[4]!)).to.include({ disableChaining: true });
      for (const id of [ids[0]!, ids[3]!]) expect(vertex(id)).not.to.have.any.keys('disableChaining', 'startNewChain');
      // Only the filter chains: to the map before it (which starts the chain), not to the sink.
      expect(chainsOf(descriptor)).to.deep.equal([`${ids[2]}->${ids[3]}`]);
    });
  });
});
