import { expect } from 'chai';
import { Aggregations, ExecutionEnvironment, Order, PROJECT_FIELDS_PARAM, SEQUENCE_FROM_PARAM, type Operator } from '../../../lib/api/dataset/index.ts';
import { StreamExecutionEnvironment } from '../../../lib/api/index.ts';
import { validateDescriptor, type EdgeDescriptor, type JobDescriptor, type VertexDescriptor } from '../../../lib/descriptor/index.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';

// The DataSet API: the batch descriptors each operation produces, and the errors at call time.

interface Word { word: string; count: number }
interface Country { code: string; name: string }

type Vertex = VertexDescriptor & Record<string, unknown>;

/** What a Task Manager does with a function's text: evaluate it with `params` in scope. */
function revive(source: unknown, params: Record<string, unknown> = {}): (...args: any[]) => any {
  return new Function('params', 'return (' + (source as string) + ')')(params);
}

/** The descriptor as the Job Manager receives it: through JSON, then validated. */
function descriptorOf(env: ExecutionEnvironment): JobDescriptor {
  const descriptor = env.getDescriptor('spec');
  const result = validateDescriptor(JSON.parse(JSON.stringify(descriptor)));
  if (!result.ok) expect.fail(JSON.stringify(result.issues, null, 2));
  return descriptor;
}

function vertex(env: ExecutionEnvironment, id: string): Vertex {
  const found = descriptorOf(env).vertices.find((v) => v.id === id);
  if (!found) expect.fail(`no vertex ${id}`);
  return found as Vertex;
}

function edgesInto(env: ExecutionEnvironment, id: string): EdgeDescriptor[] {
  return descriptorOf(env).edges.filter((e) => e.to === id);
}

/** The vertex feeding `id` on its only input. */
function inputOf(env: ExecutionEnvironment, id: string): Vertex {
  const edges = edgesInto(env, id);
  expect(edges).to.have.length(1);
  return vertex(env, edges[0]!.from);
}

function expectInvalid(fn: () => unknown, message: RegExp): void {
  expect(fn).to.throw(CloudflinkError, message).with.property('code', 'DESCRIPTOR_INVALID');
}

/** Words from a text file (of unknown size), on an environment of parallelism 2. */
function words(): { env: ExecutionEnvironment; words: Operator<Word> } {
  const env = new ExecutionEnvironment(undefined, { parallelism: 2 });
  return { env, words: env.readTextFile('/data/words').map((word: string) => ({ word, count: 1 })) };
}

