import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What `cluster up --detach` leaves behind, so that `cluster down` and other commands find the cluster. */
export interface DetachedCluster {
  base: string;
  natsUrl: string;
  /** The NATS server we started (absent when `--nats` was given), then the nodes. */
  pids: { nats?: number; jobManager: number; taskManagers: number[] };
  natsStoreDir?: string;
  logDir: string;
  startedAt: string;
}

export function stateFile(base: string): string {
  return join(tmpdir(), `cloudflink-${base}.json`);
}

export function readDetachedCluster(base: string): DetachedCluster | undefined {
  const file = stateFile(base);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DetachedCluster;
  } catch {
    return undefined;
  }
}

export function writeDetachedCluster(state: DetachedCluster): void {
  writeFileSync(stateFile(state.base), `${JSON.stringify(state, null, 2)}\n`);
}

export function forgetDetachedCluster(base: string): void {
  rmSync(stateFile(base), { force: true });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
