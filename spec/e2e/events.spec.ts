import { expect } from 'chai';
import type { LocalCluster } from '../../lib/cluster/local.ts';
import type { JobStateEvent, LifecycleEvent, TaskStateEvent } from '../../lib/events/types.ts';
import { runCli, startCli } from '../helpers/cli.ts';
import { clusterFlags, startProcessCluster } from '../helpers/cluster.ts';
import { eventually, startNats, type TestNats } from '../helpers/nats.ts';

const TASK_LIFE = ['CREATED', 'SCHEDULED', 'DEPLOYING', 'INITIALIZING', 'RUNNING', 'FINISHED'];

function parseLines(text: string): LifecycleEvent[] {
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LifecycleEvent);
}

function jobOf(events: LifecycleEvent[], jobId: string): LifecycleEvent[] {
  return events.filter((e) => 'jobId' in e && e.jobId === jobId);
}

describe('lifecycle events seen by `cloudflink events`', function () {
  this.timeout(120_000);
  let nats: TestNats;
  let cluster: LocalCluster;
  const flags = (): string[] => clusterFlags(nats.url, 'events');

  before(async () => {
    nats = await startNats();
    cluster = await startProcessCluster(nats.url, 'events', 2, 2);
  });

  after(async () => {
    await cluster?.stop();
    await nats?.stop();
  });

  it('shows job CREATED → RUNNING → FINISHED and every task\'s transitions in order, live and replayed', async () => {
    const follower = startCli(['events', '--follow', '--json', ...flags()]);
    const run = await runCli(['run', 'scripts/examples/wordcount.json', '--wait', ...flags()]);
    expect(run.code, run.stderr).to.equal(0);
    const jobId = /submitted job (\w+)/.exec(run.stdout)![1]!;

    const live = await eventually(() => {
      const events = jobOf(parseLines(follower.output.stdout), jobId);
      return events.some((e) => e.type === 'job.state' && e.to === 'FINISHED') ? events : undefined;
    }, 'the follower to see the job finish');
    follower.child.kill('SIGINT');
    await follower.exited;

    const jobStates = live.filter((e): e is JobStateEvent => e.type === 'job.state').map((e) => e.to);
    expect(jobStates).to.deep.equal(['CREATED', 'RUNNING', 'FINISHED']);
    const tasks = live.filter((e): e is TaskStateEvent => e.type === 'task.state');
    const byTask = new Map<string, string[]>();
    for (const e of tasks) byTask.set(`${e.vertexId}/${e.subtask}`, [...(byTask.get(`${e.vertexId}/${e.subtask}`) ?? []), e.to]);
    expect([...byTask.keys()].sort()).to.deep.equal(['counts/0', 'counts/1', 'lines/0', 'result/0', 'words/0', 'words/1']);
    for (const states of byTask.values()) expect(states).to.deep.equal(TASK_LIFE);
    // The job is FINISHED only after its last task.
    expect(live.at(-1)).to.include({ type: 'job.state', to: 'FINISHED' });

    const replay = await runCli(['events', '--job', jobId, '--json', ...flags()]);
    expect(replay.code, replay.stderr).to.equal(0);
    expect(parseLines(replay.stdout)).to.deep.equal(live);

    const human = await runCli(['events', '--job', jobId, ...flags()]);
    expect(human.stdout).to.match(new RegExp(`job  ${jobId} wordcount-json: RUNNING → FINISHED`));
  });
});
