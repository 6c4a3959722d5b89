import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ClusterClient } from '../../client/index.ts';
import { subjectBase } from '../../config/index.ts';
import { startLocalCluster } from '../../cluster/local.ts';
import { forgetDetachedCluster, isAlive, readDetachedCluster, writeDetachedCluster } from '../../cluster/state.ts';
import { configFrom, positiveInteger, withConnectionOptions, type ConnectionFlags } from '../options.ts';

export function registerClusterCommands(program: Command): void {
  const cluster = program.command('cluster').description('a local cluster: NATS, a Job Manager and Task Managers as processes');

  withConnectionOptions(cluster.command('up'))
    .description('start nats-server (unless --nats), a Job Manager and N Task Managers; Ctrl-C stops them all')
    .option('--task-managers <n>', 'how many Task Managers (1 to 10)', positiveInteger('--task-managers'), 2)
    .option('--slots <s>', 'slots per Task Manager', positiveInteger('--slots'), 2)
    .option('--detach', 'return once the cluster is up; stop it with `cloudflink cluster down`')
    .action(async (flags: ConnectionFlags & { taskManagers: number; slots: number; detach?: boolean }) => {
      if (flags.taskManagers > 10) throw new Error('--task-managers: a cluster holds 1 to 10 Task Managers');
      const config = configFrom({ ...flags, nats: flags.nats ?? 'nats://127.0.0.1:4222' });
      const base = subjectBase(config);
      const existing = readDetachedCluster(base);
      if (existing && isAlive(existing.pids.jobManager)) {
        throw new Error(`a cluster for ${base} is already up (NATS ${existing.natsUrl}); 'cloudflink cluster down' stops it`);
      }
      const logDir = mkdtempSync(join(tmpdir(), `cloudflink-${base}-logs-`));
      const local = await startLocalCluster({
        config, taskManagers: flags.taskManagers, slots: flags.slots, natsUrl: flags.nats, logDir, detach: flags.detach,
      });
      writeDetachedCluster({
        base, natsUrl: local.natsUrl, logDir, startedAt: new Date().toISOString(), natsStoreDir: local.nats?.storeDir,
        pids: { nats: local.nats?.process.pid, jobManager: local.jobManager.pid!, taskManagers: [...local.taskManagers.values()].map((c) => c.pid!) },
      });
      const out = process.stdout;
      out.write(`cluster ${base} is up\n`);
      out.write(`  NATS           ${local.natsUrl}${local.nats ? ' (started here, JetStream on)' : ''}\n`);
      out.write(`  job manager    pid ${local.jobManager.pid}\n`);
      out.write(`  task managers  ${[...local.taskManagers.keys()].map((id) => `${id} (${flags.slots} slots)`).join(', ')}\n`);
      out.write(`  logs           ${logDir}\n`);
      out.write(`submit a job:    npx cloudflink run FILE --wait\n`);
      if (flags.detach) {
        out.write('stop it with:    npx cloudflink cluster down\n');
        process.exit(0);
      }
      out.write('Ctrl-C stops the cluster.\n');
      const stop = async (): Promise<void> => {
        out.write('stopping the cluster…\n');
        await local.stop();
        forgetDetachedCluster(base);
        process.exit(0);
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
    });

  withConnectionOptions(cluster.command('down'))
    .description('stop a cluster started with `cluster up --detach`')
    .action(async (flags: ConnectionFlags) => {
      const base = subjectBase(configFrom(flags));
      const state = readDetachedCluster(base);
      if (!state) throw new Error(`no cluster for ${base} was started here with 'cloudflink cluster up --detach'`);
      const pids = [...state.pids.taskManagers, state.pids.jobManager, ...(state.pids.nats ? [state.pids.nats] : [])];
      for (const pid of pids) await terminate(pid);
      if (state.natsStoreDir) rmSync(state.natsStoreDir, { recursive: true, force: true });
      forgetDetachedCluster(base);
      process.stdout.write(`cluster ${base} is down (logs kept in ${state.logDir})\n`);
    });

  withConnectionOptions(cluster.command('status'))
    .description('the Job Manager and the Task Managers with their slots')
    .option('--json', 'one JSON document')
    .action(async (flags: ConnectionFlags & { json?: boolean }) => {
      const client = await ClusterClient.connect(configFrom(flags));
      try {
        const view = await client.cluster();
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(view)}\n`);
          return;
        }
        process.stdout.write(`job manager ${view.jobManagerId}: ${view.taskManagers.length} task managers, ${view.freeSlots}/${view.totalSlots} slots free\n`);
        for (const tm of view.taskManagers) {
          process.stdout.write(`  ${tm.tmId.padEnd(24)} ${tm.freeSlots}/${tm.slots} free  heartbeat ${tm.lastHeartbeatMsAgo} ms ago\n`);
        }
      } finally {
        await client.close();
      }
    });
}

async function terminate(pid: number): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 50 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}
