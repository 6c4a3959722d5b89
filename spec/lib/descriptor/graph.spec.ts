import { expect } from 'chai';
import {
  inputsOf, isKeyed, isSink, isSource, outputsOf, topologicalOrder, validateDescriptor, type ResolvedJob,
} from '../../../lib/descriptor/index.ts';

const graph = (ids: string[], edges: [string, string][]) => ({
  vertices: ids.map((id) => ({ id })),
  edges: edges.map(([from, to]) => ({ from, to })),
});

describe('descriptor graph', () => {
  describe('topologicalOrder', () => {
    it('puts every vertex after its upstream vertices, ties in declaration order', () => {
      expect(topologicalOrder(graph(['sink', 'b', 'a', 'src'], [['src', 'a'], ['src', 'b'], ['a', 'sink'], ['b', 'sink']])))
        .to.deep.equal(['src', 'b', 'a', 'sink']);
    });

    it('names a cycle in edge direction, from its first-declared vertex', () => {
      expect(topologicalOrder(graph(['src', 'a', 'b', 'c', 'out'], [['src', 'b'], ['b', 'c'], ['c', 'a'], ['a', 'b'], ['c', 'out']])))
        .to.deep.equal({ cycle: ['a', 'b', 'c'] });
    });

    it('finds a self-loop', () => {
      expect(topologicalOrder(graph(['a', 'b'], [['a', 'b'], ['b', 'b']]))).to.deep.equal({ cycle: ['b'] });
    });

    it('ignores edges to unknown vertices', () => {
      expect(topologicalOrder(graph(['a', 'b'], [['a', 'b'], ['b', 'ghost'], ['ghost', 'a']]))).to.deep.equal(['a', 'b']);
    });
  });

  describe('inputsOf and outputsOf', () => {
    const result = validateDescriptor({
      apiVersion: 'cloudflink/v1', name: 'join',
      vertices: [
        { id: 'left', operator: 'source.elements', elements: [1] },
        { id: 'right', operator: 'source.elements', elements: [2] },
        { id: 'both', operator: 'map', fn: '(x) => x' },
        { id: 'out', operator: 'sink.collect' },
        { id: 'log', operator: 'sink.print' },
      ],
      edges: [{ from: 'left', to: 'both' }, { from: 'right', to: 'both' }, { from: 'both', to: 'out' }, { from: 'both', to: 'log', partition: 'broadcast' }],
    });
    const job = (result as { job: ResolvedJob }).job;

    it('lists the resolved edges into and out of a vertex', () => {
      expect(result.ok).to.equal(true);
      expect(inputsOf(job, 'both').map((e) => e.id)).to.deep.equal(['left->both', 'right->both']);
      expect(outputsOf(job, 'both').map((e) => [e.id, e.partition])).to.deep.equal([['both->out', 'forward'], ['both->log', 'broadcast']]);
      expect(inputsOf(job, 'left')).to.deep.equal([]);
    });
  });

  it('tells sources, sinks and keyed operators apart', () => {
    expect([isSource('source.generator'), isSource('map'), isSink('sink.collect'), isSink('sum')]).to.deep.equal([true, false, true, false]);
    expect([isKeyed('reduce'), isKeyed('sum'), isKeyed('flatMap')]).to.deep.equal([true, true, false]);
  });
});
