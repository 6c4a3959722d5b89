import { createConnection } from 'node:net';
import { expect } from 'chai';
import type { LocalCluster } from '../../lib/cluster/local.ts';
import { freePort } from '../../lib/nats-server/index.ts';
import { runCli } from '../helpers/cli.ts';
import { clusterFlags, startProcessCluster } from '../helpers/cluster.ts';
import { startNats, type TestNats } from '../helpers/nats.ts';
import wordcountJson from '../../scripts/examples/wordcount.json' with { type: 'json' };

/**
 * A NATS client written from the protocol text alone (CONNECT, SUB, PUB, MSG), to show that
 * any client in any language can submit jobs: none of our code or of nats.js is involved.
 */
async function plainRequest(port: number, subject: string, payload: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let buffer = '';
    const body = Buffer.from(payload);
    socket.on('connect', () => {
      socket.write(`CONNECT {"verbose":false}\r\nSUB _INBOX.plain 1\r\nPUB ${subject} _INBOX.plain ${body.length}\r\n`);
      socket.write(Buffer.concat([body, Buffer.from('\r\n')]));
    });
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      const match = /MSG _INBOX\.plain 1 (\d+)\r\n/.exec(buffer);
      if (!match) return;
      const start = match.index + match[0].length;
      const size = Number(match[1]);
      if (Buffer.byteLength(buffer.slice(start)) < size) return;
      socket.end();
      resolve(JSON.parse(buffer.slice(start, start + size)));
    });
    socket.on('error', reject);
  });
}

describe('the cloudflink command', function () {
  this.timeout(120_000);
  let nats: TestNats;
  let cluster: LocalCluster;
  const flags = (): string[] => clusterFlags(nats.url, 'cli');

  before(async () => {
    nats = await startNats();
    cluster = await startProcessCluster(nats.url, 'cli', 1, 2);
  });

  after(async () => {
    await cluster?.stop();
    await nats?.stop();
  });

  it('has --help on every command', async () => {
    for (const command of [[], ['cluster'], ['cluster', 'up'], ['cluster', 'down'], ['cluster', 'status'], ['jobmanager'], ['taskmanager'], ['run'], ['list'], ['status'], ['cancel'], ['events']]) {
      const run = await runCli([...command, '--help']);
      expect(run.code, command.join(' ')).to.equal(0);
      expect(run.stdout).to.match(new RegExp(`^Usage: cloudflink${command.length ? ` ${command.join(' ')}` : ''}`));
    }
  });

  it('runs a JSON descriptor published by a plain NATS client, and answers a malformed one with every error', async () => {
    const port = Number(new URL(nats.url).port);
    const good = await plainRequest(port, 'cf.cli.jobs.submit', JSON.stringify(wordcountJson)) as { ok: boolean; jobId: string };
    expect(good.ok).to.equal(true);
    const bad = await plainRequest(port, 'cf.cli.jobs.submit', JSON.stringify({
      apiVersion: 'cloudflink/v1', name: 'broken', parallelism: 0,
      vertices: [{ id: 'a', operator: 'mapp' }, { id: 'b', operator: 'map', fn: '(x) => x +' }],
      edges: [{ from: 'a', to: 'nowhere' }],
    })) as { ok: boolean; error: { code: string; issues: { path: string }[] } };
    expect(bad.ok).to.equal(false);
    expect(bad.error.code).to.equal('DESCRIPTOR_INVALID');
    expect(bad.error.issues.map((i) => i.path)).to.include.members(['/parallelism', '/vertices/0/operator', '/vertices/1/fn', '/edges/0/to']);
    const notJson = await plainRequest(port, 'cf.cli.jobs.submit', '{ not json') as { ok: boolean; error: { message: string } };
    expect(notJson.ok).to.equal(false);

    const status = await runCli(['status', good.jobId, ...flags()]);
    expect(status.code, status.stderr).to.equal(0);
    const wait = await runCli(['cancel', good.jobId, ...flags()]);
    expect(wait.stdout).to.match(new RegExp(`job ${good.jobId} FINISHED`));
    // The Job Manager keeps serving.
    const again = await plainRequest(port, 'cf.cli.jobs.submit', JSON.stringify(wordcountJson)) as { ok: boolean };
    expect(again.ok).to.equal(true);
    const list = await runCli(['list', ...flags()]);
    expect(list.stdout.match(/wordcount-json/g)).to.have.length(2);
  });

  it('says clearly what is wrong with bad input, and exits non-zero', async () => {
    const missing = await runCli(['run', 'no/such/job.ts', ...flags()]);
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.match(/no such job file: no\/such\/job\.ts/);

    const port = await freePort();
    const unreachable = await runCli(['list', '--nats', `nats://127.0.0.1:${port}`], { timeoutMs: 20_000 });
    expect(unreachable.code).to.equal(2);
    expect(unreachable.stderr).to.match(new RegExp(`cannot reach NATS at nats://127.0.0.1:${port}`));

    const unknownJob = await runCli(['cancel', 'feedfacefeedface', ...flags()]);
    expect(unknownJob.code).to.equal(2);
    expect(unknownJob.stderr).to.match(/no job with id 'feedfacefeedface'/);

    const unknownFlag = await runCli(['list', '--frobnicate']);
    expect(unknownFlag.code).to.equal(1);
    expect(unknownFlag.stderr).to.match(/unknown option '--frobnicate'/);

    const badNumber = await runCli(['run', 'scripts/examples/wordcount.ts', '--parallelism', 'four']);
    expect(badNumber.code).to.equal(1);
    expect(badNumber.stderr).to.match(/--parallelism must be a whole number/);

    const noJobManager = await runCli(['list', '--nats', nats.url, '--cluster-id', 'nobody-home']);
    expect(noJobManager.code).to.equal(2);
    expect(noJobManager.stderr).to.match(/nothing listens on cf\.nobody-home\.jm/);
  });

  it('fails a job whose function throws, naming the function, the error and the record', async () => {
    const run = await runCli(['run', 'spec/e2e/jobs/throwing.ts', '--wait', ...flags()]);
    expect(run.code).to.equal(1);
    expect(run.stderr).to.match(/FAILED in [\d.]+ s: map 'parseAge' failed on record #3 of subtask 1\/1: not a number: 'three'; the record: string three/);
  });
});
