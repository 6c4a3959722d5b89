import { expect } from 'chai';
import { ConnectedStreams, DataStream, StreamExecutionEnvironment } from '../../../lib/api/index.ts';
import { validateDescriptor, type EdgeDescriptor, type JobDescriptor, type VertexDescriptor } from '../../../lib/descriptor/index.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';

function revive(source: unknown, params: Record<string, unknown> = {}): (...args: any[]) => any {
  return new Function('params', 'return (' + (source as string) + ')')(params);
}

function graph(env: StreamExecutionEnvironment): { vertices: VertexDescriptor[]; edges: EdgeDescriptor[] } {
  const { vertices, edges } = env.getDescriptor();
  return { vertices, edges };
}

/** The descriptor as the Job Manager receives it: through JSON, then validated. */
function expectValid(descriptor: JobDescriptor): void {
  const result = validateDescriptor(JSON.parse(JSON.stringify(descriptor)));
  if (!result.ok) expect.fail(JSON.stringify(result.issues, null, 2));
}

const vertexById = (env: StreamExecutionEnvironment, id: string) => graph(env).vertices.find((v) => v.id === id) as VertexDescriptor & { fn1?: unknown; fn2?: unknown };

describe('ConnectedStreams', () => {
  it('connect().map() adds one coMap vertex with an edge marked input 1 from the first stream and input 2 from the second', () => {
    const env = new StreamExecutionEnvironment();
    const words = env.fromElements('a', 'bb');
    const numbers = env.fromElements(1, 2, 3);
    const connected = words.connect(numbers);
    expect(connected).to.be.instanceOf(ConnectedStreams);
    const mapped = connected.map((s) => s.length, (n) => n * 10);
    mapped.collect();

    const { vertices, edges } = graph(env);
    expect(mapped.id).to.equal('coMap-3');
    expect(vertices.map((v) => [v.id, v.name, v.operator])).to.deep.equal([
      ['source-elements-1', 'source.elements', 'source.elements'],
      ['source-elements-2', 'source.elements', 'source.elements'],
      ['coMap-3', 'coMap', 'coMap'],
      ['sink-collect-4', 'sink.collect', 'sink.collect'],
    ]);
    expect(Object.keys(vertices[2]!).sort()).to.deep.equal(['fn1', 'fn2', 'id', 'name', 'operator']);
    expect(edges).to.deep.equal([
      { from: 'source-elements-1', to: 'coMap-3', partition: 'forward', input: 1 },
      { from: 'source-elements-2', to: 'coMap-3', partition: 'forward', input: 2 },
      { from: 'coMap-3', to: 'sink-collect-4', partition: 'forward' },
    ]);
    const { fn1, fn2 } = vertexById(env, 'coMap-3');
    expect(['a', 'bb'].map(revive(fn1))).to.deep.equal([1, 2]);
    expect([1, 2, 3].map(revive(fn2))).to.deep.equal([10, 20, 30]);
    expectValid(env.getDescriptor());
  });

  it('connect().flatMap() adds a coFlatMap vertex whose functions return iterables', () => {
    const env = new StreamExecutionEnvironment();
    env.fromElements('a b').connect(env.generate(3))
      .flatMap((line) => line.split(' '), function* (n) { for (let i = 0; i < n; i++) yield `${i}`; })
      .print();
    const { vertices, edges } = graph(env);
    expect(vertices[2]).to.deep.include({ id: 'coFlatMap-3', name: 'coFlatMap', operator: 'coFlatMap' });
    expect(edges.filter((e) => e.to === 'coFlatMap-3').map((e) => [e.from, e.input])).to.deep.equal([
      ['source-elements-1', 1], ['source-generator-2', 2],
    ]);
    const { fn1, fn2 } = vertexById(env, 'coFlatMap-3');
    expect(revive(fn1)('x y')).to.deep.equal(['x', 'y']);
    expect([...revive(fn2)(3)]).to.deep.equal(['0', '1', '2']);
    expectValid(env.getDescriptor());
  });

  it('keeps the partitioning rebalance() and broadcast() set on either stream', () => {
    const env = new StreamExecutionEnvironment();
    const a = env.fromElements(1);
    const b = env.fromElements('x');
    a.rebalance().connect(b.broadcast()).map((x) => x, (y) => y).print();
    a.broadcast().connect(b.rebalance()).flatMap((x) => [x], (y) => [y]).print();
    a.connect(b.broadcast()).map((x) => x, (y) => y).print();
    const { edges } = graph(env);
    const into = (id: string) => edges.filter((e) => e.to === id).map((e) => [e.input, e.partition]);
    expect(into('coMap-3')).to.deep.equal([[1, 'rebalance'], [2, 'broadcast']]);
    expect(into('coFlatMap-5')).to.deep.equal([[1, 'broadcast'], [2, 'rebalance']]);
    expect(into('coMap-7')).to.deep.equal([[1, 'forward'], [2, 'broadcast']]);
    expectValid(env.getDescriptor());
  });

  it('decides forward or rebalance per input from the parallelisms, when the job is described', () => {
    const env = new StreamExecutionEnvironment(undefined, { parallelism: 4 });
    const a = env.generate(10, undefined, { parallelism: 4 });
    const b = env.generate(10, (i) => `${i}`, { parallelism: 3 });
    const co = a.connect(b).map((x) => x, (y) => Number(y));
    co.collect();
    const partitions = () => graph(env).edges.filter((e) => e.to === co.id).map((e) => e.partition);
    expect(partitions()).to.deep.equal(['forward', 'rebalance']);
    co.setParallelism(3);
    expect(partitions()).to.deep.equal(['rebalance', 'forward']);
    expectValid(env.getDescriptor());
  });

  it('names the vertex fn1/fn2 when both functions have names, else after the operator', () => {
    const env = new StreamExecutionEnvironment();
    const a = env.fromElements(1);
    const b = env.fromElements(2);
    const both = a.connect(b).map(function left(x) { return x; }, function right(y) { return y; });
    const onlyFirst = a.connect(b).flatMap(function left(x) { return [x]; }, (y) => [y]);
    const onlySecond = a.connect(b).map((x) => x, function right(y) { return y; });
    const double = (x: number) => 2 * x;
    const consts = a.connect(b).flatMap(function split(x) { return [x, x]; }, function (y) { return [y]; });
    const arrowsByName = a.connect(b).map(double, double);
    const refs = a.connect(b).map({ module: 'my-udfs', export: 'parse' }, { module: 'my-udfs', export: 'scale' });
    const named = a.connect(b).map(function left(x) { return x; }, function right(y) { return y; }, { name: 'by hand' });
    expect([both, onlyFirst, onlySecond, consts, arrowsByName, refs, named].map((s) => vertexById(env, s.id).name)).to.deep.equal([
      'left/right', 'coFlatMap', 'coMap', 'coFlatMap', 'double/double', 'parse/scale', 'by hand',
    ]);
  });

  it('ships module references as they are', () => {
    const env = new StreamExecutionEnvironment();
    const co = env.fromElements(1).connect(env.fromElements(2)).flatMap({ module: 'my-udfs', export: 'a' }, { module: 'my-udfs' });
    co.print();
    expect(vertexById(env, co.id)).to.deep.include({ fn1: { module: 'my-udfs', export: 'a' }, fn2: { module: 'my-udfs' } });
    expectValid(env.getDescriptor());
  });

  it('takes operator options, and the fluent settings afterwards; the edges follow a later uid()', () => {
    const env = new StreamExecutionEnvironment(undefined, { parallelism: 2, params: { job: true } });
    const a = env.fromElements(1).uid('a');
    const b = env.fromElements('x').uid('b');
    const withOptions = a.connect(b).map((x) => x + params.plus, (y) => y, { name: 'plus', parallelism: 2, params: { plus: 1 }, uid: 'plus' });
    const fluent = a.connect(b).flatMap((x) => [x], (y) => [y]).name('fluent').setParallelism(1).setParams({ k: 'v' });
    fluent.uid('later');
    withOptions.collect({ uid: 'out1' });
    fluent.collect({ uid: 'out2' });
    const { vertices, edges } = graph(env);
    expect(vertexById(env, 'plus')).to.deep.include({ name: 'plus', parallelism: 2, params: { plus: 1 } });
    expect(revive(vertexById(env, 'plus').fn1, { plus: 1 })(41)).to.equal(42);
    expect(vertexById(env, 'later')).to.deep.include({ name: 'fluent', operator: 'coFlatMap', parallelism: 1, params: { k: 'v' } });
    expect(edges.filter((e) => e.to === 'later' || e.from === 'later')).to.deep.equal([
      { from: 'a', to: 'later', partition: 'rebalance', input: 1 },
      { from: 'b', to: 'later', partition: 'rebalance', input: 2 },
      { from: 'later', to: 'out2', partition: 'rebalance' },
    ]);
    expect(vertices.map((v) => v.id)).to.deep.equal(['a', 'b', 'plus', 'later', 'out1', 'out2']);
    expectValid(env.getDescriptor());
  });

  it('gives a stream that can be transformed and connected again; only edges into a two-input vertex carry input', () => {
    const env = new StreamExecutionEnvironment();
    const a = env.fromElements(1, 2);
    const b = env.fromElements('x');
    const c = env.fromElements(true);
    a.connect(b).map((x) => `${x}`, (y) => y)
      .map((s) => s.toUpperCase())
      .connect(c)
      .flatMap((s) => [s], (t) => [String(t)])
      .union(a.map((x) => `${x}`))
      .collect();
    const { vertices, edges } = graph(env);
    const operators = new Map(vertices.map((v) => [v.id, v.operator]));
    for (const e of edges) {
      const twoInput = ['coMap', 'coFlatMap'].includes(operators.get(e.to)!);
      expect(e.input === undefined, `${e.from} -> ${e.to}`).to.equal(!twoInput);
    }
    expect(edges.filter((e) => e.to === 'coFlatMap-6').map((e) => [e.from, e.input])).to.deep.equal([['map-5', 1], ['source-elements-3', 2]]);
    expectValid(env.getDescriptor());
  });

  // Flink allows ds.connect(ds): each record reaches the operator twice, once by each function. The
  // engine runs that (two edges with ids of their own, spec/e2e/connect.spec.ts); the API must not
  // build a descriptor that the Job Manager rejects, so it either builds a valid one or refuses at once.
  for (const [label, second] of [['itself', (a: DataStream<number>) => a], ['itself broadcast', (a: DataStream<number>) => a.broadcast()]] as const) {
    it(`connects a stream with ${label} into a descriptor the Job Manager accepts, or refuses to at connect()`, () => {
      const env = new StreamExecutionEnvironment();
      const a = env.fromElements(1, 2);
      let connected: ConnectedStreams<number, number>;
      try {
        connected = a.connect(second(a));
      } catch (error) {
        expect(error).to.be.instanceOf(CloudflinkError);
        expect((error as CloudflinkError).code).to.equal('DESCRIPTOR_INVALID');
        return;
      }
      connected.map((x) => x, (y) => -y).collect();
      const edges = graph(env).edges.filter((e) => e.to === 'coMap-2');
      expect(edges.map((e) => [e.from, e.input])).to.deep.equal([['source-elements-1', 1], ['source-elements-1', 2]]);
      expectValid(env.getDescriptor());
    });
  }

  describe('errors', () => {
    it('refuses a stream of another environment, or something that is not a stream', () => {
      const env = new StreamExecutionEnvironment();
      const other = new StreamExecutionEnvironment();
      const a = env.fromElements(1);
      expect(() => a.connect(other.fromElements(2))).to.throw(CloudflinkError, /^connect\(\): the other stream must be a DataStream of the same environment$/);
      for (const notAStream of [undefined, null, {}, [1, 2], 'stream', { node: a.node }]) {
        expect(() => a.connect(notAStream as never), String(notAStream)).to.throw(CloudflinkError, /same environment/);
      }
      expect(graph(env).vertices).to.have.length(1);
    });

    it('says DESCRIPTOR_INVALID', () => {
      const env = new StreamExecutionEnvironment();
      try {
        env.fromElements(1).connect(new StreamExecutionEnvironment().fromElements(1));
        expect.fail('expected an error');
      } catch (error) {
        expect((error as CloudflinkError).code).to.equal('DESCRIPTOR_INVALID');
      }
    });

    it('refuses a non-function as fn1 or fn2, naming which and the call', () => {
      const env = new StreamExecutionEnvironment();
      const connected = env.fromElements(1).connect(env.fromElements('x'));
      const ok = (x: unknown) => x;
      expect(() => connected.map(5 as never, ok)).to.throw(CloudflinkError, /^connect\(\)\.map\(\) fn1 expects a function .*got number 5$/);
      expect(() => connected.map(ok, 'x => x' as never)).to.throw(CloudflinkError, /^connect\(\)\.map\(\) fn2 expects a function .*got string "x => x"$/);
      expect(() => connected.flatMap(null as never, ok as never)).to.throw(CloudflinkError, /^connect\(\)\.flatMap\(\) fn1 expects a function .*got null$/);
      expect(() => connected.flatMap(ok as never, undefined as never)).to.throw(CloudflinkError, /^connect\(\)\.flatMap\(\) fn2 expects a function .*got undefined$/);
      expect(() => connected.map(ok, { module: '' } as never)).to.throw(CloudflinkError, /fn2 expects a function .*got an object/);
      expect(() => connected.map(ok, [ok] as never)).to.throw(CloudflinkError, /fn2 expects a function .*got an array/);
    });

    it('refuses functions that cannot be shipped, naming which', () => {
      const env = new StreamExecutionEnvironment();
      const connected = env.fromElements(1).connect(env.fromElements(2));
      const ok = (x: number) => x;
      expect(() => connected.map(Math.abs, ok)).to.throw(CloudflinkError, /^connect\(\)\.map\(\) fn1: cannot ship a native or bound function/);
      expect(() => connected.flatMap((x) => [x], ok.bind(null) as never)).to.throw(CloudflinkError, /^connect\(\)\.flatMap\(\) fn2: cannot ship a native or bound function/);
      expect(() => connected.map(ok, class {} as never)).to.throw(CloudflinkError, /fn2: cannot ship a class/);
    });

    it('adds no vertex when a function is refused', () => {
      const env = new StreamExecutionEnvironment();
      const connected = env.fromElements(1).connect(env.fromElements(2));
      expect(() => connected.map((x) => x, 1 as never)).to.throw(CloudflinkError);
      expect(() => connected.flatMap(1 as never, (x) => [x])).to.throw(CloudflinkError);
      expect(graph(env).vertices.map((v) => v.operator)).to.deep.equal(['source.elements', 'source.elements']);
    });
  });
});
