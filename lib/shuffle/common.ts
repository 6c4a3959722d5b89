import { CloudflinkError } from '../errors/index.ts';
import type { PartitionId } from './types.ts';

// Job ids become a directory name and an object-name prefix: no '/', '.', or anything a shell or NATS minds.
const JOB_ID = /^[A-Za-z0-9_-]+$/;

/** Storage failures: INTERNAL, with the path or object in the message and in `data`. */
export function shuffleError(message: string, data: Record<string, unknown>, cause?: unknown): CloudflinkError {
  return new CloudflinkError('INTERNAL', message, { data, cause });
}

export function checkJobId(jobId: string): void {
  if (!JOB_ID.test(jobId)) {
    throw shuffleError(`job id '${jobId}' cannot name a shuffle partition: use letters, digits, '_' and '-' only`, { jobId });
  }
}

/** Throws unless every part of the id can go into a path or object name unchanged. */
export function checkPartitionId(id: PartitionId): void {
  checkJobId(id.jobId);
  for (const field of ['attempt', 'execution', 'edgeIndex', 'from', 'to'] as const) {
    const value = id[field];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw shuffleError(`shuffle partition ${field} must be a whole number >= 0, got ${String(value)}`, { ...id });
    }
  }
}

/** `a<attempt>/e<edgeIndex>/<from>.<execution>-<to>`: the partition's place below its job. */
export function partitionPath(id: PartitionId): string {
  return `a${id.attempt}/e${id.edgeIndex}/${id.from}.${id.execution}-${id.to}`;
}

/** The attempt of an `a<n>` name, if it is one. */
export function attemptOf(name: string): number | undefined {
  const match = /^a(\d+)$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** For messages: which partition, in words. */
export function describePartition(id: PartitionId): string {
  return `shuffle partition ${id.from}->${id.to} of edge ${id.edgeIndex} (job ${id.jobId}, attempt ${id.attempt}, run ${id.execution} of subtask ${id.from})`;
}

/** The reader's error for a partition that is not there, saying where it looked and what to do. */
export function missingPartition(id: PartitionId, where: string, cause?: unknown): CloudflinkError {
  return new CloudflinkError('SHUFFLE_MISSING',
    `${describePartition(id)} is not in ${where}: its producer subtask ${id.from} has not finished writing it, ` +
    'or it was discarded; re-run the producer before its consumers',
    { data: { ...id, where }, cause });
}

/** The reader's error for data that stops mid-frame or does not match what was stored. */
export function corruptPartition(id: PartitionId, where: string, why: string): CloudflinkError {
  return shuffleError(`${describePartition(id)} in ${where} is damaged (${why}); discard it and re-run the producer`, { ...id, where });
}
