import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterClient } from '../../lib/client/index.ts';
import { loadConfig, type CloudflinkConfig } from '../../lib/config/index.ts';
import { startLocalCluster, type LocalCluster } from '../../lib/cluster/local.ts';
import { expect } from 'chai';
import type { JobHandle } from '../../lib/api/index.ts';
import type { JobFailoverEvent, JobStateEvent, LifecycleEvent } from '../../lib/events/types.ts';
import { eventually, startNats, type TestNats } from './nats.ts';

/** Heartbeats tuned so that a lost Task Manager is noticed quickly in specs. */
export const FAST_HEARTBEATS = { intervalMs: 200, timeoutMs: 1500 };

export function e2eConfig(natsUrl: string, clusterId: string): CloudflinkConfig {
  return loadConfig({
    overrides: {
      nats: { servers: [natsUrl] },
      cluster: { id: clusterId },
      heartbeat: FAST_HEARTBEATS,
      jobManager: { slotWaitMs: 3000 },
      log: { level: 'warn' },
    },
  });
}

/** A Job Manager and Task Managers as real node processes on the given NATS; stopping it removes their logs. */
export async function startProcessCluster(natsUrl: string, clusterId: string, taskManagers: number, slots: number): Promise<LocalCluster> {
  const logDir = mkdtempSync(join(tmpdir(), `cloudflink-spec-${clusterId}-`));
  const cluster = await startLocalCluster({ config: e2eConfig(natsUrl, clusterId), natsUrl, taskManagers, slots, taskManagerStdout: 'ignore', logDir });
  const stop = cluster.stop;
  cluster.stop = async () => {
    await stop();
    rmSync(logDir, { recursive: true, force: true });
  };
  return cluster;
}

export interface ProcessCluster {
  nats: TestNats;
  cluster: LocalCluster;
  client: ClusterClient;
}

/**
 * For one describe block: a nats-server of its own, a Job Manager and Task Managers as real
 * processes, and a client, started before its specs (`use` gets them) and stopped after.
 */
export function useProcessCluster(clusterId: string, taskManagers: number, slots: number, use: (started: ProcessCluster) => void): void {
  let started: Partial<ProcessCluster> = {};
  before(async () => {
    const nats = await startNats();
    started = { nats };
    const cluster = await startProcessCluster(nats.url, clusterId, taskManagers, slots);
    started.cluster = cluster;
    started.client = await ClusterClient.connect(e2eConfig(nats.url, clusterId));
    use(started as ProcessCluster);
  });
  after(async () => {
    await started.client?.close();
    await started.cluster?.stop();
    await started.nats?.stop();
  });
}

/** The CLI flags that reach the same cluster. */
export function clusterFlags(natsUrl: string, clusterId: string): string[] {
  return ['--nats', natsUrl, '--cluster-id', clusterId];
}

/** What a job that failed over by region went through, from its lifecycle events. */
export interface RegionFailovers {
  lifecycle: LifecycleEvent[];
  failovers: JobFailoverEvent[];
  /** How many times each task was deployed. */
  deployments: { vertexId: string; vertexName: string; subtask: number; count: number }[];
}

/**
 * A blocking batch job that lost tasks: it stayed RUNNING (never FAILING nor RESTARTING) if it
 * finished, each failover matched `cause`, and exactly the tasks the failovers named ran again,
 * once per failover naming them (if it failed, perhaps not the last ones); every other task ran once.
 */
export async function expectRegionFailover(handle: JobHandle, cause: RegExp): Promise<RegionFailovers> {
  const lifecycle: LifecycleEvent[] = [];
  for await (const e of handle.events()) lifecycle.push(e);
  const states = lifecycle.filter((e): e is JobStateEvent => e.type === 'job.state').map((e) => e.to);
  const failovers = lifecycle.filter((e): e is JobFailoverEvent => e.type === 'job.failover');
  expect(failovers.length, 'region failovers').to.be.greaterThan(0);
  for (const failover of failovers) expect(failover.cause).to.match(cause);
  const byTask = new Map<string, RegionFailovers['deployments'][number]>();
  for (const e of lifecycle) {
    if (e.type !== 'task.state' || e.to !== 'DEPLOYING') continue;
    const key = `${e.vertexId}/${e.subtask}`;
    if (!byTask.has(key)) byTask.set(key, { vertexId: e.vertexId, vertexName: e.vertexName, subtask: e.subtask, count: 0 });
    byTask.get(key)!.count++;
  }
  const deployments = [...byTask.values()];
  for (const { vertexId, vertexName, subtask, count } of deployments) {
    const rerun = failovers.filter((f) => f.tasks.some((t) => t.vertexId === vertexId && t.subtask === subtask)).length;
    // A job that failed may fail before a region it failed over ran again.
    const failed = states.at(-1) === 'FAILED';
    expect(count, `deployments of ${vertexName} (${vertexId}) subtask ${subtask + 1}`).to.be.within(failed ? 1 : 1 + rerun, 1 + rerun);
  }
  if (states.at(-1) === 'FINISHED') expect(states, states.join(', ')).to.deep.equal(['CREATED', 'RUNNING', 'FINISHED']);
  return { lifecycle, failovers, deployments };
}

/**
 * After a Task Manager was killed under a job: the job failed naming it, restarted and ran
 * again (from a checkpoint taken before the kill, when it checkpoints), and both Task Managers
 * registered again. Returns the job's lifecycle events.
 */
export async function expectRecoveredFromKill(
  client: ClusterClient, handle: JobHandle, victim: string, options: { fromCheckpoint: boolean } = { fromCheckpoint: true },
): Promise<LifecycleEvent[]> {
  const lifecycle: LifecycleEvent[] = [];
  for await (const e of handle.events()) lifecycle.push(e);
  const states = lifecycle.filter((e): e is JobStateEvent => e.type === 'job.state').map((e) => e.to);
  const failing = states.indexOf('FAILING');
  expect(states.slice(failing, failing + 3), states.join(', ')).to.deep.equal(['FAILING', 'RESTARTING', 'RUNNING']);
  const failedAt = lifecycle.findIndex((e) => e.type === 'job.state' && e.to === 'FAILING');
  expect((lifecycle[failedAt] as JobStateEvent).cause).to.match(new RegExp(`task manager ${victim} lost`));
  if (options.fromCheckpoint) {
    expect(lifecycle.slice(0, failedAt).some((e) => e.type === 'checkpoint.completed'), 'a checkpoint before the kill').to.equal(true);
  }
  await eventually(async () => (await client.cluster()).taskManagers.length === 2, 'both task managers registered again');
  return lifecycle;
}
