import { readdir, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where blocking batch operators spill, on this host: one directory per subtask run. */
export function spillRoot(): string {
  return join(tmpdir(), 'cloudflink-spill');
}

/** This host, as spill directory names carry it: a tmpdir shared by containers holds others' too. */
const HOST = hostname().replace(/[^A-Za-z0-9_.]/g, '_');

/**
 * The spill directory of one run of a subtask in this process. The host and process id at the
 * end are what tell, later, whether its owner is gone: a killed Task Manager never removes its own.
 */
export function spillDirectory(run: { jobId: string; attempt: number; execution: number; vertexId: string; subtask: number }): string {
  return join(spillRoot(), `${run.jobId}-${run.attempt}-${run.vertexId}-${run.subtask}-e${run.execution}-${HOST}-pid${process.pid}`);
}

const OWNER = /-pid(\d+)$/;

/** Removes the spill directories of this host whose process has exited; returns their names. */
export async function removeOrphanedSpills(root = spillRoot()): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  const orphans = names.filter((name) => {
    const owner = OWNER.exec(name);
    return owner !== null && name.endsWith(`-${HOST}-pid${owner[1]}`) && !isAlive(Number(owner[1]));
  });
  await Promise.all(orphans.map((name) => rm(join(root, name), { recursive: true, force: true })));
  return orphans;
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
