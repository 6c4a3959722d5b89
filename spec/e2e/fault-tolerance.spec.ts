import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Objm } from '@nats-io/obj';
import { ExecutionEnvironment } from '../../lib/api/index.ts';
import { shuffleBucket } from '../../lib/shuffle/index.ts';
import { ClusterClient } from '../../lib/client/index.ts';
import type { LocalCluster } from '../../lib/cluster/local.ts';
import type { JobStateEvent, LifecycleEvent } from '../../lib/events/types.ts';
import { runCli } from '../helpers/cli.ts';
import { clusterFlags, e2eConfig, expectRegionFailover, startProcessCluster } from '../helpers/cluster.ts';
import { checkCounting } from '../helpers/counting.ts';
import { eventually, startNats, type TestNats } from '../helpers/nats.ts';
import { prng } from '../helpers/random.ts';

const EVENTS = 1_000_000;
const KEYS = 1000;
/** Paced so that a kill lands while the job runs (about 4 s), with a checkpoint every 500 ms. */
const RATE = 250_000;

describe('exactly-once through failures (real processes, kill -9)', function () {
  this.timeout(240_000);
  let nats: TestNats;
  let cluster: LocalCluster;
  let client: ClusterClient;
  let dir: string;
  const flags = (): string[] => clusterFlags(nats.url, 'ft');
  /** The Task Manager a case killed: started again after the case, whatever it showed. */
  let killed: string | undefined;

  before(async () => {
    nats = await startNats();
    // 2 TMs × 2 slots for a job of parallelism 4, as the issue asks: a killed TM is replaced at
    // once (as a supervisor would), and the job waits for its slots, then restores.
    cluster = await startProcessCluster(nats.url, 'ft', 2, 2);
    client = await ClusterClient.connect(e2eConfig(nats.url, 'ft'));
    dir = mkdtempSync(join(tmpdir(), 'cloudflink-ft-'));
  });

  after(async () => {
    await client?.close();
    await cluster?.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** kill -9 of a Task Manager, and a replacement with the same id started at once. */
  async function killTaskManager(tmId: string): Promise<void> {
    cluster.taskManagers.get(tmId)!.kill('SIGKILL');
    killed = tmId;
    await cluster.startTaskManager(tmId);
  }

  afterEach(async () => {
    if (!killed) return;
    killed = undefined;
    await eventually(async () => (await client.cluster()).taskManagers.length === 2, 'both task managers registered again');
  });

  /** Starts the keyed counting job through the CLI; resolves with its id once it runs, and its end. */
  async function startCounting(output: string, options: { parallelism?: number; mode?: string; rate?: number; savepoint?: string } = {}) {
    const args = ['run', 'scripts/examples/keyed-counting.ts', '--param', `output=${output}`, '--param', `events=${EVENTS}`,
      '--param', `keys=${KEYS}`, '--param', `rate=${options.rate ?? RATE}`, '--param', `mode=${options.mode ?? 'exactly-once'}`,
      '--parallelism', String(options.parallelism ?? 4), ...(options.savepoint ? ['--from-savepoint', options.savepoint] : []), ...flags()];
    const submitted = await runCli(args);
    expect(submitted.code, submitted.stderr).to.equal(0);
    const jobId = /submitted job (\w+)/.exec(submitted.stdout)![1]!;
    await eventually(async () => (await client.status(jobId)).state === 'RUNNING', 'the job to run');
    return { jobId, ended: client.result(jobId) };
  }

  async function jobEvents(jobId: string): Promise<LifecycleEvent[]> {
    const events: LifecycleEvent[] = [];
    for await (const event of client.events(jobId)) events.push(event);
    return events;
  }

  const transitions = (events: LifecycleEvent[]): string[] =>
    events.filter((e): e is JobStateEvent => e.type === 'job.state').map((e) => `${e.from ?? '∅'}→${e.to}`);

  /** Whether `expected` appears in `list` in this order, one right after the other. */
  const inSequence = (list: string[], expected: string[]): boolean =>
    list.some((_, start) => expected.every((item, i) => list[start + i] === item));

  for (const [run, seed] of [[1, 11], [2, 23], [3, 37]] as const) {
    it(`keeps exact per-key totals when a Task Manager is killed at a random moment (run ${run}, seed ${seed})`, async () => {
      const random = prng(seed);
      const output = join(dir, `tm-kill-${run}`);
      const { jobId, ended } = await startCounting(output);
      await new Promise((r) => setTimeout(r, 300 + random() * 2500));
      const victim = `tm-${1 + Math.floor(random() * 2)}`;
      await killTaskManager(victim);

      const result = await ended;
      expect(result.state, result.cause).to.equal('FINISHED');
      const outcome = checkCounting(output, KEYS, EVENTS / KEYS);
      expect(outcome.duplicates, 'records counted twice').to.equal(0);
      expect(outcome.wrongKeys, 'keys with counts lost or repeated').to.deep.equal([]);
      expect(outcome.lines).to.equal(EVENTS);

      const events = await jobEvents(jobId);
      expect(inSequence(transitions(events), ['RUNNING→FAILING', 'FAILING→RESTARTING', 'RESTARTING→RUNNING']), transitions(events).join(', ')).to.equal(true);
      const failing = events.find((e): e is JobStateEvent => e.type === 'job.state' && e.to === 'FAILING')!;
      expect(failing.cause).to.match(new RegExp(`task manager ${victim} lost`));
      expect(events.some((e) => e.type === 'checkpoint.completed')).to.equal(true);
    });
  }

  it('keeps exact totals when the Job Manager is killed with kill -9 and started again', async () => {
    const output = join(dir, 'jm-kill');
    const { jobId } = await startCounting(output);
    await new Promise((r) => setTimeout(r, 1500));
    cluster.jobManager.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    cluster.startJobManager();
    const result = await eventually(async () => {
      const status = await client.status(jobId);
      return ['FINISHED', 'FAILED', 'CANCELED'].includes(status.state) ? status : undefined;
    }, 'the resumed job to end', 300, 100);
    expect(result.state, result.cause).to.equal('FINISHED');
    const outcome = checkCounting(output, KEYS, EVENTS / KEYS);
    expect(outcome.duplicates).to.equal(0);
    expect(outcome.wrongKeys).to.deep.equal([]);
    const seen = transitions(await jobEvents(jobId));
    expect(inSequence(seen, ['RUNNING→RESTARTING', 'RESTARTING→RUNNING']), seen.join(', ')).to.equal(true);
    expect(seen.at(-1)).to.equal('RUNNING→FINISHED');
  });

  for (const resumeAt of [4, 1]) {
    it(`resumes a savepoint taken at parallelism 2 at parallelism ${resumeAt} with the totals of an unbroken run`, async () => {
      const output = join(dir, `savepoint-${resumeAt}`);
      const first = await startCounting(output, { parallelism: 2 });
      await new Promise((r) => setTimeout(r, 1000));
      const stop = await runCli(['stop', first.jobId, '--savepoint', ...flags()]);
      expect(stop.code, stop.stderr).to.equal(0);
      const savepoint = /^savepoint (\S+)/m.exec(stop.stdout)![1]!;
      expect((await first.ended).state).to.equal('FINISHED');
      const partial = checkCounting(output, KEYS, EVENTS / KEYS);
      expect(partial.lines).to.be.within(1, EVENTS - 1);

      const second = await startCounting(output, { parallelism: resumeAt, rate: 1_000_000, savepoint });
      expect((await second.ended).state).to.equal('FINISHED');
      const outcome = checkCounting(output, KEYS, EVENTS / KEYS);
      expect(outcome.duplicates).to.equal(0);
      expect(outcome.wrongKeys).to.deep.equal([]);
    });
  }

  it('in at-least-once mode, never loses a count through a kill (totals at least the expected)', async () => {
    const output = join(dir, 'at-least-once');
    const { ended } = await startCounting(output, { mode: 'at-least-once' });
    await new Promise((r) => setTimeout(r, 1200));
    await killTaskManager('tm-2');
    expect((await ended).state).to.equal('FINISHED');
    const outcome = checkCounting(output, KEYS, EVENTS / KEYS);
    for (const [key, total] of outcome.totals) expect(total, `key ${key}`).to.be.at.least(EVENTS / KEYS);
  });

  it('fails the job with the chain of causes when the restart strategy gives up', async () => {
    const file = join(dir, 'gives-up.json');
    writeFileSync(file, JSON.stringify({
      apiVersion: 'cloudflink/v1', name: 'gives-up', parallelism: 1,
      restartStrategy: { type: 'fixed-delay', attempts: 2, delayMs: 50 },
      vertices: [
        { id: 'numbers', operator: 'source.elements', elements: [1, 2, 3] },
        { id: 'check', name: 'refuseThree', operator: 'map', fn: '(n) => { if (n === 3) throw new Error("three is not allowed"); return n; }' },
        { id: 'out', operator: 'sink.collect' },
      ],
      edges: [{ from: 'numbers', to: 'check' }, { from: 'check', to: 'out' }],
    }));
    const run = await runCli(['run', file, '--wait', ...flags()]);
    expect(run.code).to.equal(1);
    const cause = /gives-up\) FAILED in [\d.]+ s: (.*)$/m.exec(run.stderr)![1]!;
    expect(cause.match(/three is not allowed/g)).to.have.length(3);
    expect(cause).to.match(/; then: /);
    expect(cause).to.match(/gave up after 2 restarts \(fixed-delay\)/);
    expect(run.stderr).to.match(/FAILING → RESTARTING/);
  });
});

describe('exactly-once with checkpoints in JetStream (Object Store and KV)', function () {
  this.timeout(120_000);
  let nats: TestNats;
  let cluster: LocalCluster;
  let client: ClusterClient;
  let dir: string;
  const previous = process.env.CLOUDFLINK_CHECKPOINT_STORAGE;

  before(async () => {
    nats = await startNats();
    // The node processes read their configuration from the environment they inherit.
    process.env.CLOUDFLINK_CHECKPOINT_STORAGE = 'jetstream';
    cluster = await startProcessCluster(nats.url, 'ftjs', 3, 2);
    client = await ClusterClient.connect(e2eConfig(nats.url, 'ftjs'));
    dir = mkdtempSync(join(tmpdir(), 'cloudflink-ftjs-'));
  });

  after(async () => {
    if (previous === undefined) delete process.env.CLOUDFLINK_CHECKPOINT_STORAGE;
    else process.env.CLOUDFLINK_CHECKPOINT_STORAGE = previous;
    await client?.close();
    await cluster?.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('restores from JetStream after a Task Manager is killed, with exact totals', async () => {
    const output = join(dir, 'out');
    const submitted = await runCli(['run', 'scripts/examples/keyed-counting.ts', '--param', `output=${output}`, '--param', `events=${EVENTS}`,
      '--param', `keys=${KEYS}`, '--param', `rate=${RATE}`, '--parallelism', '4', ...clusterFlags(nats.url, 'ftjs')]);
    const jobId = /submitted job (\w+)/.exec(submitted.stdout)![1]!;
    await eventually(async () => (await client.status(jobId)).state === 'RUNNING', 'the job to run');
    await new Promise((r) => setTimeout(r, 1500));
    cluster.taskManagers.get('tm-2')!.kill('SIGKILL');
    const result = await client.result(jobId);
    expect(result.state, result.cause).to.equal('FINISHED');
    const outcome = checkCounting(output, KEYS, EVENTS / KEYS);
    expect(outcome.duplicates).to.equal(0);
    expect(outcome.wrongKeys).to.deep.equal([]);
    const completed: LifecycleEvent[] = [];
    for await (const event of client.events(jobId)) if (event.type === 'checkpoint.completed') completed.push(event);
    expect(completed.length).to.be.greaterThan(0);
    for (const event of completed) expect((event as { pointer: string }).pointer).to.match(/^jetstream:\/\/CF_CHECKPOINTS_cf_ftjs\//);
  });

  it('runs a batch job whose stages exchange through the JetStream object store, re-runs a failed region from it, and deletes it at the end', async () => {
    const marker = join(dir, 'threw-once');
    const env = new ExecutionEnvironment(client, { parallelism: 4, params: { marker } });
    env.setRestartStrategy({ type: 'fixed-delay', attempts: 1, delayMs: 0 });
    const words = env.generateSequence(0, 9_999).map((i: number) => ({ word: `w${i % 97}`, n: 1 }));
    words.groupBy('word').reduceGroup((records: { word: string; n: number }[], word: unknown) => {
      // Throws the first time it runs anywhere, in one subtask only: creating the marker file is atomic.
      const fs = process.getBuiltinModule('node:fs');
      let first = true;
      try {
        fs.writeFileSync(params.marker as string, 'thrown', { flag: 'wx' });
      } catch {
        first = false;
      }
      if (first) throw new Error('a transient failure');
      return [[word, records.length]];
    }).collect();
    const handle = await env.execute('batch-jetstream-shuffle');
    const result = await handle.result();
    expect(result.state, result.cause).to.equal('FINISHED');
    const counts = Object.values(result.collected).flat() as [string, number][];
    expect(counts).to.have.length(97);
    expect(counts.reduce((sum, [, n]) => sum + n, 0)).to.equal(10_000);
    const { failovers } = await expectRegionFailover(handle, /a transient failure/);
    expect(failovers).to.have.length(1);
    const transport = await nats.connect();
    try {
      const os = await new Objm(transport.connection).open(shuffleBucket('cf.ftjs'));
      await eventually(async () => !(await os.list()).some((o) => o.name.startsWith(`${handle.jobId}/`)), 'the partitions deleted');
    } finally {
      await transport.close();
    }
  });
});
