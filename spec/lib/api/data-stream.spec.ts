import { expect } from 'chai';
import { StreamExecutionEnvironment } from '../../../lib/api/index.ts';
import type { EdgeDescriptor, VertexDescriptor } from '../../../lib/descriptor/types.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';

function revive(source: unknown): (...args: any[]) => any {
  return new Function('params', 'return (' + (source as string) + ')')({});
}

function graph(env: StreamExecutionEnvironment): { vertices: VertexDescriptor[]; edges: EdgeDescriptor[] } {
  const { vertices, edges } = env.getDescriptor();
  return { vertices, edges };
}

describe('DataStream', () => {
  it('adds map, filter and flatMap vertices whose functions re-evaluate', () => {
    const env = new StreamExecutionEnvironment();
    env.fromElements(1, 2, 3)
      .map((x) => x * 10)
      .filter(function isBig(x) { return x > 10; })
      .flatMap((x) => [x, -x])
      .collect();
    const { vertices } = graph(env);
    expect(vertices.map((v) => [v.id, v.name, v.operator])).to.deep.equal([
      ['source-elements-1', 'source.elements', 'source.elements'],
      ['map-2', 'map', 'map'],
      ['filter-3', 'isBig', 'filter'],
      ['flatMap-4', 'flatMap', 'flatMap'],
      ['sink-collect-5', 'sink.collect', 'sink.collect'],
    ]);
    const [, map, filter, flatMap] = vertices.map((v) => revive((v as { fn?: string }).fn));
    expect([1, 2, 3].map(map!).filter(filter!).flatMap(flatMap!)).to.deep.equal([20, -20, 30, -30]);
  });

  it('takes .name(), .setParallelism() and .uid() on the stream an operator returns', () => {
    const env = new StreamExecutionEnvironment(undefined, { parallelism: 4 });
    const parsed = env.readTextFile('in.txt').map((line) => Number(line)).name('parse numbers').setParallelism(2).uid('parse');
    expect(parsed.id).to.equal('parse');
    const sink = parsed.print('> ').name('console').setParallelism(1).uid('console');
    expect(sink.id).to.equal('console');

    const { vertices, edges } = graph(env);
    expect(vertices[1]).to.deep.include({ id: 'parse', name: 'parse numbers', parallelism: 2 });
    expect(vertices[2]).to.deep.equal({ id: 'console', name: 'console', operator: 'sink.print', prefix: '> ', parallelism: 1 });
    // Unequal parallelisms cannot be chained, so the edges rebalance; the uid is used at both ends.
    expect(edges).to.deep.equal([
      { from: 'source-textFile-1', to: 'parse', partition: 'rebalance' },
      { from: 'parse', to: 'console', partition: 'rebalance' },
    ]);
  });

  it('takes the same settings as a last argument, with params per operator', () => {
    const env = new StreamExecutionEnvironment(undefined, { parallelism: 3 });
    env.generate(10)
      .map((i) => i * (params as { factor: number }).factor, { name: 'scale', parallelism: 3, params: { factor: 2 }, uid: 'scale' })
      .writeAsText('out', { parallelism: 1, name: 'file' });
    const { vertices, edges } = graph(env);
    expect(vertices[1]).to.deep.include({ id: 'scale', name: 'scale', parallelism: 3, params: { factor: 2 } });
    expect(vertices[2]).to.deep.equal({ id: 'sink-textFile-3', name: 'file', operator: 'sink.textFile', path: 'out', parallelism: 1 });
    expect(edges.map((e) => e.partition)).to.deep.equal(['forward', 'rebalance']);
  });

  it('decides forward or rebalance when the job is described, after every setting is known', () => {
    const env = new StreamExecutionEnvironment();
    const doubled = env.fromElements(1).map((x) => 2 * x);
    doubled.print();
    expect(graph(env).edges.map((e) => e.partition)).to.deep.equal(['forward', 'forward']);
    doubled.setParallelism(2); // the others keep the job's default of 1
    expect(graph(env).edges.map((e) => e.partition)).to.deep.equal(['rebalance', 'rebalance']);
    env.setParallelism(2);
    expect(graph(env).edges.map((e) => e.partition)).to.deep.equal(['forward', 'forward']);
    doubled.setParallelism(1);
    env.setParallelism(1);
    expect(graph(env).edges.map((e) => e.partition)).to.deep.equal(['forward', 'forward']);
  });

  it('sets the partitioning of the next edge with rebalance() and broadcast()', () => {
    const env = new StreamExecutionEnvironment();
    const numbers = env.fromElements(1, 2);
    numbers.rebalance().map((x) => x + 1).broadcast().print();
    numbers.broadcast().collect();
    expect(graph(env).edges).to.deep.equal([
      { from: 'source-elements-1', to: 'map-2', partition: 'rebalance' },
      { from: 'map-2', to: 'sink-print-3', partition: 'broadcast' },
      { from: 'source-elements-1', to: 'sink-collect-4', partition: 'broadcast' },
    ]);
  });

  it('rejects bad ids, names and parallelisms with clear errors', () => {
    const env = new StreamExecutionEnvironment();
    const stream = env.fromElements('a').map((s) => s.toUpperCase());
    expect(() => stream.uid('has space')).to.throw(CloudflinkError, /not a valid vertex id/);
    expect(() => stream.uid('dotted.id')).to.throw(CloudflinkError, /letters, digits/);
    expect(() => stream.uid('source-elements-1')).to.throw(CloudflinkError, /already the id of another vertex/);
    expect(() => stream.setParallelism(0)).to.throw(CloudflinkError, /positive integer/);
    expect(() => stream.name('')).to.throw(CloudflinkError, /non-empty/);
    expect(() => stream.writeAsText('')).to.throw(CloudflinkError, /non-empty path/);
    expect(() => stream.map(Math.abs as unknown as (s: string) => number)).to.throw(CloudflinkError, /native or bound/);
    expect(stream.id).to.equal('map-2');
  });

  it('never gives an automatic id that a uid() already took', () => {
    const env = new StreamExecutionEnvironment();
    env.fromElements(1).uid('map-2').map((x) => x).print();
    const ids = graph(env).vertices.map((v) => v.id);
    expect(new Set(ids).size).to.equal(3);
    expect(ids[0]).to.equal('map-2');
  });
});

