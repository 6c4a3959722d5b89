import { expect } from 'chai';
import { StreamExecutionEnvironment } from '../../../lib/api/index.ts';
import type { EdgeDescriptor, VertexDescriptor } from '../../../lib/descriptor/types.ts';
import { validateDescriptor } from '../../../lib/descriptor/index.ts';
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

describe('DataStream.union', () => {
  it('adds a union vertex with one edge from each stream, this one first', () => {
    const env = new StreamExecutionEnvironment();
    const a = env.fromElements(1, 2);
    const b = env.generate(5);
    const c = env.fromElements(3).map((x) => x * 2);
    const all = a.union(b, c);
    all.collect();
    expect(all.id).to.equal('union-5');
    const { vertices, edges } = graph(env);
    expect(vertices.find((v) => v.id === 'union-5')).to.deep.equal({ id: 'union-5', name: 'union', operator: 'union' });
    expect(edges.filter((e) => e.to === 'union-5')).to.deep.equal([
      { from: 'source-elements-1', to: 'union-5', partition: 'forward' },
      { from: 'source-generator-2', to: 'union-5', partition: 'forward' },
      { from: 'map-4', to: 'union-5', partition: 'forward' },
    ]);
    expect(edges.filter((e) => e.from === 'union-5')).to.deep.equal([{ from: 'union-5', to: 'sink-collect-6', partition: 'forward' }]);
  });

  it('keeps rebalance() and broadcast() of each input, and decides the others from the parallelisms', () => {
    const env = new StreamExecutionEnvironment(undefined, { parallelism: 2 });
    const a = env.fromElements(1, 2);
    const b = env.fromElements(3).setParallelism(1);
    const c = env.fromElements(4);
    const d = env.fromElements(5);
    a.rebalance().union(b, c.broadcast(), d).collect();
    expect(graph(env).edges.filter((e) => e.to === 'union-5').map((e) => [e.from, e.partition])).to.deep.equal([
      ['source-elements-1', 'rebalance'],
      ['source-elements-2', 'rebalance'], // parallelism 1 into 2
      ['source-elements-3', 'broadcast'],
      ['source-elements-4', 'forward'],
    ]);
  });

  it('is a stream like any other: settings, keyBy after it, and a descriptor that validates', () => {
    const env = new StreamExecutionEnvironment(undefined, { parallelism: 3 });
    const a = env.fromElements({ k: 'x', v: 1 });
    const b = env.fromElements({ k: 'y', v: 2 }).setParallelism(2);
    a.union(b).name('both').uid('both').setParallelism(4).keyBy('k').max('v').collect();
    const descriptor = env.getDescriptor();
    expect(descriptor.vertices.find((v) => v.id === 'both')).to.deep.equal({ id: 'both', name: 'both', operator: 'union', parallelism: 4 });
    expect(descriptor.edges.filter((e) => e.to === 'both').map((e) => e.partition)).to.deep.equal(['rebalance', 'rebalance']);
    expect(descriptor.edges.find((e) => e.from === 'both')).to.deep.equal({ from: 'both', to: 'max-4', partition: 'hash', key: { field: 'k' } });
    const validation = validateDescriptor(JSON.parse(JSON.stringify(descriptor)));
    expect(validation.ok, JSON.stringify(validation)).to.equal(true);
  });

  it('rejects no other stream, and streams of another environment', () => {
    const env = new StreamExecutionEnvironment();
    const a = env.fromElements(1);
    const mapped = a.map((x) => x);
    const sink = a.collect();
    const other = new StreamExecutionEnvironment().fromElements(2);
    for (const call of [() => a.union(), () => a.union(...[])]) {
      expect(call).to.throw(CloudflinkError, /union\(\) needs at least one other stream/);
    }
    for (const call of [
      () => a.union(other),
      () => a.union(mapped, other),
      () => a.union(sink as unknown as typeof a),
      () => a.union({ node: a.node } as unknown as typeof a),
      () => a.union(null as unknown as typeof a),
    ]) {
      expect(call).to.throw(CloudflinkError, /union\(\): every stream must be a DataStream of the same environment/);
    }
    // Nothing was added by the calls that failed.
    expect(env.getDescriptor().vertices.map((v) => v.operator)).to.deep.equal(['source.elements', 'map', 'sink.collect']);
  });

  it('never builds what the Job Manager rejects: a stream unioned with itself is refused, or validates', () => {
    // Flink gives each record twice; two edges alike, without ids, would fail validation as "a second edge".
    for (const build of [
      (env: StreamExecutionEnvironment) => { const a = env.fromElements(1, 2); a.union(a).collect(); },
      (env: StreamExecutionEnvironment) => { const a = env.fromElements(1, 2); a.union(env.fromElements(3), a.rebalance()).collect(); },
    ]) {
      const env = new StreamExecutionEnvironment();
      try {
        build(env);
      } catch (error) {
        expect(error).to.be.instanceOf(CloudflinkError);
        expect((error as CloudflinkError).code).to.equal('DESCRIPTOR_INVALID');
        continue;
      }
      const validation = validateDescriptor(JSON.parse(JSON.stringify(env.getDescriptor())));
      expect(validation.ok, JSON.stringify(validation)).to.equal(true);
    }
  });
});

