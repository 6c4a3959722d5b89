import type { Command } from 'commander';
import { ClusterClient } from '../../client/index.ts';
import { formatEvent, readEvents } from '../../events/index.ts';
import { configFrom, withConnectionOptions, type ConnectionFlags } from '../options.ts';

async function withClient<T>(flags: ConnectionFlags, work: (client: ClusterClient) => Promise<T>): Promise<T> {
  const client = await ClusterClient.connect(configFrom(flags));
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

export function registerJobCommands(program: Command): void {
  withConnectionOptions(program.command('list'))
    .description('the jobs the Job Manager knows, newest last')
    .option('--json', 'one JSON document')
    .action((flags: ConnectionFlags & { json?: boolean }) => withClient(flags, async (client) => {
      const jobs = await client.list();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(jobs)}\n`);
        return;
      }
      if (jobs.length === 0) process.stdout.write('no jobs\n');
      for (const job of jobs) {
        process.stdout.write(`${job.jobId}  ${job.state.padEnd(10)}  ${job.submittedAt}  ${job.name}${job.cause ? `  (${job.cause})` : ''}\n`);
      }
    }));

  withConnectionOptions(program.command('status'))
    .description('one job as JSON: its state, and per vertex its records and frames in and out, busy and backpressured time, queued frames')
    .argument('<job>', 'job id')
    .action((jobId: string, flags: ConnectionFlags) => withClient(flags, async (client) => {
      const result = await client.status(jobId);
      process.stdout.write(`${JSON.stringify({ ...result, collected: undefined }, null, 2)}\n`);
    }));

  withConnectionOptions(program.command('cancel'))
    .description('cancel a job: every task stops and its slots are freed')
    .argument('<job>', 'job id')
    .action((jobId: string, flags: ConnectionFlags) => withClient(flags, async (client) => {
      await client.cancel(jobId);
      const result = await client.result(jobId);
      process.stdout.write(`job ${jobId} ${result.state}\n`);
    }));

  withConnectionOptions(program.command('savepoint'))
    .description('take a savepoint of a running job; prints where it is, for run --from-savepoint')
    .argument('<job>', 'job id')
    .action((jobId: string, flags: ConnectionFlags) => withClient(flags, async (client) => {
      process.stdout.write(`${await client.savepoint(jobId)}\n`);
    }));

  withConnectionOptions(program.command('stop'))
    .description('stop a job gracefully: a final savepoint, then its sources end and it FINISHES with its sinks committed')
    .argument('<job>', 'job id')
    .option('--savepoint', 'take the final savepoint (always done; accepted for Flink users)')
    .action((jobId: string, flags: ConnectionFlags) => withClient(flags, async (client) => {
      const pointer = await client.savepoint(jobId, { stop: true });
      process.stdout.write(`savepoint ${pointer}\n`);
      const result = await client.result(jobId);
      process.stdout.write(`job ${jobId} ${result.state}\n`);
      if (result.state !== 'FINISHED') process.exitCode = 1;
    }));

  withConnectionOptions(program.command('events'))
    .description('lifecycle events of jobs, tasks and Task Managers, replayed from the start, in order')
    .option('--job <job>', 'only this job\'s events')
    .option('--follow', 'keep printing new events as they happen')
    .option('--json', 'one JSON object per line')
    .action((flags: ConnectionFlags & { job?: string; follow?: boolean; json?: boolean }) => withClient(flags, async (client) => {
      if (flags.job) await client.status(flags.job);
      const stop = (): void => { void client.close().finally(() => process.exit(0)); };
      process.once('SIGINT', stop);
      for await (const event of readEvents(client.transport.connection, client.subjects, { jobId: flags.job, follow: flags.follow ?? false })) {
        process.stdout.write(`${flags.json ? JSON.stringify(event) : formatEvent(event)}\n`);
      }
    }));
}
