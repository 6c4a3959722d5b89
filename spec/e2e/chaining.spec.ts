import { expect } from 'chai';
import { StreamExecutionEnvironment } from '../../lib/api/index.ts';
import { ClusterClient } from '../../lib/client/index.ts';
import type { JobResult, VertexMetrics } from '../../lib/client/types.ts';
import type { LocalCluster } from '../../lib/cluster/local.ts';
import { isChained } from '../../lib/descriptor/graph.ts';
import { validateDescriptor, type ResolvedJob } from '../../lib/descriptor/index.ts';
import { useProcessCluster } from '../helpers/cluster.ts';
import { range, type TestNats } from '../helpers/nats.ts';
import { prng } from '../helpers/random.ts';

interface Input { id: number; word: string; n: number }

/** Constants of the job's functions; they travel as params, and the reference reads them too. */
interface Knobs { scale: number; mod: number; copies: number }

function randomJob(seed: number): { input: Input[]; knobs: Knobs } {
  const random = prng(seed);
  const words = range(5 + Math.floor(random() * 20)).map((i) => `w${i}`);
  const input = range(4000 + Math.floor(random() * 4000)).map((id) => ({ id, word: words[Math.floor(random() * words.length)]!, n: Math.floor(random() * 100) }));
  return { input, knobs: { scale: 1 + Math.floor(random() * 5), mod: 2 + Math.floor(random() * 5), copies: 2 + Math.floor(random() * 3) } };
}

/**
 * The job as a plain loop: the same steps, written out without the engine. The keyed count
 * emits `key:1`, `key:2`, … per key, whatever order its records come in, so at any
 * parallelism the multiset of outputs is fixed; at parallelism 1 so is their order.
 */
function reference(input: Input[], knobs: Knobs): string[] {
  const counts = new Map<string, number>();
  const out: string[] = [];
  for (const record of input) {
    const n = record.n * knobs.scale + (record.id % 7);
    if (n % knobs.mod === 0) continue;
    for (let j = 0; j < n % knobs.copies; j++) {
      const key = `${record.word}-${j % 2}`;
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      out.push(`${key}:${count}`);
    }
  }
  return out;
}

/** source → map → filter → flatMap → keyBy → reduce → map → collect, with vertex ids to find them by. */
function buildJob(env: StreamExecutionEnvironment, input: Input[], knobs: Knobs): void {
  env.fromCollection(input, { uid: 'numbers' })
    .map(function enrich(r: Input) { return { word: r.word, n: r.n * params.scale + (r.id % 7) }; }, { uid: 'enrich', params: { ...knobs } })
    .filter(function keep(r: { n: number }) { return r.n % params.mod !== 0; }, { uid: 'keep', params: { ...knobs } })
    .flatMap(function split(r: { word: string; n: number }) {
      return Array.from({ length: r.n % params.copies }, (_, j) => [`${r.word}-${j % 2}`, 1] as [string, number]);
    }, { uid: 'split', params: { ...knobs } })
    .keyBy(0)
    .reduce(function count(a: [string, number], b: [string, number]) { return [a[0], a[1] + b[1]] as [string, number]; }, { uid: 'count' })
    .map(function format(pair: [string, number]) { return `${pair[0]}:${pair[1]}`; }, { uid: 'format' })
    .collect({ uid: 'out' });
}

/** Every vertex behind a forward edge of equal parallelism: chained unless chaining is off. */
const CHAINED = [['numbers', 'enrich'], ['enrich', 'keep'], ['keep', 'split'], ['count', 'format'], ['format', 'out']] as const;