describe('KeyedStream rolling extrema', () => {
  it('adds min, max, minBy and maxBy vertices on a hash edge, with their field', () => {
    const env = new StreamExecutionEnvironment();
    const clicks = env.fromElements({ user: 'ann', count: 1 }, { user: 'bob', count: 2 });
    const keyed = clicks.keyBy('user');
    keyed.min('count').collect();
    keyed.max('count').collect();
    keyed.minBy('count').collect();
    keyed.maxBy('count').collect();
    const { vertices, edges } = graph(env);
    for (const [id, operator] of [['min-2', 'min'], ['max-4', 'max'], ['minBy-6', 'minBy'], ['maxBy-8', 'maxBy']]) {
      expect(vertices.find((v) => v.id === id), id).to.deep.equal({ id, name: operator, operator, field: 'count' });
      expect(edges.find((e) => e.to === id), id).to.deep.equal({ from: 'source-elements-1', to: id, partition: 'hash', key: { field: 'user' } });
    }
  });

  it('writes first only when it is false, and takes array indices and options', () => {
    const env = new StreamExecutionEnvironment();
    const pairs = env.fromElements(['a', 1] as [string, number]).keyBy(0);
    pairs.minBy(1, true).collect();
    pairs.minBy(1, false).collect();
    pairs.maxBy(1, false, { uid: 'latest-max', name: 'latest max', parallelism: 2 }).collect();
    pairs.max(1, { uid: 'highest' }).collect();
    const { vertices, edges } = graph(env);
    expect(vertices.find((v) => v.id === 'minBy-2')).to.deep.equal({ id: 'minBy-2', name: 'minBy', operator: 'minBy', field: 1 });
    expect(vertices.find((v) => v.id === 'minBy-4')).to.deep.equal({ id: 'minBy-4', name: 'minBy', operator: 'minBy', field: 1, first: false });
    expect(vertices.find((v) => v.id === 'latest-max')).to.deep.equal({
      id: 'latest-max', name: 'latest max', operator: 'maxBy', field: 1, first: false, parallelism: 2,
    });
    expect(vertices.find((v) => v.id === 'highest')).to.deep.equal({ id: 'highest', name: 'max', operator: 'max', field: 1 });
    for (const id of ['minBy-2', 'minBy-4', 'latest-max', 'highest']) {
      expect(edges.find((e) => e.to === id), id).to.deep.include({ partition: 'hash', key: { field: 0 } });
    }
    const validation = validateDescriptor(JSON.parse(JSON.stringify(env.getDescriptor())));
    expect(validation.ok, JSON.stringify(validation)).to.equal(true);
  });

  it('is keyed even after rebalance() or broadcast(), and with a key function', () => {
    const env = new StreamExecutionEnvironment();
    const numbers = env.fromElements({ n: 1 }, { n: 2 });
    numbers.rebalance().keyBy((x) => x.n % 2).min('n').collect();
    numbers.broadcast().keyBy((x) => x.n % 3).maxBy('n').collect();
    const { edges } = graph(env);
    expect(edges.find((e) => e.to === 'min-2')!.partition).to.equal('hash');
    expect(edges.find((e) => e.to === 'maxBy-4')!.partition).to.equal('hash');
    expect(revive((edges.find((e) => e.to === 'maxBy-4')!.key as { fn: string }).fn)({ n: 7 })).to.equal(1);
  });

  it('rejects fields that are no field name or array index, naming the operator', () => {
    const env = new StreamExecutionEnvironment();
    const keyed = env.fromElements({ k: 'a', v: 1 }).keyBy('k');
    const bad: unknown[] = [-1, 1.5, Number.NaN, Infinity, '', null, undefined, Symbol('v'), { field: 'v' }, true];
    for (const operator of ['min', 'max', 'minBy', 'maxBy'] as const) {
      for (const field of bad) {
        expect(() => keyed[operator](field as 'v'), `${operator}(${String(field)})`)
          .to.throw(CloudflinkError, new RegExp(`^${operator}\\(.*\\): expected a field name or a non-negative array index`));
      }
    }
    // Nothing was added by the calls that failed.
    expect(env.getDescriptor().vertices).to.have.length(1);
  });
});

declare const params: unknown;
