import { readFileSync } from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { expect } from 'chai';
import { startJobManager, type JobManagerNode, type SubmitAnswer } from '../../../actors/job-manager/index.ts';
import { startTaskManager, type TaskManagerNode } from '../../../actors/task-manager/index.ts';
import { ExecutionEnvironment, StreamExecutionEnvironment } from '../../../lib/api/index.ts';
import { ClusterClient } from '../../../lib/client/index.ts';
import { loadConfig, subjectBase, type CloudflinkConfig } from '../../../lib/config/index.ts';
import { ManualClock } from '../../../lib/clock/index.ts';
import type { JobDescriptor } from '../../../lib/descriptor/types.ts';
import { DescriptorInvalidError, JobNotFoundError } from '../../../lib/errors/index.ts';
import { readEvents, type LifecycleEvent, type TaskState } from '../../../lib/events/index.ts';
import type { JobRejectedEvent, JobStateEvent, TaskStateEvent } from '../../../lib/events/types.ts';
import { eventually, range, startNats, type TestNats } from '../../helpers/nats.ts';
import { unhandledRejectionsDuring } from '../../helpers/unhandled.ts';

const HAPPY_TASK_PATH: TaskState[] = ['CREATED', 'SCHEDULED', 'DEPLOYING', 'INITIALIZING', 'RUNNING', 'FINISHED'];

const WORDS = ['to', 'be', 'or', 'not', 'that', 'is', 'the', 'question', 'whether', 'tis', 'nobler', 'in', 'mind', 'suffer'];
// Deterministic lines of 1 to 7 words with skewed counts.
const LINES = range(150).map((i) => range(1 + (i % 7)).map((j) => WORDS[(i * j + j * 3 + i) % WORDS.length]).join(' '));

const WORDCOUNT_JSON = JSON.parse(
  readFileSync(new URL('../../../scripts/examples/wordcount.json', import.meta.url), 'utf8'),
) as JobDescriptor;
const WORDCOUNT_JSON_TOTALS = { to: 2, be: 2, or: 1, not: 1, that: 1, is: 1, the: 1, question: 1 };

interface TestCluster {
  config: CloudflinkConfig;
  jm: JobManagerNode;
  tms: TaskManagerNode[];
  client: ClusterClient;
}

function configFor(natsUrl: string, id: string, slotWaitMs: number): CloudflinkConfig {
  return loadConfig({
    env: {},
    overrides: {
      cluster: { id },
      nats: { servers: [natsUrl] },
      // Nothing here tests loss detection: a generous timeout keeps a busy event loop from losing a TM.
      heartbeat: { intervalMs: 100, timeoutMs: 3000 },
      jobManager: { slotWaitMs },
      log: { level: 'silent' },
    },
  });
}

/** A JM and two TMs of two slots each for the enclosing describe, on its own cluster id. */
function useCluster(getNats: () => TestNats, id: string, slotWaitMs: number): TestCluster {
  const cluster = {} as TestCluster;
  const stops: (() => Promise<void>)[] = [];
  before(async () => {
    cluster.config = configFor(getNats().url, id, slotWaitMs);
    cluster.jm = await startJobManager({ config: cluster.config });
    stops.push(() => cluster.jm.stop());
    cluster.tms = [];
    for (const tmId of [`${id}-tm-a`, `${id}-tm-b`]) {
      const tm = await startTaskManager({ config: cluster.config, tmId, slots: 2 });
      stops.push(() => tm.stop());
      cluster.tms.push(tm);
    }
    cluster.client = await ClusterClient.connect(cluster.config);
    stops.push(() => cluster.client.close());
    for (const tm of cluster.tms) expect(await tm.registration).to.deep.equal({ ok: true });
    await eventually(async () => (await cluster.client.cluster()).freeSlots === 4, 'four free slots');
  });
  after(async () => {
    // Client first, then the TMs, then the JM.
    for (const stop of stops.reverse()) await stop();
  });
  return cluster;
}