describe('DataSet API (ExecutionEnvironment)', () => {
  describe('the environment', () => {
    it('makes descriptors in mode batch, with the job settings and the memory per slot', () => {
      const env = new ExecutionEnvironment(undefined, { parallelism: 3, params: { limit: 5 }, memoryPerSlotMb: 256 });
      env.fromElements(1, 2).collect();
      const descriptor = descriptorOf(env);
      expect(descriptor).to.include({ mode: 'batch', parallelism: 3, name: 'spec' });
      expect(descriptor.batch).to.deep.equal({ memoryPerSlotMb: 256 });
      expect(descriptor.params).to.deep.equal({ limit: 5 });
      expect(descriptor).not.to.have.property('checkpointing');
    });

    it('leaves the memory to the Job Manager when not given', () => {
      const env = new ExecutionEnvironment();
      env.fromElements(1).print();
      expect(descriptorOf(env)).to.include({ mode: 'batch' }).and.not.to.have.property('batch');
    });

    it('refuses a job without a sink, a bad memory size, and execute() without a client', async () => {
      const env = new ExecutionEnvironment();
      env.fromElements(1).map((x: number) => x);
      expectInvalid(() => env.getDescriptor(), /no sink: end a DataSet with print\(\), collect\(\)/);
      expectInvalid(() => new ExecutionEnvironment(undefined, { memoryPerSlotMb: 0 }), /memoryPerSlotMb.*at least 1/);
      env.fromElements(1).collect();
      await expect(env.execute('x')).to.be.rejectedWith(CloudflinkError, /ExecutionEnvironment has no JobClient/);
    });
  });

  describe('sources', () => {
    it('fromElements, fromCollection and readTextFile are the streaming sources', () => {
      const env = new ExecutionEnvironment();
      const a = env.fromElements('a', 'b');
      const b = env.fromCollection(new Set([1, 2]));
      const c = env.readTextFile('/data/dir');
      a.collect(); b.collect(); c.collect();
      expect(vertex(env, a.id)).to.include({ operator: 'source.elements' }).and.deep.include({ elements: ['a', 'b'] });
      expect(vertex(env, b.id)).to.deep.include({ operator: 'source.elements', elements: [1, 2] });
      expect(vertex(env, c.id)).to.include({ operator: 'source.textFile', path: '/data/dir' });
    });

    it('readCsvFile declares the columns, header and delimiter', () => {
      const env = new ExecutionEnvironment();
      const csv = env.readCsvFile('/data/people.csv', { fields: [{ name: 'name', type: 'string' }, { name: 'age', type: 'integer' }], header: true, delimiter: ';' });
      csv.collect();
      expect(vertex(env, csv.id)).to.deep.include({
        operator: 'source.csv', path: '/data/people.csv', fields: [{ name: 'name', type: 'string' }, { name: 'age', type: 'integer' }], header: true, delimiter: ';',
      });
    });

    it('readCsvFile refuses an empty path, no fields, a repeated or untyped field, a long delimiter', () => {
      const env = new ExecutionEnvironment();
      const fields = [{ name: 'a', type: 'string' as const }];
      expectInvalid(() => env.readCsvFile('', { fields }), /readCsvFile\(\) expects a non-empty path/);
      expectInvalid(() => env.readCsvFile('/x', { fields: [] }), /fields must list the columns/);
      expectInvalid(() => env.readCsvFile('/x', { fields: [...fields, ...fields] }), /'a' is declared twice/);
      expectInvalid(() => env.readCsvFile('/x', { fields: [{ name: 'a', type: 'date' as never }] }), /'a' has type string "date"/);
      expectInvalid(() => env.readCsvFile('/x', { fields, delimiter: '::' }), /single character/);
    });

    it('readJsonLines takes an optional JSON Schema', () => {
      const env = new ExecutionEnvironment();
      const plain = env.readJsonLines('/data/events');
      const checked = env.readJsonLines('/data/events', { schema: { type: 'object', required: ['id'] } });
      plain.collect(); checked.collect();
      expect(vertex(env, plain.id)).to.deep.include({ operator: 'source.jsonLines', path: '/data/events' }).and.not.to.have.property('schema');
      expect(vertex(env, checked.id)).to.deep.include({ schema: { type: 'object', required: ['id'] } });
      expectInvalid(() => env.readJsonLines(''), /non-empty path/);
    });

    it('generateSequence is a generator of to - from + 1 numbers, its start in the params', () => {
      const env = new ExecutionEnvironment();
      const fromZero = env.generateSequence(0, 9);
      const fromFive = env.generateSequence(5, 7);
      fromZero.collect(); fromFive.collect();
      expect(vertex(env, fromZero.id)).to.deep.include({ operator: 'source.generator', count: 10 }).and.not.to.have.property('fn');
      const five = vertex(env, fromFive.id);
      expect(five).to.deep.include({ operator: 'source.generator', count: 3, params: { [SEQUENCE_FROM_PARAM]: 5 } });
      const fn = revive(five.fn, five.params);
      expect([0, 1, 2].map(fn)).to.deep.equal([5, 6, 7]);
      expectInvalid(() => env.generateSequence(3, 2), /to must be at least from/);
      expectInvalid(() => env.generateSequence(0.5, 2), /from must be a whole number/);
    });
  });

  describe('record-at-a-time and partition operators', () => {
    it('map, flatMap and filter are the streaming vertices, named after the function', () => {
      const env = new ExecutionEnvironment();
      const splitWords = (line: string) => line.split(' ');
      const out = env.readTextFile('/in').flatMap(splitWords).filter((w) => w !== '').map((w) => w.length);
      out.collect();
      const map = vertex(env, out.id);
      const filter = inputOf(env, map.id);
      const flatMap = inputOf(env, filter.id);
      expect([flatMap.operator, filter.operator, map.operator]).to.deep.equal(['flatMap', 'filter', 'map']);
      expect(flatMap.name).to.equal('splitWords');
      expect(revive(map.fn)('abc')).to.equal(3);
    });

    it('mapPartition is a batch.mapPartition with the function', () => {
      const env = new ExecutionEnvironment();
      const sizes = env.fromElements(1, 2, 3).mapPartition((records) => [records.length]);
      sizes.collect();
      const v = vertex(env, sizes.id);
      expect(v.operator).to.equal('batch.mapPartition');
      expect(revive(v.fn)([1, 2])).to.deep.equal([2]);
    });

    it('project() is a map whose fields travel in the vertex params, by name or by index', () => {
      const env = new ExecutionEnvironment();
      const byName = env.fromElements<Word>({ word: 'a', count: 1 }).project('count');
      const byIndex = env.fromElements<[string, number, boolean]>(['a', 1, true]).project(2, 0);
      byName.collect(); byIndex.collect();
      const named = vertex(env, byName.id);
      expect(named).to.deep.include({ operator: 'map', name: 'project', params: { [PROJECT_FIELDS_PARAM]: ['count'] } });
      expect(revive(named.fn, named.params)({ word: 'a', count: 1 })).to.deep.equal({ count: 1 });
      const indexed = vertex(env, byIndex.id);
      expect(revive(indexed.fn, indexed.params)(['a', 1, true])).to.deep.equal([true, 'a']);
      expectInvalid(() => env.fromElements({ a: 1 }).project(), /at least one field/);
      expectInvalid(() => env.fromElements<Record<string, number>>({ a: 1 }).project('a', 0), /not both/);
      expectInvalid(() => env.fromElements({ a: 1 }).project('' as 'a'), /non-empty name/);
    });

    it('sortPartition chains secondary keys into one vertex, reading its input forward', () => {
      const { env, words: input } = words();
      const sorted = input.sortPartition('word', Order.ASCENDING).sortPartition('count', 'desc');
      sorted.collect();
      expect(vertex(env, sorted.id)).to.deep.include({
        operator: 'batch.sortPartition', by: [{ key: { field: 'word' }, order: 'asc' }, { key: { field: 'count' }, order: 'desc' }],
      });
      expect(edgesInto(env, sorted.id)[0]).to.include({ partition: 'forward' });
      expectInvalid(() => input.sortPartition('word', 'up' as never), /'asc' or 'desc'/);
    });

    it('partitionByHash and rebalance set the edge into the next operator', () => {
      const { env, words: input } = words();
      const hashed = input.partitionByHash('word').sortPartition('count');
      const spread = input.rebalance().mapPartition((records) => records);
      hashed.collect(); spread.collect();
      expect(edgesInto(env, hashed.id)[0]).to.deep.include({ partition: 'hash', key: { field: 'word' } });
      expect(edgesInto(env, spread.id)[0]).to.include({ partition: 'rebalance' });
    });

    it('union is one vertex with an edge from each input', () => {
      const env = new ExecutionEnvironment();
      const [a, b, c] = [env.fromElements(1), env.fromElements(2), env.fromElements(3)];
      const all = a.union(b, c);
      all.collect();
      expect(vertex(env, all.id).operator).to.equal('union');
      expect(edgesInto(env, all.id).map((e) => e.from)).to.deep.equal([a.id, b.id, c.id]);
      expectInvalid(() => a.union(), /at least one other DataSet/);
      expectInvalid(() => a.union(new ExecutionEnvironment().fromElements(4)), /same ExecutionEnvironment/);
    });
  });

  describe('distinct', () => {
    it('drops each subtask\'s duplicates in a combiner, then partitions by the whole record', () => {
      const { env, words: input } = words();
      const distinct = input.distinct();
      distinct.collect();
      const v = vertex(env, distinct.id);
      expect(v.operator).to.equal('batch.distinct');
      expect(v).not.to.have.property('key');
      const [edge] = edgesInto(env, distinct.id);
      const combine = vertex(env, edge!.from);
      expect(combine).to.include({ operator: 'batch.combine' });
      expect(edge).to.include({ partition: 'hash' });
      expect(revive((edge!.key as { fn: string }).fn)({ a: 1 })).to.deep.equal({ a: 1 });
      expect(revive(combine.fn)('first', 'second')).to.equal('first');
    });

    it('by a key: the key on the vertex, the combiner and the edge', () => {
      const { env, words: input } = words();
      const distinct = input.distinct('word');
      distinct.collect();
      const [edge] = edgesInto(env, distinct.id);
      expect(vertex(env, distinct.id)).to.deep.include({ key: { field: 'word' } });
      expect(vertex(env, edge!.from)).to.deep.include({ operator: 'batch.combine', key: { field: 'word' } });
      expect(edge).to.deep.include({ partition: 'hash', key: { field: 'word' } });
    });
  });

  describe('groupBy', () => {
    it('reduce: a combiner at the input\'s parallelism on a forward edge, then a hash edge by the key', () => {
      const { env, words: input } = words();
      const counts = input.groupBy('word').reduce((a, b) => ({ word: a.word, count: a.count + b.count }));
      counts.collect();
      const reduce = vertex(env, counts.id);
      expect(reduce.operator).to.equal('batch.reduce');
      const [shuffle] = edgesInto(env, counts.id);
      expect(shuffle).to.deep.include({ partition: 'hash', key: { field: 'word' } });
      const combine = vertex(env, shuffle!.from);
      expect(combine).to.deep.include({ operator: 'batch.combine', key: { field: 'word' }, fn: reduce.fn });
      const [local] = edgesInto(env, combine.id);
      expect(local).to.include({ from: input.id, partition: 'forward' });
    });

    it('sortGroup: reduceGroup and first(n) carry the sort keys, in turn, on a hash edge by the group key', () => {
      const { env, words: input } = words();
      const grouped = input.groupBy('word').sortGroup('count', 'desc').sortGroup((w) => w.word.length);
      const top = grouped.first(2);
      const lists = input.groupBy('word').sortGroup('count').reduceGroup((records: Word[]) => [records.map((r) => r.count)]);
      top.collect();
      lists.collect();
      const sortGroup = vertex(env, top.id).sortGroup as { key: { field?: string; fn?: string }; order: string }[];
      expect(vertex(env, top.id)).to.include({ operator: 'batch.first', n: 2 });
      expect(sortGroup.map((k) => k.order)).to.deep.equal(['desc', 'asc']);
      expect(sortGroup[0]!.key).to.deep.equal({ field: 'count' });
      expect(typeof sortGroup[1]!.key.fn).to.equal('string');
      expect(vertex(env, lists.id)).to.deep.include({ operator: 'batch.reduceGroup', sortGroup: [{ key: { field: 'count' }, order: 'asc' }] });
      for (const id of [top.id, lists.id]) expect(edgesInto(env, id)[0]).to.deep.include({ partition: 'hash', key: { field: 'word' } });
      expectInvalid(() => input.groupBy('word').sortGroup('count', 'up' as never), /sortGroup\(\)/);
    });

    it('refuses a sortGroup in a descriptor whose operator has no group key', () => {
      const descriptor: JobDescriptor = {
        apiVersion: 'cloudflink/v1', name: 'x', mode: 'batch',
        vertices: [{ id: 'a', operator: 'source.elements', elements: [1] }, { id: 'f', operator: 'batch.first', n: 1, sortGroup: [{ key: { field: 'x' } }] }, { id: 'o', operator: 'sink.collect' }],
        edges: [{ from: 'a', to: 'f' }, { from: 'f', to: 'o' }],
      };
      const result = validateDescriptor(descriptor);
      expect(result.ok).to.equal(false);
      if (!result.ok) expect(result.issues).to.deep.include({ path: '/vertices/1/sortGroup', message: "sortGroup sorts the records of each group: 'f' (batch.first) needs a 'hash' input edge with the group key; its input is 'forward'" });
    });

    it('keeps the combiner at its input\'s parallelism, also when that is set afterwards', () => {
      const env = new ExecutionEnvironment(undefined, { parallelism: 2 });
      const input = env.readTextFile('/in').map((word: string) => ({ word, count: 1 }));
      const counts = input.groupBy((w) => w.word).sum('count').setParallelism(3);
      input.setParallelism(4);
      counts.collect();
      const [shuffle] = edgesInto(env, counts.id);
      const combine = vertex(env, shuffle!.from);
      expect(combine.parallelism).to.equal(4);
      expect(vertex(env, counts.id).parallelism).to.equal(3);
      expect(edgesInto(env, combine.id)[0]).to.include({ partition: 'forward' });
      expect((shuffle!.key as { fn: string }).fn).to.be.a('string');
    });

    it('aggregate(kind, field).and(...): the same aggregations on the combiner and the final vertex', () => {
      const { env, words: input } = words();
      const stats = input.groupBy('word').aggregate(Aggregations.SUM, 'count').and('max', 'count').andMin('count');
      stats.collect();
      const aggregations = [{ kind: 'sum', field: 'count' }, { kind: 'max', field: 'count' }, { kind: 'min', field: 'count' }];
      expect(vertex(env, stats.id)).to.deep.include({ operator: 'batch.aggregate', aggregations });
      const [shuffle] = edgesInto(env, stats.id);
      expect(shuffle).to.deep.include({ partition: 'hash', key: { field: 'word' } });
      expect(vertex(env, shuffle!.from)).to.deep.include({ operator: 'batch.combine', key: { field: 'word' }, aggregations });
    });

    it('reduceGroup, minBy, maxBy and first read a hash edge by the key, without a combiner', () => {
      const { env, words: input } = words();
      const grouped = input.groupBy('word');
      const ops = [
        grouped.reduceGroup((records, key) => [{ key, n: records.length }]),
        grouped.minBy('count'), grouped.maxBy('count'), grouped.first(2),
      ];
      for (const op of ops) op.collect();
      expect(ops.map((op) => vertex(env, op.id).operator)).to.deep.equal(['batch.reduceGroup', 'batch.minBy', 'batch.maxBy', 'batch.first']);
      for (const op of ops) {
        expect(edgesInto(env, op.id)).to.have.length(1);
        expect(edgesInto(env, op.id)[0]).to.deep.include({ from: input.id, partition: 'hash', key: { field: 'word' } });
      }
      expect(vertex(env, ops[1]!.id)).to.include({ field: 'count' });
      expect(vertex(env, ops[3]!.id)).to.include({ n: 2 });
    });

    it('refuses bad keys, unknown aggregations and n < 1', () => {
      const { words: input } = words();
      expectInvalid(() => input.groupBy('' as 'word'), /groupBy\(\): a field is a non-empty name/);
      expectInvalid(() => input.groupBy(null as never), /a key is a field name, an array index or a key-selector function, got null/);
      expectInvalid(() => input.groupBy(-1), /non-negative array index/);
      expectInvalid(() => input.groupBy('word').aggregate('median' as never, 'count'), /unknown aggregation string "median"; use one of: sum, min, max, count, avg/);
      expectInvalid(() => input.groupBy('word').sum('count').and('sum', '' as 'count'), /and\(\): a field/);
      expectInvalid(() => input.groupBy('word').first(0), /n must be a whole number, at least 1, got number 0/);
    });
  });

  describe('over the whole DataSet', () => {
    it('reduce: a combiner with one constant key, then batch.reduce in one instance', () => {
      const { env, words: input } = words();
      const total = input.reduce((a, b) => ({ word: '*', count: a.count + b.count }));
      total.collect();
      const reduce = vertex(env, total.id);
      expect(reduce).to.include({ operator: 'batch.reduce', parallelism: 1 });
      const combine = inputOf(env, total.id);
      expect(combine).to.include({ operator: 'batch.combine', fn: reduce.fn });
      expect(revive((combine.key as { fn: string }).fn)({ word: 'x' })).to.equal(revive((combine.key as { fn: string }).fn)({ word: 'y' }));
      expect(edgesInto(env, total.id)[0]).to.include({ partition: 'rebalance' });
      expectInvalid(() => total.setParallelism(2), /runs in one instance; groupBy\(\) first/);
      expect(() => total.setParallelism(1)).not.to.throw();
    });

    it('aggregate: a combiner, then batch.aggregate in one instance', () => {
      const { env, words: input } = words();
      const total = input.sum('count').andMax('count');
      total.collect();
      const aggregations = [{ kind: 'sum', field: 'count' }, { kind: 'max', field: 'count' }];
      expect(vertex(env, total.id)).to.deep.include({ operator: 'batch.aggregate', parallelism: 1, aggregations });
      expect(inputOf(env, total.id)).to.deep.include({ operator: 'batch.combine', aggregations });
    });

    it('first(n), minBy and maxBy: per subtask at the input\'s parallelism, then in one instance', () => {
      const { env, words: input } = words();
      const firsts = input.first(5);
      const least = input.minBy('count');
      const most = input.maxBy('count');
      for (const op of [firsts, least, most]) op.collect();
      for (const [op, operator] of [[firsts, 'batch.first'], [least, 'batch.minBy'], [most, 'batch.maxBy']] as const) {
        expect(vertex(env, op.id)).to.include({ operator, parallelism: 1 });
        const local = inputOf(env, op.id);
        expect(local).to.include({ operator }).and.not.to.have.property('parallelism');
        expect(edgesInto(env, local.id)[0]).to.include({ partition: 'forward' });
      }
      expect(vertex(env, firsts.id)).to.include({ n: 5 });
      expect(vertex(env, least.id)).to.include({ field: 'count' });
      expectInvalid(() => input.first(-1), /first\(\): n must be a whole number/);
    });
  });

  describe('join', () => {
    function inputs() {
      const { env, words: input } = words();
      const countries = env.fromElements<Country>({ code: 'nl', name: 'Netherlands' }, { code: 'fr', name: 'France' });
      return { env, input, countries };
    }

    it('broadcasts a small fromElements input unasked: input 2 broadcast, input 1 as it comes', () => {
      const { env, input, countries } = inputs();
      const joined = input.join(countries).where('word').equalTo('code');
      joined.collect();
      expect(vertex(env, joined.id)).to.deep.include({
        operator: 'batch.join', key1: { field: 'word' }, key2: { field: 'code' }, type: 'inner', strategy: 'broadcast-hash',
      });
      expect(vertex(env, joined.id)).not.to.have.property('fn');
      const edges = edgesInto(env, joined.id);
      expect(edges.find((e) => e.input === 1)).to.include({ partition: 'forward' }).and.not.to.have.property('key');
      expect(edges.find((e) => e.input === 2)).to.include({ from: countries.id, partition: 'broadcast' });
    });

    it('sees a small input through maps and filters, but not through a flatMap or past 10 000 records', () => {
      const { env, input, countries } = inputs();
      const through = input.join(countries.filter((c) => c.code !== '').map((c) => c)).where('word').equalTo('code');
      const flat = input.join(countries.flatMap((c) => [c])).where('word').equalTo('code');
      const large = input.join(env.fromCollection(Array.from({ length: 10_001 }, (_, i) => ({ code: String(i) })))).where('word').equalTo('code');
      for (const op of [through, flat, large]) op.collect();
      expect([through, flat, large].map((op) => vertex(env, op.id).strategy)).to.deep.equal(['broadcast-hash', 'sort-merge', 'sort-merge']);
    });

    it('sort-merge otherwise: both inputs hash by their keys', () => {
      const { env, input } = inputs();
      const other = env.readJsonLines<Country>('/data/countries');
      const joined = input.join(other).where('word').equalTo((c) => c.code);
      joined.collect();
      expect(vertex(env, joined.id)).to.include({ strategy: 'sort-merge', type: 'inner' });
      const edges = edgesInto(env, joined.id);
      expect(edges.find((e) => e.input === 1)).to.deep.include({ partition: 'hash', key: { field: 'word' } });
      const second = edges.find((e) => e.input === 2)!;
      expect(second).to.include({ partition: 'hash' });
      expect(revive((second.key as { fn: string }).fn)({ code: 'nl' })).to.equal('nl');
    });

    it('takes a type and a strategy hint, and with(fn) makes the output', () => {
      const { env, input, countries } = inputs();
      const joined = input.join(countries, { type: 'left', strategy: 'repartition-hash' }).where('word').equalTo('code')
        .with(function named(w, c) { return { ...w, country: c.name }; });
      joined.collect();
      const v = vertex(env, joined.id);
      expect(v).to.include({ type: 'left', strategy: 'repartition-hash', name: 'named' });
      expect(revive(v.fn)({ word: 'nl', count: 1 }, { name: 'Netherlands' })).to.deep.equal({ word: 'nl', count: 1, country: 'Netherlands' });
      expect(edgesInto(env, joined.id).map((e) => e.partition)).to.deep.equal(['hash', 'hash']);
    });

    it('outer joins: left may broadcast, right and full never do unasked, and refuse the hint', () => {
      const { env, input, countries } = inputs();
      const left = input.leftOuterJoin(countries).where('word').equalTo('code');
      const right = input.rightOuterJoin(countries).where('word').equalTo('code');
      const full = input.fullOuterJoin(countries, 'repartition-hash').where('word').equalTo('code').with((w, c) => [w?.word, c?.code]);
      for (const op of [left, right, full]) op.collect();
      expect(vertex(env, left.id)).to.include({ type: 'left', strategy: 'broadcast-hash' });
      expect(vertex(env, right.id)).to.include({ type: 'right', strategy: 'sort-merge' });
      expect(vertex(env, full.id)).to.include({ type: 'full', strategy: 'repartition-hash' });
      expectInvalid(() => input.rightOuterJoin(countries, 'broadcast-hash'), /right outer join cannot broadcast its second input/);
      expectInvalid(() => input.join(countries, { type: 'full', strategy: 'broadcast-hash' }), /full outer join cannot broadcast/);
    });

    it('refuses unknown types and strategies, a second with(), bad keys and another environment', () => {
      const { input, countries } = inputs();
      expectInvalid(() => input.join(countries, 'outer' as never), /unknown join type string "outer"/);
      expectInvalid(() => input.join(countries, { strategy: 'nested-loop' as never }), /unknown join strategy "nested-loop"/);
      const joined = input.join(countries).where('word').equalTo('code');
      joined.with((a, b) => [a, b]);
      expectInvalid(() => joined.with((a) => a), /has its function already/);
      expectInvalid(() => input.join(countries).where(undefined as never), /join\(\).where\(\): a key is/);
      expectInvalid(() => input.join(new ExecutionEnvironment().fromElements<Country>()), /same ExecutionEnvironment/);
      const stream = new StreamExecutionEnvironment().fromElements(1);
      expectInvalid(() => input.join(stream as never), /must be a DataSet of the same ExecutionEnvironment/);
    });
  });

  describe('coGroup and cross', () => {
    it('coGroup: both inputs hash by their keys, the keys and function on the vertex', () => {
      const { env, words: input } = words();
      const countries = env.readJsonLines<Country>('/data/countries');
      const grouped = input.coGroup(countries).where('word').equalTo('code').with((ws, cs) => [ws.length + cs.length]);
      grouped.collect();
      const v = vertex(env, grouped.id);
      expect(v).to.deep.include({ operator: 'batch.coGroup', key1: { field: 'word' }, key2: { field: 'code' } });
      expect(revive(v.fn)([1, 2], [3])).to.deep.equal([3]);
      const edges = edgesInto(env, grouped.id);
      expect(edges.find((e) => e.input === 1)).to.deep.include({ partition: 'hash', key: { field: 'word' } });
      expect(edges.find((e) => e.input === 2)).to.deep.include({ partition: 'hash', key: { field: 'code' } });
      expectInvalid(() => input.coGroup(countries).where('word').equalTo('code').with(undefined as never), /coGroup\(\).with\(\) expects a function/);
    });

    it('cross: input 1 as it comes, input 2 broadcast; pairs, or with(fn)', () => {
      const { env, words: input } = words();
      const sizes = env.fromElements(1, 2);
      const pairs = input.cross(sizes);
      const products = input.cross(sizes).with((w, n) => w.count * n);
      pairs.collect(); products.collect();
      expect(vertex(env, pairs.id)).to.include({ operator: 'batch.cross' }).and.not.to.have.property('fn');
      expect(revive(vertex(env, products.id).fn)({ count: 3 }, 2)).to.equal(6);
      const edges = edgesInto(env, pairs.id);
      expect(edges.find((e) => e.input === 1)).to.include({ partition: 'forward' });
      expect(edges.find((e) => e.input === 2)).to.include({ from: sizes.id, partition: 'broadcast' });
    });
  });

  describe('sinks and operator settings', () => {
    it('print, writeAsText, writeAsCsv, writeAsJsonLines and collect', () => {
      const { env, words: input } = words();
      const sinks = [
        input.print('> '), input.writeAsText('/out/text'), input.writeAsCsv('/out/csv', { fields: ['word', 'count'], header: true, delimiter: '\t' }),
        input.writeAsJsonLines('/out/json'), input.collect().name('result').setParallelism(1),
      ];
      const [print, text, csv, json, collect] = sinks.map((sink) => vertex(env, sink.id));
      expect(print).to.include({ operator: 'sink.print', prefix: '> ' });
      expect(text).to.include({ operator: 'sink.textFile', path: '/out/text' });
      expect(csv).to.deep.include({ operator: 'sink.csv', path: '/out/csv', fields: ['word', 'count'], header: true, delimiter: '\t' });
      expect(json).to.include({ operator: 'sink.jsonLines', path: '/out/json' });
      expect(collect).to.include({ operator: 'sink.collect', name: 'result', parallelism: 1 });
    });

    it('refuses empty paths and an empty list of CSV fields', () => {
      const { words: input } = words();
      expectInvalid(() => input.writeAsText(''), /writeAsText\(\) expects a non-empty path/);
      expectInvalid(() => input.writeAsJsonLines(''), /writeAsJsonLines\(\) expects a non-empty path/);
      expectInvalid(() => input.writeAsCsv('/out', { fields: [] }), /fields must name the record fields/);
      expectInvalid(() => input.writeAsCsv('/out', { fields: [''] }), /each field is a non-empty name/);
      expectInvalid(() => input.writeAsCsv('', { fields: ['word'] }), /non-empty path/);
    });

    it('name, setParallelism and withParameters apply to the operator\'s vertex', () => {
      const env = new ExecutionEnvironment();
      const mapped = env.fromElements(1).map((x: number) => x * params.factor).name('scale').setParallelism(2).withParameters({ factor: 3 });
      mapped.collect();
      expect(vertex(env, mapped.id)).to.deep.include({ name: 'scale', parallelism: 2, params: { factor: 3 } });
      expect(mapped.getParallelism()).to.equal(2);
      expectInvalid(() => mapped.setParallelism(0), /positive integer/);
    });
  });

  describe('iterate (a bulk iteration, unrolled)', () => {
    it('applies the step once per round, to the result of the round before, with the round number', () => {
      const env = new ExecutionEnvironment();
      const seen: number[] = [];
      const result = env.fromElements(1, 2).iterate(3, (partial, round) => {
        seen.push(round);
        return partial.map((x: number) => x * 2).name(`double-${round}`);
      });
      result.collect();
      expect(seen).to.deep.equal([0, 1, 2]);
      const descriptor = descriptorOf(env);
      expect(descriptor.vertices.map((v) => v.name ?? v.operator)).to.deep.equal(['source.elements', 'double-0', 'double-1', 'double-2', 'sink.collect']);
      expect(descriptor.edges.map((e) => [e.from, e.to])).to.deep.equal(
        descriptor.vertices.slice(0, -1).map((v, i) => [v.id, descriptor.vertices[i + 1]!.id]));
    });

    it('lets a round read a DataSet from outside the iteration, every round', () => {
      const env = new ExecutionEnvironment();
      const links = env.fromElements({ page: 1, to: 2 });
      env.fromElements({ page: 1, rank: 1 }).iterate(2, (ranks) => ranks.join(links).where('page').equalTo('page').with((r) => r)).collect();
      const descriptor = descriptorOf(env);
      const linksId = descriptor.vertices[0]!.id;
      expect(descriptor.edges.filter((e) => e.from === linksId)).to.have.length(2);
    });

    it('refuses a round count that is not 1 to 100, and a step that does not return a DataSet of this environment', () => {
      const env = new ExecutionEnvironment();
      const input = env.fromElements(1);
      for (const rounds of [0, -1, 1.5, 101, Number.NaN]) expectInvalid(() => input.iterate(rounds, (p) => p), /iterate\(\): rounds must be a whole number from 1 to 100/);
      expectInvalid(() => input.iterate(2, (() => [1]) as never), /the step of round 1 must return a DataSet of the same ExecutionEnvironment, got/);
      const other = new ExecutionEnvironment().fromElements(2);
      expectInvalid(() => input.iterate(2, (p, round) => (round === 1 ? other : p)), /round 2 .* got one of another environment/);
      expectInvalid(() => input.iterate(2, 'step' as never), /step must be a function/);
    });
  });

  it('a whole word-count-and-join job validates as one descriptor', () => {
    const env = new ExecutionEnvironment(undefined, { parallelism: 4, memoryPerSlotMb: 64 });
    const counts = env.readTextFile('/in').flatMap((line: string) => line.split(' ')).map((word) => ({ word, count: 1 }))
      .groupBy('word').sum('count');
    const stop = env.fromElements({ word: 'the' }, { word: 'a' });
    counts.leftOuterJoin(stop).where('word').equalTo('word').with((c, s) => ({ ...c, stop: s !== null }))
      .filter((c) => !c.stop).sortPartition('count', 'desc').setParallelism(1).first(10)
      .writeAsCsv('/out/top.csv', { fields: ['word', 'count'], header: true });
    const descriptor = descriptorOf(env);
    expect(descriptor.vertices.map((v) => v.operator)).to.deep.equal([
      'source.textFile', 'flatMap', 'map', 'batch.combine', 'batch.aggregate', 'source.elements', 'batch.join', 'filter', 'batch.sortPartition',
      'batch.first', 'batch.first', 'sink.csv',
    ]);
  });
});
