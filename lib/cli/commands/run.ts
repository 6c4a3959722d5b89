import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ClusterClient, type JobResult } from '../../client/index.ts';
import { startLocalCluster, type LocalCluster } from '../../cluster/local.ts';
import { formatEvent, TERMINAL_JOB_STATES } from '../../events/index.ts';
import { DescriptorInvalidError } from '../../errors/index.ts';
import { collectParam, loadJobFile } from '../job-file.ts';
import { Progress } from '../progress.ts';
import { configFrom, positiveInteger, withConnectionOptions, type ConnectionFlags } from '../options.ts';

interface RunFlags extends ConnectionFlags {
  param: Record<string, string>;
  parallelism?: number;
  wait?: boolean;
  embedded?: boolean;
  printEvents?: boolean;
  fromSavepoint?: string;
}

/** Exit status of `run --wait`: the job's final state. */
export const EXIT_CODES = { FINISHED: 0, FAILED: 1, CANCELED: 3 } as const;

export function registerRunCommand(program: Command): void {
  withConnectionOptions(program.command('run'))
    .description('submit a job: a TypeScript/JavaScript job file or a JSON descriptor')
    .argument('<file>', 'the job: a .ts/.js module (export default (env, params) => …) or a .json descriptor')
    .option('--param <key=value>', 'a job parameter, visible to functions as params.key (repeatable)', collectParam, {})
    .option('--parallelism <n>', 'the job\'s default parallelism', positiveInteger('--parallelism'))
    .option('--wait', 'follow the job: progress while it runs, then exit with its final state (0 FINISHED, 1 FAILED, 3 CANCELED)')
    .option('--embedded', 'run on a local cluster started for this job (nats-server, a Job Manager, two Task Managers)')
    .option('--print-events', 'with --wait: print every task\'s lifecycle events too')
    .option('--from-savepoint <path>', 'start from a savepoint (or a retained checkpoint): its directory, or its jetstream:// URL')
    .action(async (file: string, flags: RunFlags) => {
      const descriptor = await loadJobFile(file, { params: flags.param, parallelism: flags.parallelism });
      let local: LocalCluster | undefined;
      let logDir: string | undefined;
      let config = configFrom(flags);
      if (flags.embedded) {
        process.stderr.write('starting an embedded cluster: nats-server, a job manager and 2 task managers…\n');
        logDir = mkdtempSync(join(tmpdir(), 'cloudflink-embedded-'));
        local = await startLocalCluster({
          config: { ...config, log: { level: flags.logLevel ?? 'warn' } }, taskManagers: 2, slots: 2, logDir, taskManagerStdout: 'inherit',
        });
        config = local.config;
      }
      const client = await ClusterClient.connect(config);
      let interrupted = false;
      const onInterrupt = (): void => {
        if (interrupted) process.exit(130);
        interrupted = true;
        process.stderr.write('\ninterrupted: cancelling the job…\n');
      };
      try {
        let jobId: string;
        try {
          jobId = await client.submit(descriptor, { restoreFrom: flags.fromSavepoint });
        } catch (error) {
          if (error instanceof DescriptorInvalidError) process.stderr.write(`job rejected: ${error.message}\n`);
          throw error;
        }
        process.stdout.write(`submitted job ${jobId} (${descriptor.name})\n`);
        if (!flags.wait && !flags.embedded) return;
        if (flags.embedded) process.once('SIGINT', onInterrupt);
        const result = await follow(client, jobId, new Progress(descriptor), { printEvents: flags.printEvents ?? false, cancelWhen: () => interrupted });
        printResult(result);
        process.exitCode = EXIT_CODES[result.state as keyof typeof EXIT_CODES] ?? 1;
      } finally {
        await client.close();
        await local?.stop();
        // The embedded cluster's logs are kept only when the job did not finish: they say why.
        if (logDir && process.exitCode === 0) rmSync(logDir, { recursive: true, force: true });
        else if (logDir) process.stderr.write(`the embedded cluster's logs are in ${logDir}\n`);
      }
    });
}

/** Prints job events (and task events when asked) and a progress line per second until the job ends. */
async function follow(client: ClusterClient, jobId: string, progressLine: Progress, options: { printEvents: boolean; cancelWhen: () => boolean }): Promise<JobResult> {
  let cancelled = false;
  const progress = setInterval(() => {
    if (options.cancelWhen() && !cancelled) {
      cancelled = true;
      void client.cancel(jobId).catch(() => undefined);
    }
    void client.status(jobId, { collected: false }).then((status) => {
      if (TERMINAL_JOB_STATES.includes(status.state)) return;
      process.stderr.write(`${progressLine.line(status)}\n`);
    }, () => undefined);
  }, 1000);
  try {
    for await (const event of client.events(jobId)) {
      progressLine.onEvent(event);
      if (event.type !== 'task.state' || options.printEvents) process.stderr.write(`${formatEvent(event)}\n`);
    }
  } finally {
    clearInterval(progress);
  }
  return client.status(jobId);
}

const inSeconds = (ms: number | undefined): string => `${((ms ?? 0) / 1000).toFixed(2).padStart(6)} s`;

function printResult(result: JobResult): void {
  const seconds = result.durationMs === undefined ? '' : ` in ${(result.durationMs / 1000).toFixed(2)} s`;
  process.stderr.write(`job ${result.jobId} (${result.name}) ${result.state}${seconds}${result.cause ? `: ${result.cause}` : ''}\n`);
  for (const v of result.vertices) {
    // Busy time of a chain is its head's; the operators chained after it show none of their own.
    process.stderr.write(`  ${v.name.padEnd(24)} ×${v.parallelism}  records in ${String(v.recordsIn).padStart(10)}  out ${String(v.recordsOut).padStart(10)}` +
      `  busy ${inSeconds(v.busyMs)}  backpressured ${inSeconds(v.backpressuredMs)}${v.framesLost ? `  FRAMES LOST ${v.framesLost}` : ''}\n`);
  }
  for (const [vertexId, records] of Object.entries(result.collected)) {
    process.stdout.write(`collected by ${vertexId} (${records.length} records):\n`);
    for (const record of records) process.stdout.write(`${typeof record === 'string' ? record : JSON.stringify(record)}\n`);
  }
}