describe('KeyedStream', () => {
  it('carries a field name, an index or a key function on the hash edge', () => {
    const env = new StreamExecutionEnvironment();
    const clicks = env.fromElements({ user: 'ann', count: 1 }, { user: 'bob', count: 2 });
    clicks.keyBy('user').sum('count').print();
    env.fromElements(['a', 1] as [string, number]).keyBy(0).sum(1).print();
    clicks.keyBy((click) => click.user.toLowerCase()).reduce((a, b) => ({ user: a.user, count: a.count + b.count })).print();

    const { vertices, edges } = graph(env);
    const into = (id: string) => edges.find((e) => e.to === id)!;
    expect(into('sum-2')).to.deep.equal({ from: 'source-elements-1', to: 'sum-2', partition: 'hash', key: { field: 'user' } });
    expect(vertices.find((v) => v.id === 'sum-2')).to.deep.equal({ id: 'sum-2', name: 'sum', operator: 'sum', field: 'count' });
    expect(into('sum-5')).to.deep.include({ partition: 'hash', key: { field: 0 } });
    expect(vertices.find((v) => v.id === 'sum-5')).to.include({ field: 1 });

    const reduceEdge = into('reduce-7');
    expect(reduceEdge.partition).to.equal('hash');
    const key = revive((reduceEdge.key as { fn: string }).fn);
    expect(key({ user: 'ANN', count: 1 })).to.equal('ann');
    const reduce = revive((vertices.find((v) => v.id === 'reduce-7') as { fn: string }).fn);
    expect(reduce({ user: 'ann', count: 1 }, { user: 'ann', count: 4 })).to.deep.equal({ user: 'ann', count: 5 });
  });

  it('is keyed even after rebalance(), and names the reduce after its function', () => {
    const env = new StreamExecutionEnvironment();
    const add = (a: number, b: number) => a + b;
    env.fromElements(1, 2).rebalance().keyBy((x) => x % 2).reduce(add, { parallelism: 2 }).print();
    const { vertices, edges } = graph(env);
    expect(vertices[1]).to.deep.include({ id: 'reduce-2', name: 'add', parallelism: 2 });
    expect(edges[0]!.partition).to.equal('hash');
  });

  it('rejects keys that cannot be shipped', () => {
    const env = new StreamExecutionEnvironment();
    const stream = env.fromElements([1, 2]);
    expect(() => stream.keyBy(-1)).to.throw(CloudflinkError, /non-negative integer/);
    expect(() => stream.keyBy(Symbol('k') as unknown as number)).to.throw(CloudflinkError, /symbol/);
    expect(() => stream.keyBy(0).sum(1.5)).to.throw(CloudflinkError, /field name or a non-negative array index/);
  });
});

declare const params: unknown;
