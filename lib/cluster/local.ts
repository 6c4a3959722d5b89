import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClusterClient } from '../client/index.ts';
import type { CloudflinkConfig } from '../config/index.ts';
import { CloudflinkError } from '../errors/index.ts';
import { startLocalNats, type LocalNats } from '../nats-server/index.ts';

export const CLI_ENTRY = fileURLToPath(new URL('../../scripts/bin/cloudflink.mjs', import.meta.url));

export interface LocalClusterOptions {
  config: CloudflinkConfig;
  taskManagers: number;
  slots: number;
  /** Use this NATS instead of starting one. */
  natsUrl?: string;
  /** Node logs go to files here; without it they go to this process's stderr. */
  logDir?: string;
  /** Detached processes outlive this one (`cluster up --detach`). */
  detach?: boolean;
  /** Where the print sinks of Task Managers write; default: this process's stdout. */
  taskManagerStdout?: 'inherit' | 'ignore' | 'pipe';
  /** How long to wait for every node to be up. */
  readyTimeoutMs?: number;
}

export interface LocalCluster {
  natsUrl: string;
  nats?: LocalNats;
  jobManager: ChildProcess;
  taskManagers: Map<string, ChildProcess>;
  config: CloudflinkConfig;
  startTaskManager(tmId?: string): Promise<ChildProcess>;
  /** Starts a (new) Job Manager process, for example after the last one was killed. */
  startJobManager(): ChildProcess;
  stop(): Promise<void>;
}

/** Node processes of a cluster on this host: `cluster up`, `run --embedded` and the end-to-end specs use it. */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const nats = options.natsUrl ? undefined : await startLocalNats({ detached: options.detach });
  const natsUrl = options.natsUrl ?? nats!.url;
  const config: CloudflinkConfig = { ...options.config, nats: { ...options.config.nats, servers: [natsUrl] } };
  const children: ChildProcess[] = [];
  const taskManagers = new Map<string, ChildProcess>();
  if (options.logDir) mkdirSync(options.logDir, { recursive: true });

  const node = (name: string, args: string[], stdout: 'inherit' | 'ignore' | 'pipe'): ChildProcess => {
    const log = options.logDir ? openSync(join(options.logDir, `${name}.log`), 'a') : 'inherit';
    const child = spawn(process.execPath, [CLI_ENTRY, ...args, ...connectionFlags(config)], {
      stdio: ['ignore', options.detach ? log : stdout, log],
      detached: options.detach ?? false,
      env: { ...process.env, CLOUDFLINK_LOG_LEVEL: config.log.level },
    });
    if (options.detach) child.unref();
    children.push(child);
    return child;
  };

  let nextTm = 1;
  const startTaskManager = async (tmId = `tm-${nextTm++}`): Promise<ChildProcess> => {
    const child = node(tmId, ['taskmanager', '--id', tmId, '--slots', String(options.slots)], options.taskManagerStdout ?? 'inherit');
    taskManagers.set(tmId, child);
    return child;
  };

  const stop = async (): Promise<void> => {
    await Promise.all(children.map((child) => stopProcess(child)));
    await nats?.stop();
  };

  try {
    const cluster: LocalCluster = {
      natsUrl, nats, taskManagers, config, startTaskManager, stop,
      jobManager: node('jobmanager', ['jobmanager'], 'ignore'),
      startJobManager: () => (cluster.jobManager = node('jobmanager', ['jobmanager'], 'ignore')),
    };
    for (let i = 0; i < options.taskManagers; i++) await startTaskManager();
    await waitForTaskManagers(config, options.taskManagers, options.readyTimeoutMs ?? 30_000, children);
    return cluster;
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The flags that carry a config's cluster identity and heartbeats to a child node. */
function connectionFlags(config: CloudflinkConfig): string[] {
  return [
    '--nats', config.nats.servers.join(','),
    '--prefix', config.cluster.prefix,
    '--cluster-id', config.cluster.id,
    '--heartbeat-interval', String(config.heartbeat.intervalMs),
    '--heartbeat-timeout', String(config.heartbeat.timeoutMs),
  ];
}

export async function waitForTaskManagers(config: CloudflinkConfig, count: number, timeoutMs: number, children: ChildProcess[] = []): Promise<void> {
  const client = await ClusterClient.connect(config);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const dead = children.find((c) => c.exitCode !== null);
      if (dead) throw new CloudflinkError('INTERNAL', `a cluster node exited at start (exit code ${dead.exitCode}); see its log`);
      const view = await client.cluster().catch(() => undefined);
      // A Task Manager offers its slots on its first heartbeat after registering; a job
      // submitted before that would find only some of them and pile into one process.
      if (view && view.taskManagers.length >= count && view.freeSlots === view.totalSlots) return;
      if (Date.now() > deadline) {
        throw new CloudflinkError('INTERNAL', `the cluster did not come up within ${timeoutMs} ms ` +
          `(${view?.taskManagers.length ?? 0} of ${count} task managers registered, ${view?.freeSlots ?? 0} of ${view?.totalSlots ?? 0} slots offered)`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await client.close();
  }
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
