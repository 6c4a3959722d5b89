import { expect } from 'chai';
import { pipelinedRegions, taskKey, type Region, type TaskRef } from '../../../actors/job-manager/regions.ts';
import { isBlocking, isChained } from '../../../lib/descriptor/graph.ts';
import { validateDescriptor, type JobDescriptor, type ResolvedJob } from '../../../lib/descriptor/index.ts';

const SUM = '(a, b) => ({ word: a.word, n: a.n + b.n })';

/** WordCount in mode batch: src → split → combine chained at p=2, a hash edge, then reduce → out at p=2. */
function wordCount(): JobDescriptor {
  return {
    apiVersion: 'cloudflink/v1', name: 'wordcount', mode: 'batch', parallelism: 2,
    vertices: [
      { id: 'src', operator: 'source.elements', elements: ['a b', 'b c'] },
      { id: 'split', operator: 'flatMap', fn: '(l) => l.split(" ").map((w) => ({ word: w, n: 1 }))' },
      { id: 'combine', operator: 'batch.combine', key: { field: 'word' }, fn: SUM },
      { id: 'reduce', operator: 'batch.reduce', fn: SUM },
      { id: 'out', operator: 'sink.collect' },
    ],
    edges: [
      { from: 'src', to: 'split' },
      { from: 'split', to: 'combine' },
      { from: 'combine', to: 'reduce', partition: 'hash', key: { field: 'word' } },
      { from: 'reduce', to: 'out' },
    ],
  };
}

/** The descriptor, resolved; fails the spec if it does not validate. */
function resolved(descriptor: JobDescriptor, edit: (d: any) => void = () => {}): ResolvedJob {
  const d = JSON.parse(JSON.stringify(descriptor));
  edit(d);
  const result = validateDescriptor(d);
  if (!result.ok) return expect.fail(JSON.stringify(result.issues));
  return result.job;
}

const keys = (refs: TaskRef[]): string[] => refs.map((t) => taskKey(t.vertexId, t.subtask));

/** Each region as its tasks and its producers, as `vertex/subtask` keys, in the order listed. */
const shape = (regions: Region[]): { tasks: string[]; producers: string[] }[] =>
  regions.map((r) => ({ tasks: keys(r.tasks), producers: keys(r.producers) }));

/** What every list of regions must be: indexed by position, every task once, ordered by declaration. */
function expectWellFormed(job: ResolvedJob, regions: Region[]): void {
  expect(regions.map((r) => r.index), 'index is the position').to.deep.equal(regions.map((_, i) => i));
  const all = job.vertices.flatMap((v) => Array.from({ length: v.parallelism }, (_, s) => taskKey(v.id, s)));
  const listed = regions.flatMap((r) => keys(r.tasks));
  expect([...listed].sort(), 'every task in exactly one region').to.deep.equal([...all].sort());
  const position = (t: TaskRef): number => all.indexOf(taskKey(t.vertexId, t.subtask));
  for (const region of regions) {
    const order = region.tasks.map(position);
    expect(order, `tasks of region ${region.index} in declaration order`).to.deep.equal([...order].sort((a, b) => a - b));
  }
  const firsts = regions.map((r) => position(r.tasks[0]!));
  expect(firsts, 'regions in the order of their first task').to.deep.equal([...firsts].sort((a, b) => a - b));
  for (const region of regions) {
    expect(new Set(keys(region.producers)).size, `no producer twice in region ${region.index}`).to.equal(region.producers.length);
    for (const p of region.producers) {
      expect(keys(region.tasks), `a region does not produce for itself (${region.index})`).not.to.include(taskKey(p.vertexId, p.subtask));
    }
  }
}

