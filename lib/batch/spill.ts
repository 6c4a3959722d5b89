import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where blocking batch operators spill, on this host: one directory per subtask run. */
export function spillRoot(): string {
  return join(tmpdir(), 'cloudflink-spill');
}

/**
 * The spill directory of one run of a subtask in this process. The process id at the end is what
 * tells, later, whether its owner is gone: a killed Task Manager never removes its own.
 */
export function spillDirectory(run: { jobId: string; attempt: number; execution: number; vertexId: string; subtask: number }): string {
  return join(spillRoot(), `${run.jobId}-${run.attempt}-${run.vertexId}-${run.subtask}-e${run.execution}-pid${process.pid}`);
}

const OWNER = /-pid(\d+)$/;

/** Removes the spill directories whose process has exited; returns their names. */
export function removeOrphanedSpills(root = spillRoot()): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const owner = OWNER.exec(name);
    if (!owner || isAlive(Number(owner[1]))) continue;
    rmSync(join(root, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
