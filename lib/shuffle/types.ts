/**
 * Blocking result partitions ("shuffle storage"): in batch mode a producing subtask writes
 * what it sends each consumer subtask to storage, and the consumer reads it back once the
 * producer has finished, as Flink's blocking result partitions do.
 */

/**
 * One blocking result partition: what producer subtask `from` sent to consumer subtask `to` on
 * edge `edgeIndex`, in one attempt of a job and one run (`execution`) of the producer: a re-run
 * writes beside an earlier run, never over it, so a consumer reads the run it was told of whole.
 */
export interface PartitionId { jobId: string; attempt: number; execution: number; edgeIndex: number; from: number; to: number }

export interface PartitionWriter {
  /** Appends one frame after the ones before; resolves once it is written (the caller sends its next frame against that). Writes are ordered even if the caller does not await. */
  write(frame: Uint8Array): Promise<void>;
  /** Makes the partition readable under its name, whole: a reader finds all of it or none of it (temp name + rename; an object-store put completes only at the end). Rejects with a clear error if any write failed. */
  close(): Promise<void>;
  /** Gives up: nothing under the partition's name, temporary data removed. Never throws. */
  abort(): Promise<void>;
}

export interface ShuffleStorage {
  /** For logs and errors, e.g. "directory /tmp/x" or "JetStream object store CF_SHUFFLE_cf_default". */
  readonly description: string;
  /** A writer for a partition; writing it again (a re-run of the producer) replaces the earlier one on close. */
  writer(id: PartitionId): PartitionWriter;
  /** The frames of a closed partition, in the order written, streamed (never the whole partition in memory). A missing partition rejects on the first next() with a CloudflinkError (code 'SHUFFLE_MISSING') saying which partition and where. */
  read(id: PartitionId): AsyncIterableIterator<Uint8Array>;
  /** Deletes every partition of a job (all attempts), or only those of attempts below `beforeAttempt`. Missing is fine. */
  discard(jobId: string, beforeAttempt?: number): Promise<void>;
  close(): Promise<void>;
}
