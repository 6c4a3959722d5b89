import { CloudflinkError } from '../errors/index.ts';
import type { CheckpointMetadata } from './types.ts';

/** Metadata file of a checkpoint directory, and the flag that separates the two kinds. */
export type CheckpointKind = 'chk' | 'sp';

export function kindOf(metadata: Pick<CheckpointMetadata, 'savepoint'>): CheckpointKind {
  return metadata.savepoint ? 'sp' : 'chk';
}

/**
 * Storage failures and missing checkpoints. INTERNAL until lib/errors has a checkpoint code;
 * the message names the path or pointer, `data` carries it.
 */
export function checkpointError(message: string, data: Record<string, unknown>, cause?: unknown): CloudflinkError {
  return new CloudflinkError('INTERNAL', message, { data, cause });
}

// Job ids become a directory name and a KV key token: no '/', '.', or anything a shell or NATS minds.
const JOB_ID = /^[A-Za-z0-9_-]+$/;

export function checkJobId(jobId: string): void {
  if (!JOB_ID.test(jobId)) {
    throw checkpointError(`job id '${jobId}' cannot name a checkpoint: use letters, digits, '_' and '-' only`, { jobId });
  }
}

export function checkCheckpointId(checkpointId: number): void {
  if (!Number.isSafeInteger(checkpointId) || checkpointId < 0) {
    throw checkpointError(`checkpoint id must be a whole number >= 0, got ${String(checkpointId)}`, { checkpointId });
  }
}

/** `<vertexId>-<subtask>` safe for a file or object name: vertex ids may hold '/', spaces or any Unicode. */
export function stateName(vertexId: string, subtask: number): string {
  return `${encodeURIComponent(vertexId)}-${subtask}`;
}

/** Parses metadata JSON and checks the fields a restore relies on, so a wrong file fails here, not mid-restore. */
export function parseMetadata(text: string, where: string): CheckpointMetadata {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw checkpointError(`${where} is not checkpoint metadata: ${(error as Error).message}`, { where }, error);
  }
  const m = value as Partial<CheckpointMetadata> | null;
  const ok = typeof m === 'object' && m !== null && typeof m.jobId === 'string' && Number.isInteger(m.checkpointId) &&
    typeof m.savepoint === 'boolean' && Number.isInteger(m.maxParallelism) && typeof m.vertices === 'object' && m.vertices !== null;
  if (!ok) throw checkpointError(`${where} is not checkpoint metadata (jobId, checkpointId, savepoint, maxParallelism or vertices missing)`, { where });
  return m as CheckpointMetadata;
}

/** Ids from names such as `chk-12`, for one kind. */
export function idOf(name: string, kind: CheckpointKind): number | undefined {
  const match = new RegExp(`^${kind}-(\\d+)$`).exec(name);
  return match ? Number(match[1]) : undefined;
}

/** What retain() removes: completed ones beyond the `retained` latest, and partial ones older than the latest complete. */
export function toDiscard(completed: number[], partial: number[], retained: number): number[] {
  // Keeping none would throw away the checkpoint a restart needs: at least one stays.
  const keep = Math.max(1, Math.floor(retained));
  const sorted = [...completed].sort((a, b) => a - b);
  const latest = sorted.at(-1);
  const old = sorted.slice(0, Math.max(0, sorted.length - keep));
  const abandoned = latest === undefined ? [] : partial.filter((id) => id < latest);
  return [...new Set([...old, ...abandoned])].sort((a, b) => a - b);
}
