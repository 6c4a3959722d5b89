import { expect } from 'chai';
import { StreamExecutionEnvironment } from '../../lib/api/index.ts';
import { ClusterClient } from '../../lib/client/index.ts';
import type { JobResult, VertexMetrics } from '../../lib/client/types.ts';
import type { LocalCluster } from '../../lib/cluster/local.ts';
import type { JobDescriptor } from '../../lib/descriptor/index.ts';
import { useProcessCluster } from '../helpers/cluster.ts';
import { range, type TestNats } from '../helpers/nats.ts';
import { prng } from '../helpers/random.ts';

interface Order { id: number; word: string; n: number }

/** Constants of the generators and of fn1/fn2; they travel as params, and the reference reads them too. */
interface Knobs { orders: number; prices: number; a: number; b: number; m: number; words: number; scale: number; copies: number }

function knobsFor(seed: number): Knobs {
  const random = prng(seed);
  const int = (from: number, to: number) => from + Math.floor(random() * (to - from));
  return {
    orders: int(2000, 4000), prices: int(1000, 3000),
    a: int(3, 50), b: int(1, 50), m: int(5, 40), words: int(3, 20), scale: int(2, 9), copies: int(2, 5),
  };
}

// The generators, written out again for the reference: shipped functions take no closures.
const order = (i: number, k: Knobs): Order => ({ id: i, word: `w${(i * k.a + k.b) % k.words}`, n: (i * k.b + k.a) % k.m });
const price = (i: number, k: Knobs): number => ((i * k.scale) % 97) + 0.5;

/**
 * The connected jobs as plain loops. coMap: "A:<word>:<n·scale>" per order, "B:<2·price>" per
 * price. coFlatMap, with the prices broadcast to each of its `copiesOfB` subtasks: per order n mod
 * copies strings "<word>#j", per price the price and its negation when it is above 50.
 */
function reference(k: Knobs, copiesOfB: number): { coMap: string[]; coMapOfOrders: string[]; coFlatMap: unknown[] } {
  const coMapOfOrders = range(k.orders).map((i) => order(i, k)).map((o) => `A:${o.word}:${o.n * k.scale}`);
  const coMap = [...coMapOfOrders, ...range(k.prices).map((i) => `B:${Math.floor(price(i, k) * 2)}`)];
  const coFlatMap: unknown[] = [];
  for (const i of range(k.orders)) {
    const o = order(i, k);
    for (let j = 0; j < o.n % k.copies; j++) coFlatMap.push(`${o.word}#${j}`);
  }
  for (let copy = 0; copy < copiesOfB; copy++) {
    for (const i of range(k.prices)) {
      const x = price(i, k);
      if (x > 50) coFlatMap.push(x, -x);
    }
  }
  return { coMap, coMapOfOrders, coFlatMap };
}

/** A multiset as sorted JSON texts, so that numbers and strings compare alike. */
const multiset = (values: unknown[]): string[] => values.map((v) => JSON.stringify(v)).sort();

/**
 * orders (parallelism pOrders) and prices (pPrices), two streams of different types, connected
 * twice: map into 'co-map' as they are; flatMap into 'co-flat-map' with orders rebalanced and
 * prices broadcast.
 */
function buildJob(env: StreamExecutionEnvironment, k: Knobs, pOrders: number, pPrices: number): void {
  const orders = env.generate(k.orders, function order(i: number) {
    return { id: i, word: `w${(i * params.a + params.b) % params.words}`, n: (i * params.b + params.a) % params.m };
  }, { uid: 'orders', parallelism: pOrders, params: { ...k } });
  const prices = env.generate(k.prices, function price(i: number) { return ((i * params.scale) % 97) + 0.5; },
    { uid: 'prices', parallelism: pPrices, params: { ...k } });
  orders.connect(prices)
    .map(function tagOrder(o: Order) { return `A:${o.word}:${o.n * params.scale}`; }, function tagPrice(x: number) { return `B:${Math.floor(x * 2)}`; },
      { uid: 'co-map', params: { scale: k.scale } })
    .collect({ uid: 'mapped' });
  orders.rebalance().connect(prices.broadcast())
    .flatMap(function split(o: Order) { return Array.from({ length: o.n % params.copies }, (_, j) => `${o.word}#${j}`); },
      function* signs(x: number) { if (x > 50) { yield x; yield -x; } },
      { uid: 'co-flat-map', params: { copies: k.copies } })
    .collect({ uid: 'flat-mapped' });
}