describe('operator chaining on a cluster of real processes', function () {
  this.timeout(120_000);
  let nats: TestNats;
  let cluster: LocalCluster;
  let client: ClusterClient;
  useProcessCluster('chaining', 2, 2, (started) => ({ nats, cluster, client } = started));

  async function run(build: (env: StreamExecutionEnvironment) => void, name: string, parallelism: number, chaining: boolean): Promise<JobResult> {
    return (await runWithJob(build, name, parallelism, chaining)).result;
  }

  /** Runs the job; also returns it as the Job Manager resolves it, to ask isChained about its edges. */
  async function runWithJob(build: (env: StreamExecutionEnvironment) => void, name: string, parallelism: number, chaining: boolean) {
    const env = new StreamExecutionEnvironment(client, { parallelism });
    if (!chaining) env.disableOperatorChaining();
    build(env);
    const validation = validateDescriptor(JSON.parse(JSON.stringify(env.getDescriptor(name))));
    if (!validation.ok) expect.fail(JSON.stringify(validation.issues));
    const job: ResolvedJob = validation.job;
    return { job, result: await (await env.execute(name)).result() };
  }

  const vertex = (result: JobResult, id: string): VertexMetrics => result.vertices.find((v) => v.vertexId === id)!;

  for (const [seed, parallelism] of [[1, 1], [2, 4], [3, 4]] as const) {
    it(`gives the plain loop's results with chaining on and off (seed ${seed}, parallelism ${parallelism})`, async () => {
      const { input, knobs } = randomJob(seed);
      const expected = reference(input, knobs);
      // One after the other: at parallelism 4 each job takes every slot.
      const { result: on, job } = await runWithJob((env) => buildJob(env, input, knobs), `chaining-${seed}-on`, parallelism, true);
      const off = await run((env) => buildJob(env, input, knobs), `chaining-${seed}-off`, parallelism, false);
      for (const [label, result] of [['on', on], ['off', off]] as const) {
        expect(result.state, `chaining ${label}: ${result.cause}`).to.equal('FINISHED');
        const got = result.collected.out as string[];
        if (parallelism === 1) expect(got, `chaining ${label}, in order`).to.deep.equal(expected);
        else expect([...got].sort(), `chaining ${label}`).to.deep.equal([...expected].sort());
      }
      expect(expected.length).to.be.greaterThan(1000);

      // Chained: the records came by call. Not chained: in frames.
      for (const [from, to] of CHAINED) {
        expect(vertex(on, to).framesIn, `${to} chained`).to.equal(0);
        expect(vertex(off, to).framesIn, `${to} not chained`).to.be.at.least(parallelism);
        for (const result of [on, off]) {
          expect(vertex(result, to).recordsIn, `${from} → ${to}`).to.equal(vertex(result, from).recordsOut);
          expect(vertex(result, to).framesLost).to.equal(0);
        }
      }
      expect(vertex(on, 'numbers').framesOut, 'a source chained to its only output sends no frame').to.equal(0);
      // The keyed edge: in frames between several subtasks; between single subtasks isChained chains it too.
      const keyed = job.edges.find((e) => e.to === 'count')!;
      expect(keyed.partition).to.equal('hash');
      if (parallelism > 1) expect(isChained(job, keyed)).to.equal(false);
      expect(vertex(on, 'count').framesIn === 0, `count's input chained: ${isChained(job, keyed)}`).to.equal(isChained(job, keyed));
      expect(vertex(on, 'count').recordsIn).to.equal(vertex(on, 'split').recordsOut);
      expect(vertex(on, 'numbers').recordsOut).to.equal(input.length);
    });
  }

  it('chains only where the API allows: disableChaining() and startNewChain() put frames back on those edges', async () => {
    const { input, knobs } = randomJob(4);
    const result = await run((env) => {
      env.fromCollection(input, { uid: 'numbers' })
        .map(function enrich(r: Input) { return { word: r.word, n: r.n * params.scale + (r.id % 7) }; }, { uid: 'enrich', params: { ...knobs } })
        .filter(function keep(r: { n: number }) { return r.n % params.mod !== 0; }, { uid: 'keep', params: { ...knobs } })
        .startNewChain()
        .map(function tag(r: { word: string }) { return r.word; }, { uid: 'tag' })
        .collect({ uid: 'out' })
        .disableChaining();
    }, 'chaining-api', 2, true);
    expect(result.state, result.cause).to.equal('FINISHED');
    expect(vertex(result, 'enrich').framesIn).to.equal(0);
    expect(vertex(result, 'keep').framesIn, 'startNewChain: a chain begins at keep').to.be.greaterThan(0);
    expect(vertex(result, 'tag').framesIn, 'chained to keep').to.equal(0);
    expect(vertex(result, 'out').framesIn, 'disableChaining').to.be.greaterThan(0);
    const kept = input.filter((r) => (r.n * knobs.scale + (r.id % 7)) % knobs.mod !== 0).map((r) => r.word);
    expect([...(result.collected.out as string[])].sort()).to.deep.equal(kept.sort());
  });

  it('hands each record to every chained output of a fan-out, and completes checkpoints through the chain', async () => {
    const env = new StreamExecutionEnvironment(client, { parallelism: 2 });
    env.enableCheckpointing(50);
    // Paced to about a second, so that checkpoints are taken while records flow.
    const incremented = env.generate(20_000, (i: number) => i, { uid: 'numbers', ratePerSecond: 20_000 })
      .map(function inc(x: number) { return x + 1; }, { uid: 'inc' });
    incremented.filter(function even(x: number) { return x % 2 === 0; }, { uid: 'even' }).collect({ uid: 'evens' });
    incremented.collect({ uid: 'all' });
    const handle = await env.execute('chained-fan-out');
    const result = await handle.result();
    expect(result.state, result.cause).to.equal('FINISHED');
    for (const id of ['inc', 'even', 'evens', 'all']) expect(vertex(result, id).framesIn, id).to.equal(0);
    expect([...(result.collected.all as number[])].sort((a, b) => a - b)).to.deep.equal(range(20_000).map((i) => i + 1));
    expect([...(result.collected.evens as number[])].sort((a, b) => a - b)).to.deep.equal(range(10_000).map((i) => 2 * (i + 1)));
    // A checkpoint completes only once every task acknowledged it: the chained ones snapshot on the barrier their upstream hands on.
    let completed = 0;
    for await (const event of handle.events()) if (event.type === 'checkpoint.completed') completed++;
    expect(completed).to.be.greaterThan(0);
  });

  for (const parallelism of [1, 2]) {
    it(`fails the job naming the chained vertex whose function threw, and its record (parallelism ${parallelism})`, async () => {
      // Every vertex after the source is chained: odd (a filter), square, then check, which throws.
      const result = await run((env) => {
        env.fromCollection(range(40).map((i) => i + 1), { uid: 'numbers' })
          .filter(function odd(x: number) { return x % 2 === 1; }, { uid: 'odd' })
          .map(function square(x: number) { return x * x; }, { uid: 'square' })
          .map(function check(x: number) {
            if (x === 49) throw new Error('forty-nine is not allowed');
            return x;
          }, { uid: 'check' })
          .collect({ uid: 'out' });
      }, `chained-failure-${parallelism}`, parallelism, true);
      expect(result.state).to.equal('FAILED');
      const cause = result.cause ?? '';
      // 49 is the 4th record check sees at parallelism 1 (1, 9, 25, 49); filter and map saw other counts.
      const position = parallelism === 1 ? 'record #4 of subtask 1/1' : 'record #\\d+ of subtask \\d/2';
      expect(cause).to.match(new RegExp(`map 'check' failed on ${position}: forty-nine is not allowed; the record: number 49`));
      expect(cause).not.to.match(/'odd' failed|'square' failed/);
    });
  }
});