async function eventsOf(client: ClusterClient, jobId: string): Promise<LifecycleEvent[]> {
  const events: LifecycleEvent[] = [];
  for await (const event of client.events(jobId)) events.push(event);
  return events;
}

function jobStates(events: LifecycleEvent[]): JobStateEvent[] {
  return events.filter((e): e is JobStateEvent => e.type === 'job.state');
}

/** Task events by `<vertexId>/<subtask>`, in the order they were published. */
function taskHistories(events: LifecycleEvent[]): Map<string, TaskStateEvent[]> {
  const byTask = new Map<string, TaskStateEvent[]>();
  for (const e of events) {
    if (e.type !== 'task.state') continue;
    const key = `${e.vertexId}/${e.subtask}`;
    byTask.set(key, [...(byTask.get(key) ?? []), e]);
  }
  return byTask;
}

/** Every lifecycle event of the cluster, in stream order. */
async function allEvents(client: ClusterClient): Promise<LifecycleEvent[]> {
  const events: LifecycleEvent[] = [];
  for await (const event of readEvents(client.transport.connection, client.subjects, { follow: false })) events.push(event);
  return events;
}

function plainWordCount(lines: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) for (const word of line.split(' ')) counts.set(word, (counts.get(word) ?? 0) + 1);
  return counts;
}

/** The last running sum per key: the key's total once the input has ended. */
function lastPerKey(records: unknown[]): Map<string, number> {
  const totals = new Map<string, number>();
  for (const record of records as [string, number][]) totals.set(record[0], record[1]);
  return totals;
}

