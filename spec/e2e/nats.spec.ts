import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { LocalCluster } from '../../lib/cluster/local.ts';
import { runCli } from '../helpers/cli.ts';
import { clusterFlags, startProcessCluster } from '../helpers/cluster.ts';
import { eventually, startNats, type TestNats } from '../helpers/nats.ts';

describe('NATS connection options and outages', function () {
  this.timeout(120_000);

  it('passes user and password through to NATS, and says clearly when they are wrong', async () => {
    const nats = await startNats({ jetstream: false, args: ['--user', 'flink', '--pass', 's3cret'] });
    try {
      const url = nats.url;
      const good = await runCli(['list', '--nats', url, '--user', 'flink', '--pass', 's3cret', '--cluster-id', 'auth']);
      // Authenticated: what is missing now is the Job Manager, not the connection.
      expect(good.stderr).to.match(/nothing listens on cf\.auth\.jm/);
      const bad = await runCli(['list', '--nats', url, '--user', 'flink', '--pass', 'wrong']);
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.match(/cannot reach NATS at .*(Authorization|authorization|AUTHORIZATION)/);
      const fromEnv = await runCli(['list', '--cluster-id', 'auth'],
        { env: { CLOUDFLINK_NATS: url, CLOUDFLINK_NATS_USER: 'flink', CLOUDFLINK_NATS_PASS: 's3cret' } });
      expect(fromEnv.stderr).to.match(/nothing listens on cf\.auth\.jm/);
    } finally {
      await nats.stop();
    }
  });

  it('passes a token through to NATS', async () => {
    const nats = await startNats({ jetstream: false, args: ['--auth', 'tok3n'] });
    try {
      const good = await runCli(['list', '--nats', nats.url, '--token', 'tok3n', '--cluster-id', 'auth']);
      expect(good.stderr).to.match(/nothing listens on cf\.auth\.jm/);
      const bad = await runCli(['list', '--nats', nats.url, '--token', 'nope']);
      expect(bad.stderr).to.match(/cannot reach NATS/);
    } finally {
      await nats.stop();
    }
  });

  it('lives through a NATS restart: the nodes reconnect, and jobs run again', async () => {
    const storeDir = mkdtempSync(join(tmpdir(), 'cloudflink-outage-'));
    let nats: TestNats | undefined = await startNats({ storeDir });
    let cluster: LocalCluster | undefined;
    try {
      const port = nats.port;
      const url = nats.url;
      cluster = await startProcessCluster(url, 'outage', 2, 2);
      const before = await runCli(['run', 'scripts/examples/wordcount.json', '--wait', ...clusterFlags(url, 'outage')]);
      expect(before.code, before.stderr).to.equal(0);

      await nats.stop();
      const during = await runCli(['list', ...clusterFlags(url, 'outage')], { timeoutMs: 20_000 });
      expect(during.code).to.equal(2);
      expect(during.stderr).to.match(/cannot reach NATS/);
      nats = await startNats({ port, storeDir });

      await eventually(async () => {
        const status = await runCli(['cluster', 'status', '--json', ...clusterFlags(url, 'outage')]);
        return status.code === 0 && JSON.parse(status.stdout).taskManagers.length === 2;
      }, 'both task managers back in the cluster', 100, 200);
      const after = await runCli(['run', 'scripts/examples/wordcount.json', '--wait', ...clusterFlags(url, 'outage')]);
      expect(after.code, after.stderr).to.equal(0);
      // The events kept in JetStream survived the restart: both jobs' ends are there.
      const events = await runCli(['events', '--json', ...clusterFlags(url, 'outage')]);
      const finishedJobs = events.stdout.split('\n').filter((l) => l.includes('"type":"job.state"') && l.includes('"to":"FINISHED"'));
      expect(finishedJobs).to.have.length(2);
    } finally {
      await cluster?.stop();
      await nats?.stop();
      rmSync(storeDir, { recursive: true, force: true });
    }
  });
});
