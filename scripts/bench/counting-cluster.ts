/**
 * A local cluster (nats-server, a Job Manager, Task Managers, all real processes) for the
 * keyed counting job, with its logs and checkpoints inside one temp dir; killing its nodes
 * with kill -9 and waiting for it to be whole again.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClusterClient } from '../../lib/client/index.ts';
import { startLocalCluster, type LocalCluster } from '../../lib/cluster/local.ts';
import { loadConfig } from '../../lib/config/index.ts';
import type { Pids } from './cpu.ts';
import type { Scope } from './scope.ts';

export interface CountingClusterOptions {
  taskManagers: number;
  slots: number;
  /** The shipped defaults (500 / 3000) when absent. */
  heartbeat?: { intervalMs: number; timeoutMs: number };
  /** Logs and checkpoints go under it; the caller removes it. */
  dir: string;
}

export interface CountingCluster {
  cluster: LocalCluster;
  client: ClusterClient;
  taskManagers: number;
  slots: number;
  /** Each node's pid, by name, for the CPU meter. */
  pids(): Pids;
  /** Resolves once every Task Manager is registered and every slot free; tolerates a Job Manager still starting. */
  whole(timeoutMs?: number): Promise<void>;
  /** The last warnings and errors of every node (logs are at level warn), to explain a failure before the temp dir goes. */
  logTail(lines?: number): string;
  /** Closes the client and stops every node; once, however often it is called (the scope calls it too). */
  stop(): Promise<void>;
}

export async function startCountingCluster(options: CountingClusterOptions, scope: Scope): Promise<CountingCluster> {
  // Nodes read it from their environment; every node this cluster (re)starts inherits it.
  const previous = process.env.CLOUDFLINK_CHECKPOINT_DIR;
  process.env.CLOUDFLINK_CHECKPOINT_DIR = join(options.dir, 'checkpoints');
  scope.defer('restore CLOUDFLINK_CHECKPOINT_DIR', () => {
    if (previous === undefined) delete process.env.CLOUDFLINK_CHECKPOINT_DIR;
    else process.env.CLOUDFLINK_CHECKPOINT_DIR = previous;
  });
  const cluster = await startLocalCluster({
    config: loadConfig({ overrides: { log: { level: 'warn' }, ...(options.heartbeat ? { heartbeat: options.heartbeat } : {}) } }),
    taskManagers: options.taskManagers,
    slots: options.slots,
    taskManagerStdout: 'ignore',
    logDir: join(options.dir, 'logs'),
  });
  let client: ClusterClient | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= (async () => {
    await client?.close().catch(() => undefined);
    await cluster.stop();
  })());
  scope.defer('stop the cluster', stop);
  client = await ClusterClient.connect(cluster.config);
  const connected = client;

  return {
    cluster, client: connected, taskManagers: options.taskManagers, slots: options.slots, stop,
    logTail: (lines = 10) => logTail(join(options.dir, 'logs'), lines),
    pids: () => ({
      'nats-server': cluster.nats?.process.pid,
      jobmanager: cluster.jobManager.pid,
      ...Object.fromEntries([...cluster.taskManagers].map(([tmId, child]) => [tmId, child.pid])),
      client: process.pid,
    }),
    async whole(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let last = 'no answer from the Job Manager';
      for (;;) {
        const view = await connected.cluster().catch(() => undefined);
        if (view) {
          if (view.taskManagers.length === options.taskManagers && view.freeSlots === options.taskManagers * options.slots) return;
          last = `${view.taskManagers.length} of ${options.taskManagers} Task Managers, ${view.freeSlots} of ${view.totalSlots} slots free`;
        }
        if (Date.now() > deadline) throw new Error(`the cluster was not whole again within ${timeoutMs / 1000} s: ${last}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** The error with the nodes' last warnings and errors added to its message: what the temp dir's logs said before they went. */
export function withLogs(error: unknown, counting: CountingCluster): Error {
  const original = error instanceof Error ? error : new Error(String(error));
  const tail = counting.logTail();
  if (!tail) return original;
  const explained = new Error(`${original.message}\nthe nodes' last log lines:\n${tail}`, { cause: original });
  explained.stack = [explained.message, ...(original.stack?.split('\n').slice(1) ?? [])].join('\n');
  return explained;
}

/** kill -9; resolves with the moment the signal was sent (epoch ms) once the process is gone. */
export async function killHard(child: ChildProcess): Promise<number> {
  if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process ${child.pid} had already exited`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  const killedAt = Date.now();
  await exited;
  return killedAt;
}

function logTail(logDir: string, lines: number): string {
  if (!existsSync(logDir)) return '';
  return readdirSync(logDir).sort().flatMap((file) => {
    const tail = readFileSync(join(logDir, file), 'utf8').split('\n').filter((line) => line !== '').slice(-lines);
    return tail.length === 0 ? [] : [`--- ${file} (last ${tail.length} lines)`, ...tail];
  }).join('\n');
}