describe('pipelined regions', () => {
  it('taskKey is vertex/subtask', () => {
    expect(taskKey('reduce', 0)).to.equal('reduce/0');
    expect(taskKey('a/b', 12)).to.equal('a/b/12');
  });

  describe('with a blocking shuffle (the default of mode batch)', () => {
    it('splits WordCount at its hash edge: one region per chain subtask, each reduce reading both combiners', () => {
      const job = resolved(wordCount());
      expect(job.batch?.shuffle).to.equal('blocking');
      expect(job.edges.map((e) => [isChained(job, e), isBlocking(job, e)])).to.deep.equal([[true, false], [true, false], [false, true], [true, false]]);
      const regions = pipelinedRegions(job);
      expect(shape(regions)).to.deep.equal([
        { tasks: ['src/0', 'split/0', 'combine/0'], producers: [] },
        { tasks: ['src/1', 'split/1', 'combine/1'], producers: [] },
        { tasks: ['reduce/0', 'out/0'], producers: ['combine/0', 'combine/1'] },
        { tasks: ['reduce/1', 'out/1'], producers: ['combine/0', 'combine/1'] },
      ]);
      expectWellFormed(job, regions);
    });

    it('makes every task its own region when operator chaining is off, reading the subtasks that send to it', () => {
      const job = resolved(wordCount(), (d) => { d.operatorChaining = false; });
      const regions = pipelinedRegions(job);
      expect(shape(regions)).to.deep.equal([
        { tasks: ['src/0'], producers: [] },
        { tasks: ['src/1'], producers: [] },
        { tasks: ['split/0'], producers: ['src/0', 'src/1'] },
        { tasks: ['split/1'], producers: ['src/0', 'src/1'] },
        { tasks: ['combine/0'], producers: ['split/0', 'split/1'] },
        { tasks: ['combine/1'], producers: ['split/0', 'split/1'] },
        { tasks: ['reduce/0'], producers: ['combine/0', 'combine/1'] },
        { tasks: ['reduce/1'], producers: ['combine/0', 'combine/1'] },
        { tasks: ['out/0'], producers: ['reduce/0', 'reduce/1'] },
        { tasks: ['out/1'], producers: ['reduce/0', 'reduce/1'] },
      ]);
      expectWellFormed(job, regions);
    });

    it('gives every consumer subtask of a rebalance or a broadcast edge every producer subtask, across parallelisms', () => {
      const job = resolved({
        apiVersion: 'cloudflink/v1', name: 'fan', mode: 'batch',
        vertices: [
          { id: 'src', operator: 'source.elements', elements: [1, 2, 3], parallelism: 2 },
          { id: 'work', operator: 'map', fn: '(x) => x', parallelism: 3 },
          { id: 'out', operator: 'sink.collect', parallelism: 2 },
        ],
        edges: [{ from: 'src', to: 'work', partition: 'rebalance' }, { from: 'work', to: 'out', partition: 'broadcast' }],
      });
      const regions = pipelinedRegions(job);
      expect(shape(regions)).to.deep.equal([
        { tasks: ['src/0'], producers: [] },
        { tasks: ['src/1'], producers: [] },
        { tasks: ['work/0'], producers: ['src/0', 'src/1'] },
        { tasks: ['work/1'], producers: ['src/0', 'src/1'] },
        { tasks: ['work/2'], producers: ['src/0', 'src/1'] },
        { tasks: ['out/0'], producers: ['work/0', 'work/1', 'work/2'] },
        { tasks: ['out/1'], producers: ['work/0', 'work/1', 'work/2'] },
      ]);
      expectWellFormed(job, regions);
    });

    it('makes every producer subtask a producer of each consumer subtask on an unchained forward edge: each channel carries an end of input', () => {
      const job = resolved(wordCount(), (d) => { d.vertices[1].startNewChain = true; });
      const edge = job.edges[0]!;
      expect(edge.partition).to.equal('forward');
      expect(isChained(job, edge)).to.equal(false);
      const regions = pipelinedRegions(job);
      expect(shape(regions).slice(0, 4)).to.deep.equal([
        { tasks: ['src/0'], producers: [] },
        { tasks: ['src/1'], producers: [] },
        { tasks: ['split/0', 'combine/0'], producers: ['src/0', 'src/1'] },
        { tasks: ['split/1', 'combine/1'], producers: ['src/0', 'src/1'] },
      ]);
      expect(regions).to.have.length(6);
      expectWellFormed(job, regions);
    });

    it('gives a two-input operator the producers of both its inputs', () => {
      const job = resolved({
        apiVersion: 'cloudflink/v1', name: 'join', mode: 'batch',
        vertices: [
          { id: 'left', operator: 'source.elements', elements: [{ k: 1 }], parallelism: 2 },
          { id: 'right', operator: 'source.elements', elements: [{ k: 1 }], parallelism: 3 },
          { id: 'join', operator: 'batch.join', key1: { field: 'k' }, key2: { field: 'k' }, parallelism: 2 },
          { id: 'out', operator: 'sink.collect', parallelism: 2 },
        ],
        edges: [
          { from: 'left', to: 'join', input: 1, partition: 'hash', key: { field: 'k' } },
          { from: 'right', to: 'join', input: 2, partition: 'hash', key: { field: 'k' } },
          { from: 'join', to: 'out' },
        ],
      });
      const regions = pipelinedRegions(job);
      const both = ['left/0', 'left/1', 'right/0', 'right/1', 'right/2'];
      expect(shape(regions)).to.deep.equal([
        { tasks: ['left/0'], producers: [] },
        { tasks: ['left/1'], producers: [] },
        { tasks: ['right/0'], producers: [] },
        { tasks: ['right/1'], producers: [] },
        { tasks: ['right/2'], producers: [] },
        { tasks: ['join/0', 'out/0'], producers: both },
        { tasks: ['join/1', 'out/1'], producers: both },
      ]);
      expectWellFormed(job, regions);
    });

    it('lists a producer read over two edges once (a self-join; the rule itself, as validation refuses a second edge)', () => {
      const job = resolved({
        apiVersion: 'cloudflink/v1', name: 'self', mode: 'batch', parallelism: 2,
        vertices: [
          { id: 'src', operator: 'source.elements', elements: [{ k: 1 }] },
          { id: 'other', operator: 'source.elements', elements: [{ k: 1 }] },
          { id: 'join', operator: 'batch.join', key1: { field: 'k' }, key2: { field: 'k' } },
          { id: 'out', operator: 'sink.collect' },
        ],
        edges: [
          { from: 'src', to: 'join', input: 1, partition: 'hash', key: { field: 'k' } },
          { from: 'other', to: 'join', input: 2, partition: 'hash', key: { field: 'k' } },
          { from: 'join', to: 'out' },
        ],
      });
      const self: ResolvedJob = { ...job, edges: job.edges.map((e) => (e.from === 'other' ? { ...e, from: 'src' } : e)) };
      const regions = pipelinedRegions(self);
      expect(shape(regions).slice(4)).to.deep.equal([
        { tasks: ['join/0', 'out/0'], producers: ['src/0', 'src/1'] },
        { tasks: ['join/1', 'out/1'], producers: ['src/0', 'src/1'] },
      ]);
      expectWellFormed(self, regions);
    });

    it('orders regions by declaration, not by the flow of data', () => {
      const job = resolved(wordCount(), (d) => { d.vertices.reverse(); });
      expect(job.vertices.map((v) => v.id)).to.deep.equal(['out', 'reduce', 'combine', 'split', 'src']);
      const regions = pipelinedRegions(job);
      expect(shape(regions)).to.deep.equal([
        { tasks: ['out/0', 'reduce/0'], producers: ['combine/0', 'combine/1'] },
        { tasks: ['out/1', 'reduce/1'], producers: ['combine/0', 'combine/1'] },
        { tasks: ['combine/0', 'split/0', 'src/0'], producers: [] },
        { tasks: ['combine/1', 'split/1', 'src/1'], producers: [] },
      ]);
      expectWellFormed(job, regions);
    });
  });

  describe('when every edge streams', () => {
    it("joins all of WordCount into one region with batch.shuffle 'pipelined', chained or not", () => {
      for (const chaining of [true, false]) {
        const job = resolved(wordCount(), (d) => { d.batch = { shuffle: 'pipelined' }; d.operatorChaining = chaining; });
        expect(job.edges.some((e) => isBlocking(job, e)), 'no blocking edge').to.equal(false);
        const regions = pipelinedRegions(job);
        expect(regions, `chaining ${chaining}`).to.have.length(1);
        expect(regions[0]!.index).to.equal(0);
        expect(regions[0]!.producers).to.deep.equal([]);
        expectWellFormed(job, regions);
      }
    });

    it('keeps a streaming job that is not connected in one region per connected part', () => {
      // Two forward pipelines at p=2 share no edge: each chain subtask runs, fails and re-runs alone.
      const job = resolved({
        apiVersion: 'cloudflink/v1', name: 'apart', parallelism: 2,
        vertices: [
          { id: 'a', operator: 'source.elements', elements: [1] },
          { id: 'b', operator: 'source.elements', elements: [2] },
          { id: 'aOut', operator: 'sink.collect' },
          { id: 'bOut', operator: 'sink.collect' },
        ],
        edges: [{ from: 'a', to: 'aOut' }, { from: 'b', to: 'bOut', partition: 'rebalance' }],
      });
      expect(job.batch).to.equal(undefined);
      const regions = pipelinedRegions(job);
      expect(shape(regions)).to.deep.equal([
        { tasks: ['a/0', 'aOut/0'], producers: [] },
        { tasks: ['a/1', 'aOut/1'], producers: [] },
        { tasks: ['b/0', 'b/1', 'bOut/0', 'bOut/1'], producers: [] },
      ]);
      expectWellFormed(job, regions);
    });
  });
});
