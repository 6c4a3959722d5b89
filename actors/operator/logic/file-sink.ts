import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import { asLine } from './sinks.ts';
import type { OperatorLogic } from './types.ts';

interface InProgress {
  path: string;
  fd: number;
  lines: string[];
}

/** Files closed at a checkpoint's barrier, committed when that checkpoint completes. */
interface Pending {
  checkpointId: number;
  files: string[];
}

export interface FileSinkState {
  pending: Pending[];
}

const WRITE_BATCH = 4096;

/**
 * An exactly-once file sink (two-phase commit, as Flink's FileSink): records go to a hidden
 * in-progress file; at a checkpoint's barrier that file is closed and becomes pending; when the
 * checkpoint completes, pending files are renamed to `part-…`, which is the commit. After a
 * restore, the files of the restored checkpoint are committed and what earlier attempts wrote
 * after it is deleted. What is left at end of input is committed once the
 * whole job has FINISHED (the final commit), never before: a failure until then replays it.
 */
export interface FileSinkTask {
  subtask: number;
  parallelism: number;
  jobId: string;
  attempt: number;
  /** The job whose checkpoint or savepoint this run restores (itself, or the job a savepoint came from). */
  restoredJobId?: string;
}

export function exactlyOnceFileSink(directory: string, task: FileSinkTask): OperatorLogic {
  const { subtask, parallelism } = task;
  try {
    mkdirSync(directory, { recursive: true });
  } catch (error) {
    throw new CloudflinkError('TASK_FAILED', `cannot create the output directory ${directory}: ${(error as Error).message}`, { cause: error });
  }
  let current: InProgress | undefined;
  let pending: Pending[] = [];

  const open = (): InProgress => {
    const path = join(directory, `.part-${task.jobId}-a${task.attempt}-${subtask}-${randomBytes(6).toString('hex')}.inprogress`);
    return { path, fd: openSync(path, 'wx'), lines: [] };
  };
  const write = (file: InProgress): void => {
    if (file.lines.length === 0) return;
    writeSync(file.fd, `${file.lines.join('\n')}\n`);
    file.lines = [];
  };
  const closeCurrent = (): string | undefined => {
    if (!current) return undefined;
    write(current);
    closeSync(current.fd);
    const path = current.path;
    current = undefined;
    return path;
  };
  const commit = (file: string): void => {
    const final = join(dirname(file), basename(file).replace(/^\./, '').replace(/\.inprogress$/, ''));
    if (existsSync(file)) renameSync(file, final);
    else if (!existsSync(final)) throw new CloudflinkError('TASK_FAILED', `the pending output file ${file} is gone; it cannot be committed`);
  };
  const commitUpTo = (checkpointId: number): void => {
    for (const entry of pending.filter((p) => p.checkpointId <= checkpointId)) entry.files.forEach(commit);
    pending = pending.filter((p) => p.checkpointId > checkpointId);
  };

  return {
    process(record) {
      current ??= open();
      current.lines.push(asLine(record));
      if (current.lines.length >= WRITE_BATCH) write(current);
    },
    snapshotState(checkpointId: number): FileSinkState {
      const closed = closeCurrent();
      if (closed) pending.push({ checkpointId, files: [closed] });
      return { pending: pending.map((p) => ({ ...p, files: [...p.files] })) };
    },
    notifyCheckpointComplete: commitUpTo,
    restoreState(states: unknown[]) {
      const restored = states as (FileSinkState | undefined)[];
      // Each old subtask's pending files are committed by exactly one new subtask.
      restored.forEach((state, oldSubtask) => {
        if (oldSubtask % parallelism !== subtask || !state) return;
        for (const entry of state.pending) entry.files.forEach(commit);
      });
      if (subtask === 0) discardUncommitted(directory, task, new Set(restored.flatMap((s) => s?.pending.flatMap((p) => p.files) ?? [])));
    },
    finish() {
      const closed = closeCurrent();
      if (closed) pending.push({ checkpointId: Number.MAX_SAFE_INTEGER, files: [closed] });
    },
    finalCommit: () => (pending.length === 0 ? undefined : () => commitUpTo(Number.MAX_SAFE_INTEGER)),
    close() {
      // Cancelled or failed: what is in progress stays uncommitted, and invisible.
      if (current) closeSync(current.fd);
      current = undefined;
    },
  };
}

/**
 * What earlier attempts (of this job, or of the job restored from) wrote after the checkpoint
 * restored is not part of the result: delete it, except the files that checkpoint commits.
 */
function discardUncommitted(directory: string, task: FileSinkTask, committedByRestore: Set<string>): void {
  const earlier = (name: string): boolean => {
    const match = /^\.part-([A-Za-z0-9_-]+)-a(\d+)-\d+-[0-9a-f]+\.inprogress$/.exec(name);
    if (!match) return false;
    const [, jobId, attempt] = match;
    return (jobId === task.jobId && Number(attempt) < task.attempt) || (jobId === task.restoredJobId && jobId !== task.jobId);
  };
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (earlier(name) && !committedByRestore.has(path)) rmSync(path, { force: true });
  }
}