describe('job manager', () => {
  let nats: TestNats;
  before(async () => { nats = await startNats({ jetstream: true }); });
  after(async () => { await nats.stop(); });

  describe('running jobs', () => {
    const cluster = useCluster(() => nats, 'jm-run', 30_000);

    async function wordCount(parallelism: number, name: string) {
      const env = new StreamExecutionEnvironment(cluster.client, { parallelism });
      const sink = env.fromElements(...LINES)
        .flatMap(function tokenize(line: string) { return line.split(' ').map((word) => [word, 1] as [string, number]); })
        .keyBy(0)
        .sum(1)
        .collect();
      const handle = await env.execute(name);
      const [events, result] = await Promise.all([eventsOf(cluster.client, handle.jobId), handle.result()]);
      return { handle, events, result, collected: result.collected[sink.id] ?? [] };
    }

    for (const parallelism of [1, 4]) {
      it(`counts words at parallelism ${parallelism} exactly as plain JS does, through every lifecycle state in order`, async () => {
        const { events, result, collected } = await wordCount(parallelism, `wordcount-p${parallelism}`);

        expect(result.state, result.cause).to.equal('FINISHED');
        const expected = plainWordCount(LINES);
        // One running sum per word of input, and the last one per key is its total.
        expect(collected).to.have.length([...expected.values()].reduce((a, b) => a + b, 0));
        expect(lastPerKey(collected)).to.deep.equal(expected);

        const jobs = jobStates(events);
        expect(jobs.map((e) => e.to)).to.deep.equal(['CREATED', 'RUNNING', 'FINISHED']);
        expect(jobs.map((e) => e.from)).to.deep.equal([null, 'CREATED', 'RUNNING']);

        const histories = taskHistories(events);
        // source, flatMap, sum, collect: one task per vertex and subtask.
        expect(histories.size).to.equal(4 * parallelism);
        for (const [task, history] of histories) {
          expect(history.map((e) => e.to), task).to.deep.equal(HAPPY_TASK_PATH);
          expect(history.map((e) => e.from), task).to.deep.equal([null, ...HAPPY_TASK_PATH.slice(0, -1)]);
        }
        // Every task event comes between the job's CREATED and its FINISHED.
        expect(events[0]).to.include({ type: 'job.state', to: 'CREATED' });
        expect(events[events.length - 1]).to.include({ type: 'job.state', to: 'FINISHED' });

        const view = await cluster.client.cluster();
        expect(view.totalSlots).to.equal(4);
        expect(view.freeSlots).to.equal(4);
        expect(view.taskManagers.map((tm) => tm.freeSlots)).to.deep.equal([2, 2]);
        for (const tm of cluster.tms) expect(tm.runningTasks, tm.tmId).to.equal(0);
      });
    }

    it('spreads the subtasks of a job over both task managers', async () => {
      const { events, result } = await wordCount(4, 'wordcount-spread');
      expect(result.state, result.cause).to.equal('FINISHED');

      const placed = events.filter((e): e is TaskStateEvent => e.type === 'task.state' && e.to === 'SCHEDULED');
      expect(placed).to.have.length(16);
      const perTm = new Map<string, number>();
      for (const e of placed) perTm.set(e.tmId!, (perTm.get(e.tmId!) ?? 0) + 1);
      expect([...perTm.keys()].sort()).to.deep.equal(cluster.tms.map((tm) => tm.tmId).sort());
      expect([...perTm.values()]).to.deep.equal([8, 8]);
      // Each vertex's subtasks are split evenly too, not just the total.
      for (const vertexId of new Set(placed.map((e) => e.vertexId))) {
        const hosts = placed.filter((e) => e.vertexId === vertexId).map((e) => e.tmId!);
        expect(new Set(hosts).size, vertexId).to.equal(2);
      }
    });

    for (const shuffle of ['blocking', 'pipelined'] as const) {
      it(`runs a batch job ${shuffle === 'blocking' ? 'stage by stage: a region is scheduled once every region it reads finished' : 'with every stage at once (pipelined shuffle)'}`, async () => {
        const env = new ExecutionEnvironment(cluster.client, { parallelism: 2, shuffle });
        const counts = env.fromCollection(LINES).flatMap((line: string) => line.split(' ').map((word) => ({ word, n: 1 })))
          .groupBy('word').sum('n').collect();
        const handle = await env.execute(`batch-${shuffle}`);
        const [events, result] = await Promise.all([eventsOf(cluster.client, handle.jobId), handle.result()]);
        expect(result.state, result.cause).to.equal('FINISHED');
        const totals = new Map((result.collected[counts.id] as { word: string; n: number }[]).map((r) => [r.word, r.n]));
        expect(totals).to.deep.equal(plainWordCount(LINES));

        const tasks = events.filter((e): e is TaskStateEvent => e.type === 'task.state');
        const lastFinished = (vertexName: string) => Math.max(...tasks.flatMap((e, i) => (e.vertexName === vertexName && e.to === 'FINISHED' ? [i] : [])));
        const firstScheduled = (vertexName: string) => tasks.findIndex((e) => e.vertexName === vertexName && e.to === 'SCHEDULED');
        // The combiner runs chained in the first stage; the reduce reads its stored output in the second.
        const names = result.vertices.map((v) => v.name);
        expect(names.slice(0, 3)).to.deep.equal(['source.elements', 'flatMap', 'combine']);
        const reduce = names[3]!;
        if (shuffle === 'blocking') expect(firstScheduled(reduce), reduce).to.be.greaterThan(lastFinished('combine'));
        else expect(firstScheduled(reduce), reduce).to.be.lessThan(lastFinished('combine'));
      });
    }

    it('fails the job when a user function throws, naming the function, the message and the record, and keeps serving', async () => {
      const env = new StreamExecutionEnvironment(cluster.client, { parallelism: 1 });
      env.fromElements(1, 2, 3, 4, 5)
        .map(function parse(x: number) { if (x === 3) throw new Error('bad record'); return x; })
        .collect();
      const handle = await env.execute('throws');
      const result = await handle.result();

      expect(result.state).to.equal('FAILED');
      expect(result.cause).to.be.a('string');
      expect(result.cause).to.include("'parse'");
      expect(result.cause).to.include('bad record');
      expect(result.cause).to.match(/record #3\b/);
      const events = await eventsOf(cluster.client, handle.jobId);
      expect(jobStates(events).map((e) => e.to)).to.deep.equal(['CREATED', 'RUNNING', 'FAILING', 'FAILED']);
      for (const [task, history] of taskHistories(events)) {
        expect(['FINISHED', 'FAILED', 'CANCELED'], task).to.include(history[history.length - 1]!.to);
      }
      const failed = events.filter((e): e is TaskStateEvent => e.type === 'task.state' && e.to === 'FAILED');
      expect(failed.map((e) => e.vertexName)).to.deep.equal(['parse']);

      await eventually(async () => (await cluster.client.cluster()).freeSlots === 4, 'the failed job to free its slots');
      for (const tm of cluster.tms) expect(tm.runningTasks, tm.tmId).to.equal(0);

      const next = await wordCount(2, 'after-a-failure');
      expect(next.result.state, next.result.cause).to.equal('FINISHED');
      expect(lastPerKey(next.collected)).to.deep.equal(plainWordCount(LINES));
    });

    it('fails a job whose source cannot open its input while deploying, naming the file, and frees its slots', async () => {
      const missing = `/nonexistent/cloudflink-spec-${Date.now()}.txt`;
      const env = new StreamExecutionEnvironment(cluster.client, { parallelism: 2 });
      env.readTextFile(missing).map(function upper(line: string) { return line.toUpperCase(); }).collect();
      const handle = await env.execute('missing-input');
      const result = await handle.result();

      expect(result.state).to.equal('FAILED');
      expect(result.cause).to.include(missing);
      const events = await eventsOf(cluster.client, handle.jobId);
      for (const [task, history] of taskHistories(events)) {
        expect(['FAILED', 'CANCELED', 'FINISHED'], task).to.include(history[history.length - 1]!.to);
      }
      expect((await cluster.client.cluster()).freeSlots).to.equal(4);
      for (const tm of cluster.tms) expect(tm.runningTasks, tm.tmId).to.equal(0);
    });

    it('rejects a malformed descriptor with every issue and its path, starts nothing, and keeps serving', async () => {
      const jobsBefore = (await cluster.client.list()).map((j) => j.jobId);
      const malformed = {
        apiVersion: 'cloudflink/v0',
        name: '',
        parallelism: 0,
        vertices: [
          { id: 'src', operator: 'source.elements', elements: [1] },
          { id: 'double', operator: 'map' },
          { id: 'out', operator: 'sink.nowhere' },
        ],
        edges: [{ from: 'src', to: 'double' }, { from: 'double', to: 'missing' }],
      };

      const error = await cluster.client.submit(malformed).then(
        () => expect.fail('submit should have rejected'),
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(DescriptorInvalidError);
      const issues = (error as DescriptorInvalidError).issues;
      expect(issues.map((i) => i.path)).to.have.members(
        ['/apiVersion', '/name', '/parallelism', '/vertices/1/fn', '/vertices/2/operator', '/edges/1/to']);
      for (const issue of issues) expect(issue.message, issue.path).to.be.a('string').that.is.not.empty;
      expect((error as Error).message).to.include('/edges/1/to');

      expect((await cluster.client.list()).map((j) => j.jobId)).to.deep.equal(jobsBefore);
      expect((await cluster.client.cluster()).freeSlots).to.equal(4);

      const next = await wordCount(1, 'after-a-malformed-one');
      expect(next.result.state, next.result.cause).to.equal('FINISHED');
    });

    it('rejects a descriptor whose user function does not compile, the same way', async () => {
      const jobsBefore = (await cluster.client.list()).map((j) => j.jobId);
      const descriptor = structuredClone(WORDCOUNT_JSON);
      descriptor.name = 'does-not-compile';
      const tokenize = descriptor.vertices.findIndex((v) => v.id === 'words');
      (descriptor.vertices[tokenize] as { fn: string }).fn = '(line) => line.split(';

      const error = await cluster.client.submit(descriptor).then(
        () => expect.fail('submit should have rejected'),
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(DescriptorInvalidError);
      expect((error as DescriptorInvalidError).issues).to.deep.equal([{
        path: `/vertices/${tokenize}/fn`,
        message: (error as DescriptorInvalidError).issues[0]!.message,
      }]);
      expect((error as DescriptorInvalidError).issues[0]!.message).to.match(/^the user function does not compile: SyntaxError/);
      expect((await cluster.client.list()).map((j) => j.jobId)).to.deep.equal(jobsBefore);

      const next = await cluster.client.submit({ ...structuredClone(WORDCOUNT_JSON), name: 'after-a-bad-function' });
      const result = await cluster.client.result(next);
      expect(result.state, result.cause).to.equal('FINISHED');
    });

    it('answers JobNotFoundError for the status or cancel of an unknown job', async () => {
      await expect(cluster.client.status('no-such-job')).to.be.rejectedWith(JobNotFoundError, /no-such-job/);
      await expect(cluster.client.cancel('no-such-job')).to.be.rejectedWith(JobNotFoundError, /no-such-job/);
      await expect(cluster.client.result('no-such-job')).to.be.rejectedWith(JobNotFoundError);
    });

    describe('the public submit subject, from a plain NATS connection', () => {
      let nc: NatsConnection;
      let submitSubject: string;
      before(async () => {
        nc = await connect({ servers: [nats.url] });
        submitSubject = `${subjectBase(cluster.config)}.jobs.submit`;
      });
      after(async () => { await nc.close(); });

      it('runs a JSON descriptor sent by request/reply and answers its job id', async () => {
        const descriptor = { ...structuredClone(WORDCOUNT_JSON), name: 'raw-request' };
        const reply = await nc.request(submitSubject, JSON.stringify(descriptor), { timeout: 10_000 });
        const answer = reply.json<SubmitAnswer>();
        expect(answer.ok).to.equal(true);
        const { jobId } = answer as Extract<SubmitAnswer, { ok: true }>;
        expect(jobId).to.be.a('string').that.is.not.empty;

        const result = await cluster.client.result(jobId);
        expect(result.state, result.cause).to.equal('FINISHED');
        expect(result.name).to.equal('raw-request');
        expect(Object.fromEntries(lastPerKey(result.collected.result ?? []))).to.deep.equal(WORDCOUNT_JSON_TOTALS);
      });

      it('answers a malformed descriptor with DESCRIPTOR_INVALID and its issues', async () => {
        const jobsBefore = (await cluster.client.list()).length;
        const descriptor = { ...structuredClone(WORDCOUNT_JSON), name: 'raw-malformed', parallelism: 'two' };
        delete (descriptor as { apiVersion?: string }).apiVersion;
        const reply = await nc.request(submitSubject, JSON.stringify(descriptor), { timeout: 10_000 });
        const answer = reply.json<SubmitAnswer>();
        expect(answer.ok).to.equal(false);
        const { error } = answer as Extract<SubmitAnswer, { ok: false }>;
        expect(error.code).to.equal('DESCRIPTOR_INVALID');
        expect(error.message).to.be.a('string').that.is.not.empty;
        expect(error.issues!.map((i) => i.path)).to.have.members(['/apiVersion', '/parallelism']);
        expect((await cluster.client.list()).length).to.equal(jobsBefore);
      });

      it('runs a good descriptor sent by a plain publish, with no reply subject', async () => {
        const name = `raw-publish-${Date.now()}`;
        nc.publish(submitSubject, JSON.stringify({ ...structuredClone(WORDCOUNT_JSON), name }));
        await nc.flush();
        const job = await eventually(async () => (await cluster.client.list()).find((j) => j.name === name), `job ${name} in list()`);
        const result = await cluster.client.result(job.jobId);
        expect(result.state, result.cause).to.equal('FINISHED');
        expect(Object.fromEntries(lastPerKey(result.collected.result ?? []))).to.deep.equal(WORDCOUNT_JSON_TOTALS);
      });

      it('publishes a job.rejected event for garbage sent by a plain publish', async () => {
        const jobsBefore = (await cluster.client.list()).length;
        const rejected: JobRejectedEvent[] = [];
        const sub = nc.subscribe(`${subjectBase(cluster.config)}.events.job.*`, {
          callback: (error, msg) => {
            if (error) return;
            const event = msg.json<LifecycleEvent>();
            if (event.type === 'job.rejected') rejected.push(event);
          },
        });
        await nc.flush();
        try {
          nc.publish(submitSubject, '{ this is not json');
          await nc.flush();
          const event = await eventually(() => rejected[0], 'a job.rejected event');
          expect(event.jobId).to.be.a('string').that.is.not.empty;
          expect(event.issues).to.have.length.of.at.least(1);
          expect(event.issues[0]!.message).to.match(/not valid JSON/);
        } finally {
          sub.unsubscribe();
        }
        expect((await cluster.client.list()).length).to.equal(jobsBefore);
      });
    });

    it('replays the full history of a finished job to a monitor that connects late', async () => {
      const { handle, events: live, result } = await wordCount(2, 'late-monitor');
      expect(result.state, result.cause).to.equal('FINISHED');

      const late = await ClusterClient.connect(cluster.config);
      try {
        const replayed = await eventsOf(late, handle.jobId);
        expect(replayed).to.deep.equal(live);
        expect(jobStates(replayed).map((e) => e.to)).to.deep.equal(['CREATED', 'RUNNING', 'FINISHED']);
        expect(replayed.filter((e) => e.type === 'task.state')).to.have.length(4 * 2 * HAPPY_TASK_PATH.length);
      } finally {
        await late.close();
      }
    });
  });

  describe('scheduling and cancelling', () => {
    const cluster = useCluster(() => nats, 'jm-sched', 30_000);

    function endless(parallelism: number) {
      const env = new StreamExecutionEnvironment(cluster.client, { parallelism });
      env.generate(1e9).filter(function none() { return false; }).collect();
      return env;
    }

    function multiplesOf1000(parallelism: number, count: number) {
      const env = new StreamExecutionEnvironment(cluster.client, { parallelism });
      const sink = env.generate(count).filter(function thousands(x: number) { return x % 1000 === 0; }).collect();
      return { env, sink };
    }

    it('cancels a running job: every task ends, its slots are freed and the task managers run nothing', async () => {
      const handle = await endless(4).execute('endless');
      await eventually(async () => {
        const status = await handle.status();
        return status.state === 'RUNNING' && status.vertices[0]!.recordsOut > 0;
      }, 'the endless job to run and produce records');
      expect((await cluster.client.cluster()).freeSlots).to.equal(0);

      await handle.cancel();
      const result = await handle.result();
      expect(result.state).to.equal('CANCELED');

      const events = await eventsOf(cluster.client, handle.jobId);
      expect(jobStates(events).map((e) => e.to)).to.deep.equal(['CREATED', 'RUNNING', 'CANCELLING', 'CANCELED']);
      const histories = taskHistories(events);
      expect(histories.size).to.equal(3 * 4);
      for (const [task, history] of histories) {
        expect(['CANCELED', 'FINISHED'], task).to.include(history[history.length - 1]!.to);
      }
      expect((await cluster.client.cluster()).freeSlots).to.equal(4);
      for (const tm of cluster.tms) expect(tm.runningTasks, tm.tmId).to.equal(0);
    });

    it('lets a job that needs more slots than are free wait, and runs it when slots free up', async () => {
      // Three slots each, four in the cluster: whichever is scheduled second waits for the first.
      const first = multiplesOf1000(3, 60_000);
      const second = multiplesOf1000(3, 60_000);
      const handles = await Promise.all([first.env.execute('back-to-back-1'), second.env.execute('back-to-back-2')]);
      const results = await Promise.all(handles.map((h) => h.result()));

      const expected = range(60).map((i) => i * 1000);
      for (const [i, result] of results.entries()) {
        expect(result.state, result.cause).to.equal('FINISHED');
        const collected = result.collected[[first, second][i]!.sink.id] as number[];
        expect([...collected].sort((a, b) => a - b)).to.deep.equal(expected);
      }

      // In the stream, the job scheduled second got its slots only after the other had ended.
      const stream = await allEvents(cluster.client);
      const firstScheduled = (jobId: string) =>
        stream.findIndex((e) => e.type === 'task.state' && e.jobId === jobId && e.to === 'SCHEDULED');
      const ended = (jobId: string) =>
        stream.findIndex((e) => e.type === 'job.state' && e.jobId === jobId && e.to === 'FINISHED');
      const [a, b] = handles.map((h) => h.jobId) as [string, string];
      const [earlier, later] = firstScheduled(a) < firstScheduled(b) ? [a, b] : [b, a];
      expect(firstScheduled(earlier)).to.be.at.least(0);
      expect(firstScheduled(later)).to.be.greaterThan(ended(earlier));
      expect((await cluster.client.cluster()).freeSlots).to.equal(4);
    });

    it('holds a waiting job in CREATED while another holds the slots, and runs it after that one is cancelled', async () => {
      const blocker = await endless(4).execute('blocker');
      await eventually(async () => (await blocker.status()).state === 'RUNNING', 'the blocker to run');
      const waiting = multiplesOf1000(2, 10_000);
      const handle = await waiting.env.execute('waiting');

      // The slot request reached the Scheduler before submit answered, so this view already counts it.
      expect((await cluster.client.cluster()).freeSlots).to.equal(0);
      expect((await handle.status()).state).to.equal('CREATED');

      await blocker.cancel();
      const result = await handle.result();
      expect(result.state, result.cause).to.equal('FINISHED');
      expect([...(result.collected[waiting.sink.id] as number[])].sort((a, b) => a - b)).to.deep.equal(range(10).map((i) => i * 1000));
      expect((await blocker.result()).state).to.equal('CANCELED');

      // It was placed only once the blocker had ended.
      const stream = await allEvents(cluster.client);
      const blockerEnded = stream.findIndex((e) => e.type === 'job.state' && e.jobId === blocker.jobId && e.to === 'CANCELED');
      const waitingPlaced = stream.findIndex((e) => e.type === 'task.state' && e.jobId === handle.jobId && e.to === 'SCHEDULED');
      expect(blockerEnded).to.be.at.least(0);
      expect(waitingPlaced).to.be.greaterThan(blockerEnded);
    });

    it('cancels a job that is still waiting for slots: no task is ever scheduled and the next job gets the slots', async () => {
      const blocker = await endless(4).execute('blocker-2');
      await eventually(async () => (await blocker.status()).state === 'RUNNING', 'the blocker to run');
      const withdrawn = await multiplesOf1000(4, 10_000).env.execute('withdrawn');
      const next = multiplesOf1000(2, 10_000);
      const nextHandle = await next.env.execute('after-the-withdrawn-one');

      await withdrawn.cancel();
      expect((await withdrawn.result()).state).to.equal('CANCELED');
      await blocker.cancel();
      const result = await nextHandle.result();
      expect(result.state, result.cause).to.equal('FINISHED');
      expect(result.collected[next.sink.id]).to.have.length(10);

      const events = await eventsOf(cluster.client, withdrawn.jobId);
      expect(jobStates(events).map((e) => e.to)).to.deep.equal(['CREATED', 'CANCELLING', 'CANCELED']);
      const histories = taskHistories(events);
      expect(histories.size).to.equal(3 * 4);
      for (const [task, history] of histories) expect(history.map((e) => e.to), task).to.deep.equal(['CREATED', 'CANCELED']);
      expect((await cluster.client.cluster()).freeSlots).to.equal(4);
    });
  });

  describe('stopping the job manager', () => {
    let stops: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const stop of stops.reverse()) await stop();
      stops = [];
    });

    it('leaves no slot-wait timer behind when it stops while a job waits for slots', async () => {
      const clock = new ManualClock(Date.now());
      const config = configFor(nats.url, 'jm-stop-waiting', 5_000);
      const jm = await startJobManager({ config, clock });
      stops.push(() => jm.stop());
      const client = await ClusterClient.connect(config);
      stops.push(() => client.close());

      // No task manager at all: the job waits for slots.
      const env = new StreamExecutionEnvironment(client, { parallelism: 1 });
      env.fromElements(1).collect();
      const handle = await env.execute('waits-forever');
      expect((await handle.status()).state).to.equal('CREATED');

      await jm.stop();
      // A stopped node keeps no timers: one left would hold the process open and fire into a closed connection.
      expect(clock.pending, 'timers left on the clock').to.equal(0);
      expect(() => clock.advance(config.jobManager.slotWaitMs)).not.to.throw();
    });

    it('stops cleanly while a deploy to a task manager is still unanswered', async () => {
      const config = configFor(nats.url, 'jm-stop-deploying', 30_000);
      const jm = await startJobManager({ config });
      stops.push(() => jm.stop());
      const client = await ClusterClient.connect(config);
      stops.push(() => client.close());
      const base = subjectBase(config);

      // A task manager that registers, then hangs: it never answers its deploy.
      const hung = await nats.connect();
      stops.push(() => hung.close());
      const deploys: string[] = [];
      hung.subscribe(`${base}.tm.hung-tm`, (msg) => { if (msg.reply) deploys.push(msg.subject); });
      await hung.flush();
      const registered = await hung.request(`${base}.jm`, new TextEncoder().encode(JSON.stringify(
        { v: 1, msg: { type: 'register-tm', tmId: 'hung-tm', incarnation: 'spec', slots: 1 } })), 5_000);
      expect(JSON.parse(new TextDecoder().decode(registered))).to.include({ ok: true });
      // Like a real task manager, one heartbeat after registering: only then are its slots offered.
      hung.publish(`${base}.hb.hung-tm`, new TextEncoder().encode(JSON.stringify(
        { v: 1, msg: { type: 'heartbeat', tmId: 'hung-tm', incarnation: 'spec', slots: 1, usedSlots: 0, tasks: [] } })));

      const env = new StreamExecutionEnvironment(client, { parallelism: 1 });
      env.fromElements(1).collect();
      await env.execute('never-deployed');
      await eventually(() => deploys.length > 0, 'the deploy request');

      const unhandled = await unhandledRejectionsDuring(() => jm.stop());
      expect(unhandled, 'unhandled rejections after stop()').to.deep.equal([]);
    });
  });

  describe('a cluster too small for the job', () => {
    const cluster = useCluster(() => nats, 'jm-small', 300);

    it('fails a job needing more slots than the cluster has, with the reason, and keeps serving', async () => {
      const env = new StreamExecutionEnvironment(cluster.client, { parallelism: 8 });
      env.fromElements(1, 2, 3).map(function same(x: number) { return x; }).collect();
      const handle = await env.execute('too-wide');
      const result = await handle.result();
      expect(result.state).to.equal('FAILED');
      expect(result.cause).to.equal('not enough slots: needs 8, cluster has 4');

      const events = await eventsOf(cluster.client, handle.jobId);
      expect(jobStates(events).map((e) => e.to)).to.deep.equal(['CREATED', 'FAILING', 'FAILED']);
      expect(events.filter((e) => e.type === 'task.state' && e.to === 'SCHEDULED')).to.have.length(0);
      expect((await cluster.client.cluster()).freeSlots).to.equal(4);

      const small = new StreamExecutionEnvironment(cluster.client, { parallelism: 4 });
      const sink = small.fromElements(1, 2, 3, 4, 5).map(function double(x: number) { return 2 * x; }).collect();
      const next = await (await small.execute('fits')).result();
      expect(next.state, next.cause).to.equal('FINISHED');
      expect([...(next.collected[sink.id] as number[])].sort((a, b) => a - b)).to.deep.equal([2, 4, 6, 8, 10]);
    });
  });
});
