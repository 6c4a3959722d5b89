import { rmSync } from 'node:fs';
import { expect } from 'chai';
import type { LocalCluster } from '../../lib/cluster/local.ts';
import { isAlive, readDetachedCluster } from '../../lib/cluster/state.ts';
import { runCli } from '../helpers/cli.ts';
import { clusterFlags, startProcessCluster } from '../helpers/cluster.ts';
import { startNats, type TestNats } from '../helpers/nats.ts';

describe('cluster membership with real processes', function () {
  this.timeout(180_000);
  let nats: TestNats;

  before(async () => { nats = await startNats(); });
  after(async () => { await nats?.stop(); });

  describe('a full cluster', () => {
    let cluster: LocalCluster;
    before(async () => { cluster = await startProcessCluster(nats.url, 'full', 10, 1); });
    after(async () => { await cluster?.stop(); });

    it('refuses an 11th Task Manager: the process exits non-zero saying why, and an event records it', async () => {
      const eleventh = await runCli(['taskmanager', '--id', 'tm-11', ...clusterFlags(nats.url, 'full')], { timeoutMs: 30_000 });
      expect(eleventh.code).to.equal(2);
      expect(eleventh.stderr).to.match(/task manager tm-11 refused: the cluster already has 10 task managers, the maximum/);
      const events = await runCli(['events', '--json', ...clusterFlags(nats.url, 'full')]);
      const refused = events.stdout.split('\n').filter((l) => l.includes('"tm.refused"')).map((l) => JSON.parse(l));
      expect(refused).to.have.length(1);
      expect(refused[0]).to.include({ tmId: 'tm-11' });
      const status = await runCli(['cluster', 'status', '--json', ...clusterFlags(nats.url, 'full')]);
      expect(JSON.parse(status.stdout).taskManagers).to.have.length(10);
    });
  });

  it('starts a detached cluster with `cluster up --detach` and stops it with `cluster down`', async () => {
    const id = `detached${process.pid}`;
    const up = await runCli(['cluster', 'up', '--detach', '--task-managers', '1', '--slots', '2', '--cluster-id', id], { timeoutMs: 60_000 });
    expect(up.code, up.stderr).to.equal(0);
    expect(up.stdout).to.match(new RegExp(`cluster cf.${id} is up`));
    const state = readDetachedCluster(`cf.${id}`)!;
    try {
      // Other commands find the detached cluster without --nats.
      const run = await runCli(['run', 'scripts/examples/wordcount.json', '--wait', '--cluster-id', id]);
      expect(run.code, run.stderr).to.equal(0);
    } finally {
      const down = await runCli(['cluster', 'down', '--cluster-id', id]);
      expect(down.code, down.stderr).to.equal(0);
    }
    const pids = [state.pids.jobManager, ...state.pids.taskManagers, state.pids.nats!];
    expect(pids.filter(isAlive)).to.deep.equal([]);
    expect(readDetachedCluster(`cf.${id}`)).to.equal(undefined);
    rmSync(state.logDir, { recursive: true, force: true });
  });
});