describe('connect with co-map and co-flat-map on a cluster of real processes', function () {
  this.timeout(120_000);
  let nats: TestNats;
  let cluster: LocalCluster;
  let client: ClusterClient;
  useProcessCluster('connect', 2, 2, (started) => ({ nats, cluster, client } = started));

  const vertex = (result: JobResult, id: string): VertexMetrics => result.vertices.find((v) => v.vertexId === id)!;

  for (const [seed, parallelism, pOrders, pPrices] of [[1, 1, 1, 2], [2, 4, 4, 3]] as const) {
    it(`gives the plain loop's results at parallelism ${parallelism} (seed ${seed}; orders at ${pOrders}, prices at ${pPrices})`, async () => {
      const k = knobsFor(seed);
      const expected = reference(k, parallelism);
      const env = new StreamExecutionEnvironment(client, { parallelism });
      buildJob(env, k, pOrders, pPrices);
      const result = await (await env.execute(`connect-${seed}`)).result();
      expect(result.state, result.cause).to.equal('FINISHED');

      const mapped = result.collected.mapped as string[];
      expect(multiset(mapped), 'coMap').to.deep.equal(multiset(expected.coMap));
      expect(multiset(result.collected['flat-mapped']!), 'coFlatMap').to.deep.equal(multiset(expected.coFlatMap));
      // One subtask, and one channel from the orders' one subtask: their records keep their order.
      if (parallelism === 1) expect(mapped.filter((s) => s.startsWith('A:')), 'orders in order').to.deep.equal(expected.coMapOfOrders);

      expect(expected.coFlatMap.length).to.be.greaterThan(1000);
      expect(new Set(expected.coFlatMap.map((v) => typeof v))).to.deep.equal(new Set(['string', 'number']));
      expect(vertex(result, 'co-map')).to.include({ parallelism, recordsIn: k.orders + k.prices, recordsOut: k.orders + k.prices, framesLost: 0 });
      expect(vertex(result, 'co-flat-map')).to.include({
        parallelism, recordsIn: k.orders + k.prices * parallelism, recordsOut: expected.coFlatMap.length, framesLost: 0,
      });
      // Two inputs: never chained, so every record came in a frame.
      for (const id of ['co-map', 'co-flat-map']) expect(vertex(result, id).framesIn, id).to.be.greaterThan(0);
    });
  }

  it('finishes when one input is empty, and when both are', async () => {
    const env = new StreamExecutionEnvironment(client, { parallelism: 2 });
    const numbers = env.generate(100, undefined, { uid: 'numbers' });
    const none = env.fromCollection<string>([], { uid: 'none' });
    numbers.connect(none).map((n) => n + 1, (s) => Number(s)).collect({ uid: 'first-only' });
    none.connect(numbers).flatMap((s) => [s], (n) => [n, n]).collect({ uid: 'second-only' });
    none.connect(none.map((s) => s.length)).map((s) => s, (n) => `${n}`).collect({ uid: 'neither' });
    const result = await (await env.execute('connect-empty')).result();
    expect(result.state, result.cause).to.equal('FINISHED');
    expect([...(result.collected['first-only'] as number[])].sort((x, y) => x - y)).to.deep.equal(range(100).map((i) => i + 1));
    expect(multiset(result.collected['second-only']!)).to.deep.equal(multiset(range(100).flatMap((i) => [i, i])));
    expect(result.collected.neither).to.deep.equal([]);
  });

  it('completes checkpoints while records of both inputs flow, and still gives every result once', async () => {
    const env = new StreamExecutionEnvironment(client, { parallelism: 2 });
    env.enableCheckpointing(50);
    // Paced to about a second, so that barriers reach the two-input operator by both inputs while records flow.
    const evens = env.generate(10_000, (i: number) => 2 * i, { uid: 'evens', ratePerSecond: 10_000 });
    const odds = env.generate(5_000, (i: number) => `${2 * i + 1}`, { uid: 'odds', ratePerSecond: 5_000, parallelism: 1 });
    evens.connect(odds).map((n) => n, (s) => Number(s), { uid: 'co' }).collect({ uid: 'out' });
    const handle = await env.execute('connect-checkpoints');
    const result = await handle.result();
    expect(result.state, result.cause).to.equal('FINISHED');
    const expected = [...range(10_000).map((i) => 2 * i), ...range(5_000).map((i) => 2 * i + 1)].sort((x, y) => x - y);
    expect([...(result.collected.out as number[])].sort((x, y) => x - y)).to.deep.equal(expected);
    let completed = 0;
    for await (const event of handle.events()) if (event.type === 'checkpoint.completed') completed++;
    expect(completed).to.be.greaterThan(0);
  });

  it('fails the job naming the vertex, fn2 and the record when fn2 of a coFlatMap returns a non-iterable', async () => {
    const env = new StreamExecutionEnvironment(client, { parallelism: 1 });
    env.fromElements('a b', 'c').connect(env.fromElements(1, 2, 7, 3))
      .flatMap((line) => line.split(' '), (n) => (n === 7 ? n : [n]) as number[], { uid: 'co', name: 'split-or-wrap' })
      .collect({ uid: 'out' });
    const result = await (await env.execute('connect-failure')).result();
    expect(result.state).to.equal('FAILED');
    expect(result.cause).to.match(
      /coFlatMap 'split-or-wrap' failed on record #\d+ of subtask 1\/1: a coFlatMap function \(fn2\) must return an array or another iterable, not number 7; the record: number 7/);
  });

  it('runs a coFlatMap submitted as a JSON descriptor through ClusterClient.submit', async () => {
    const descriptor = {
      apiVersion: 'cloudflink/v1', name: 'connect-json', parallelism: 2, params: { times: 3 },
      vertices: [
        { id: 'lines', operator: 'source.elements', elements: ['to be or', 'not to be', ''], parallelism: 1 },
        { id: 'numbers', operator: 'source.generator', count: 500, fn: '(i) => i * params.times' },
        { id: 'co', operator: 'coFlatMap', fn1: '(line) => line.split(" ").filter(Boolean)', fn2: 'function* (n) { if (n % 2 === 0) yield n; }' },
        { id: 'out', operator: 'sink.collect', parallelism: 1 },
      ],
      edges: [
        { from: 'numbers', to: 'co', input: 2 },
        { from: 'lines', to: 'co', input: 1, partition: 'broadcast' },
        { from: 'co', to: 'out' },
      ],
    };
    const jobId = await client.submit(JSON.parse(JSON.stringify(descriptor)) as JobDescriptor);
    const result = await client.result(jobId);
    expect(result.state, result.cause).to.equal('FINISHED');
    // The lines are broadcast to both subtasks of 'co'; the numbers forwarded, each once.
    const words = ['to', 'be', 'or', 'not', 'to', 'be'];
    const expected = [...words, ...words, ...range(500).map((i) => i * 3).filter((n) => n % 2 === 0)];
    expect(multiset(result.collected.out!)).to.deep.equal(multiset(expected));
    expect(vertex(result, 'co')).to.include({ recordsIn: 3 * 2 + 500, recordsOut: expected.length });
  });

  it('runs a coMap whose two inputs are one vertex, by two edges with ids of their own', async () => {
    // Flink's ds.connect(ds): each record reaches the operator twice, once by each function.
    const descriptor = {
      apiVersion: 'cloudflink/v1', name: 'connect-self', parallelism: 2,
      vertices: [
        { id: 'numbers', operator: 'source.generator', count: 300 },
        { id: 'co', operator: 'coMap', fn1: '(n) => n', fn2: '(n) => -n - 1' },
        { id: 'out', operator: 'sink.collect' },
      ],
      edges: [
        { id: 'as-first', from: 'numbers', to: 'co', input: 1 },
        { id: 'as-second', from: 'numbers', to: 'co', input: 2, partition: 'rebalance' },
        { from: 'co', to: 'out' },
      ],
    };
    const result = await client.result(await client.submit(descriptor));
    expect(result.state, result.cause).to.equal('FINISHED');
    expect((result.collected.out as number[]).sort((x, y) => x - y)).to.deep.equal(range(600).map((i) => i - 300));
  });
});
