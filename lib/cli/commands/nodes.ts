import type { Command } from 'commander';
import { startJobManager } from '../../../actors/job-manager/index.ts';
import { startTaskManager } from '../../../actors/task-manager/index.ts';
import { configFrom, positiveInteger, withConnectionOptions, type ConnectionFlags } from '../options.ts';
import { createLogger } from '../../log/index.ts';

/** Stops on SIGINT/SIGTERM, once; a second signal exits at once. */
function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (): void => {
    if (stopping) process.exit(130);
    stopping = true;
    void stop().finally(() => process.exit(0));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

export function registerNodeCommands(program: Command): void {
  withConnectionOptions(program.command('jobmanager'))
    .description('run a Job Manager (and the Scheduler beside it) on this host')
    .action(async (flags: ConnectionFlags) => {
      const config = configFrom(flags);
      const logger = createLogger({ node: 'jobmanager' }, config.log.level);
      logger.info({ nats: config.nats.servers }, 'connecting to NATS (waiting until it is reachable)');
      const node = await startJobManager({ config, logger });
      onShutdown(() => node.stop());
    });

  withConnectionOptions(program.command('taskmanager'))
    .description('run a Task Manager on this host; it registers with the Job Manager when it appears')
    .option('--slots <n>', 'task slots offered (env CLOUDFLINK_SLOTS)', positiveInteger('--slots'))
    .option('--id <id>', 'task manager id, a subject token (default tm-<host>-<pid>)')
    .action(async (flags: ConnectionFlags & { slots?: number; id?: string }) => {
      if (flags.id !== undefined && !/^[A-Za-z0-9_-]+$/.test(flags.id)) {
        throw new Error(`--id must be letters, digits, _ or - (it is part of NATS subjects), got '${flags.id}'`);
      }
      const config = configFrom(flags);
      const node = await startTaskManager({ config, tmId: flags.id, slots: flags.slots });
      onShutdown(() => node.stop());
      const outcome = await node.registration;
      if (!outcome.ok) {
        process.stderr.write(`task manager ${node.tmId} refused: ${outcome.error.message}\n`);
        await node.stop();
        process.exit(2);
      }
    });
}
