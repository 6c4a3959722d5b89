import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ClusterClient } from '../../lib/client/index.ts';
import type { LocalCluster } from '../../lib/cluster/local.ts';
import type { ClusterView } from '../../actors/job-manager/protocol.ts';
import { runCli, startCli } from '../helpers/cli.ts';
import { clusterFlags, useProcessCluster } from '../helpers/cluster.ts';
import { eventually, type TestNats } from '../helpers/nats.ts';

/** A job that runs until stopped: a generator of a billion numbers, all filtered out. */
const longJob = {
  apiVersion: 'cloudflink/v1',
  name: 'long-running',
  parallelism: 4,
  vertices: [
    { id: 'numbers', operator: 'source.generator', count: 1e9, fn: '(i) => ({ i, square: i * i })' },
    { id: 'none', operator: 'filter', fn: '(r) => r.square < 0' },
    { id: 'out', operator: 'sink.print' },
  ],
  edges: [{ from: 'numbers', to: 'none' }, { from: 'none', to: 'out' }],
};

describe('a Task Manager killed with kill -9', function () {
  this.timeout(120_000);
  let nats: TestNats;
  let cluster: LocalCluster;
  let client: ClusterClient;
  useProcessCluster('failover', 2, 2, (started) => ({ nats, cluster, client } = started));
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'cloudflink-failover-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is declared lost within the heartbeat timeout, fails the job with that cause, and leaves the cluster view', async () => {
    const file = join(dir, 'long.json');
    writeFileSync(file, JSON.stringify(longJob));
    const follower = startCli(['events', '--follow', '--json', ...clusterFlags(nats.url, 'failover')]);
    const run = runCli(['run', file, '--wait', ...clusterFlags(nats.url, 'failover')], { timeoutMs: 90_000 });
    const job = await eventually(async () => (await client.list()).find((j) => j.name === 'long-running' && j.state === 'RUNNING'), 'the job to run');
    await eventually(async () => (await client.status(job.jobId)).vertices[0]!.recordsOut > 0, 'records to flow');

    cluster.taskManagers.get('tm-2')!.kill('SIGKILL');

    const finished = await run;
    expect(finished.code).to.equal(1);
    expect(finished.stderr).to.match(/long-running\) FAILED in [\d.]+ s: task manager tm-2 lost: no heartbeat for 1500 ms/);

    const lost = await eventually(() => follower.output.stdout.split('\n').find((l) => l.includes('"tm.lost"')), 'a tm.lost event');
    expect(JSON.parse(lost)).to.include({ type: 'tm.lost', tmId: 'tm-2', slots: 2 });
    const failed = follower.output.stdout.split('\n').filter((l) => l.includes('"job.state"') && l.includes(job.jobId)).map((l) => JSON.parse(l).to);
    expect(failed).to.deep.equal(['CREATED', 'RUNNING', 'FAILING', 'FAILED']);
    follower.child.kill('SIGINT');
    await follower.exited;

    const view = await client.cluster() as ClusterView;
    expect(view.taskManagers.map((tm) => tm.tmId)).to.deep.equal(['tm-1']);
    expect(view.totalSlots).to.equal(2);
    expect(view.freeSlots).to.equal(2);
  });
});
