import { expect } from 'chai';
import { startJobManager, type JobManagerNode } from '../../../actors/job-manager/index.ts';
import { startTaskManager, type TaskManagerNode } from '../../../actors/task-manager/index.ts';
import { StreamExecutionEnvironment } from '../../../lib/api/index.ts';
import { ClusterClient } from '../../../lib/client/index.ts';
import { loadConfig, subjectBase, type CloudflinkConfig } from '../../../lib/config/index.ts';
import { ClusterFullError } from '../../../lib/errors/index.ts';
import type { LifecycleEvent, TaskManagerEvent } from '../../../lib/events/types.ts';
import type { NatsTransport } from '../../../lib/transport/index.ts';
import { eventually, range, startNats, type TestNats } from '../../helpers/nats.ts';
import { unhandledRejectionsDuring } from '../../helpers/unhandled.ts';

const HEARTBEAT = { intervalMs: 100, timeoutMs: 600 };

describe('task manager membership', () => {
  let nats: TestNats;
  let watcher: NatsTransport;
  // Everything a test starts, stopped after it (newest first) even when it fails half-way.
  let stops: (() => Promise<void>)[] = [];

  before(async () => {
    nats = await startNats({ jetstream: true });
    watcher = await nats.connect();
  });
  afterEach(async () => {
    for (const stop of stops.reverse()) await stop();
    stops = [];
  });
  after(async () => {
    await watcher.close();
    await nats.stop();
  });

  function configFor(id: string): CloudflinkConfig {
    return loadConfig({
      env: {},
      overrides: {
        cluster: { id },
        nats: { servers: [nats.url] },
        heartbeat: HEARTBEAT,
        jobManager: { slotWaitMs: 10_000 },
        log: { level: 'silent' },
      },
    });
  }

  async function jobManager(config: CloudflinkConfig): Promise<JobManagerNode> {
    const node = await startJobManager({ config });
    stops.push(() => node.stop());
    return node;
  }

  async function taskManager(config: CloudflinkConfig, tmId: string, slots = 2): Promise<TaskManagerNode> {
    const node = await startTaskManager({ config, tmId, slots });
    stops.push(() => node.stop());
    return node;
  }

  async function client(config: CloudflinkConfig): Promise<ClusterClient> {
    const c = await ClusterClient.connect(config);
    stops.push(() => c.close());
    return c;
  }

  /** Task Manager events of one cluster, as they are published from now on, with the subject each came on. */
  async function watchTaskManagers(config: CloudflinkConfig): Promise<(TaskManagerEvent & { subject: string })[]> {
    const seen: (TaskManagerEvent & { subject: string })[] = [];
    const sub = watcher.subscribe(`${subjectBase(config)}.events.tm.*`, (msg) => {
      const event = JSON.parse(new TextDecoder().decode(msg.data)) as LifecycleEvent;
      if (event.type === 'tm.registered' || event.type === 'tm.lost' || event.type === 'tm.refused') seen.push({ ...event, subject: msg.subject });
    });
    stops.push(async () => sub.unsubscribe());
    await watcher.flush();
    return seen;
  }

  /** A bounded word count; FINISHED with the right totals means the cluster really runs jobs. */
  async function runWordCount(c: ClusterClient, parallelism: number): Promise<void> {
    const env = new StreamExecutionEnvironment(c, { parallelism });
    const sink = env.fromElements('a b a', 'c a b', 'b a')
      .flatMap(function split(line: string) { return line.split(' ').map((w) => [w, 1] as [string, number]); })
      .keyBy(0)
      .sum(1)
      .collect();
    const result = await (await env.execute('membership-wordcount')).result();
    expect(result.state, result.cause).to.equal('FINISHED');
    const totals = new Map((result.collected[sink.id] as [string, number][]).map(([w, n]) => [w, n]));
    expect(Object.fromEntries(totals)).to.deep.equal({ a: 4, b: 3, c: 1 });
  }

  it('lets a task manager started before the job manager wait, then register when it starts', async () => {
    const config = configFor('m-early');
    const tmEvents = await watchTaskManagers(config);
    const tm = await taskManager(config, 'early-tm');
    let outcome: unknown;
    void tm.registration.then((o) => { outcome = o; });

    // Several heartbeat intervals with no job manager: it keeps waiting instead of giving up.
    await new Promise((r) => setTimeout(r, 6 * HEARTBEAT.intervalMs));
    expect(outcome).to.equal(undefined);

    const jm = await jobManager(config);
    expect(await tm.registration).to.deep.equal({ ok: true });
    const view = await (await client(config)).cluster();
    expect(view.jobManagerId).to.equal(jm.id);
    expect(view.taskManagers.map((t) => ({ tmId: t.tmId, slots: t.slots }))).to.deep.equal([{ tmId: 'early-tm', slots: 2 }]);
    await eventually(() => tmEvents.find((e) => e.type === 'tm.registered' && e.tmId === 'early-tm'), 'tm.registered');
  });

  it('stops cleanly while its registration is still unanswered (a job manager that hangs)', async () => {
    const config = configFor('m-hung-jm');
    // Something answers nothing on the job manager's subject: a job manager whose event loop is stuck.
    const asks: string[] = [];
    const sub = watcher.subscribe(`${subjectBase(config)}.jm`, (msg) => { if (msg.reply) asks.push(msg.subject); });
    stops.push(async () => sub.unsubscribe());
    await watcher.flush();

    const tm = await taskManager(config, 'patient-tm');
    await eventually(() => asks.length > 0, 'the registration request');
    const unhandled = await unhandledRejectionsDuring(() => tm.stop());
    expect(unhandled, 'unhandled rejections after stop()').to.deep.equal([]);
  });

  it('refuses the 11th task manager with ClusterFullError and a tm.refused event', async () => {
    const config = configFor('m-full');
    await jobManager(config);
    const tms: TaskManagerNode[] = [];
    for (const i of range(10)) tms.push(await taskManager(config, `full-tm-${i}`, 1));
    for (const tm of tms) expect(await tm.registration, tm.tmId).to.deep.equal({ ok: true });

    const tmEvents = await watchTaskManagers(config);
    const eleventh = await taskManager(config, 'full-tm-10', 1);
    const outcome = await eleventh.registration;
    expect(outcome.ok).to.equal(false);
    const { error } = outcome as Extract<typeof outcome, { ok: false }>;
    expect(error).to.be.instanceOf(ClusterFullError);
    expect(error.code).to.equal('CLUSTER_FULL');
    expect(error.message).to.match(/10 task managers/);

    const refused = await eventually(
      () => tmEvents.find((e) => e.type === 'tm.refused' && e.tmId === 'full-tm-10'), 'a tm.refused event for full-tm-10');
    expect(refused.subject).to.equal(`${subjectBase(config)}.events.tm.full-tm-10`);
    expect(refused.cause).to.match(/10 task managers/);
    expect(refused.slots).to.equal(1);

    const view = await (await client(config)).cluster();
    expect(view.taskManagers).to.have.length(10);
    expect(view.taskManagers.map((t) => t.tmId)).not.to.include('full-tm-10');
    expect(view.totalSlots).to.equal(10);
  });

  it('stops asking once refused: one tm.refused event, not one per heartbeat', async () => {
    const config = configFor('m-full-quiet');
    await jobManager(config);
    for (const i of range(10)) expect(await (await taskManager(config, `quiet-tm-${i}`, 1)).registration).to.deep.equal({ ok: true });

    const tmEvents = await watchTaskManagers(config);
    const eleventh = await taskManager(config, 'quiet-tm-10', 1);
    expect((await eleventh.registration).ok).to.equal(false);
    // Ten heartbeat intervals after the refusal.
    await new Promise((r) => setTimeout(r, 10 * HEARTBEAT.intervalMs));
    expect(tmEvents.filter((e) => e.type === 'tm.refused')).to.have.length(1);
  });

  it('declares a silent task manager lost: tm.lost, its job FAILED naming it, its slots gone', async () => {
    const config = configFor('m-lost');
    await jobManager(config);
    const tmA = await taskManager(config, 'lost-tm-a');
    const tmB = await taskManager(config, 'lost-tm-b');
    for (const tm of [tmA, tmB]) expect(await tm.registration).to.deep.equal({ ok: true });
    const c = await client(config);
    await eventually(async () => (await c.cluster()).freeSlots === 4, 'four free slots');
    const tmEvents = await watchTaskManagers(config);

    const env = new StreamExecutionEnvironment(c, { parallelism: 4 });
    env.generate(1e9).filter(function none() { return false; }).collect();
    const handle = await env.execute('endless');
    await eventually(async () => {
      const status = await handle.status();
      return status.state === 'RUNNING' && status.vertices[0]!.recordsOut > 0;
    }, 'the job to run on both task managers');

    // The node goes away without a word to the job manager: only its heartbeats stop.
    await tmB.stop();

    const lost = await eventually(() => tmEvents.find((e) => e.type === 'tm.lost'), 'a tm.lost event');
    expect(lost.tmId).to.equal('lost-tm-b');
    expect(lost.subject).to.equal(`${subjectBase(config)}.events.tm.lost-tm-b`);
    expect(lost.slots).to.equal(2);
    const result = await handle.result();
    expect(result.state).to.equal('FAILED');
    expect(result.cause).to.include('lost-tm-b');

    const view = await c.cluster();
    expect(view.taskManagers.map((t) => t.tmId)).to.deep.equal(['lost-tm-a']);
    expect(view.totalSlots).to.equal(2);
    expect(view.freeSlots).to.equal(2);
    expect(tmA.runningTasks).to.equal(0);
    expect(tmEvents.filter((e) => e.type === 'tm.lost').map((e) => e.tmId)).to.deep.equal(['lost-tm-b']);

    // The survivor still runs jobs that fit.
    await runWordCount(c, 2);
  });

  it('re-registers the live task managers with a new job manager on the same cluster id, which then runs a job', async () => {
    const config = configFor('m-restart');
    const first = await jobManager(config);
    const tms = [await taskManager(config, 'restart-tm-a'), await taskManager(config, 'restart-tm-b')];
    for (const tm of tms) expect(await tm.registration).to.deep.equal({ ok: true });
    const c = await client(config);
    await runWordCount(c, 4);
    // A job of the first job manager still runs on every slot when it goes away.
    const env = new StreamExecutionEnvironment(c, { parallelism: 4 });
    env.generate(1e9).filter(function none() { return false; }).collect();
    const orphan = await env.execute('orphan');
    await eventually(async () => (await orphan.status()).state === 'RUNNING', 'the orphan job to run');
    expect(tms.map((tm) => tm.runningTasks)).to.deep.equal([6, 6]);

    await first.stop();
    const second = await jobManager(config);
    expect(second.id).not.to.equal(first.id);

    const view = await eventually(async () => {
      const v = await c.cluster();
      return v.taskManagers.length === 2 ? v : undefined;
    }, 'both task managers registered with the new job manager');
    expect(view.jobManagerId).to.equal(second.id);
    expect(view.taskManagers.map((t) => t.tmId).sort()).to.deep.equal(['restart-tm-a', 'restart-tm-b']);
    // The new job manager takes over the job the old one was running: it runs again, on new tasks.
    await eventually(async () => {
      const status = await orphan.status();
      return status.state === 'RUNNING' && status.vertices[0]!.recordsOut > 0;
    }, 'the job resumed by the new job manager').catch(async (error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(await orphan.status())}`);
    });
    await orphan.cancel();
    expect((await orphan.result()).state).to.equal('CANCELED');
    await eventually(async () => (await c.cluster()).freeSlots === 4, 'every slot free again');
    await eventually(() => tms.every((tm) => tm.runningTasks === 0), 'no task left running');

    await runWordCount(c, 4);
  });
});
