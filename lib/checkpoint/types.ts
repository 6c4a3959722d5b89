/** Where a task's snapshot for one checkpoint was written. */
export interface StateHandle {
  /** The storage's own key for the blob (a relative path, or an object name). */
  key: string;
  size: number;
}

/**
 * The metadata of a completed checkpoint or savepoint: written last, so its presence is
 * what makes a checkpoint complete. A restore reads it, then the handles it lists.
 */
export interface CheckpointMetadata {
  jobId: string;
  jobName: string;
  checkpointId: number;
  savepoint: boolean;
  triggeredAt: string;
  completedAt: string;
  durationMs: number;
  /** Total bytes of state. */
  size: number;
  maxParallelism: number;
  /** Vertex id → its parallelism then and the handle of each subtask (null: nothing to keep). */
  vertices: Record<string, { parallelism: number; handles: (StateHandle | null)[] }>;
}

/**
 * Checkpoint storage: a directory (the local default) or JetStream (Object Store for state,
 * KV for metadata). Tasks write their state; the Job Manager writes metadata, finds the
 * latest completed checkpoint, and discards old ones.
 */
export interface CheckpointStorage {
  /** For logs and errors: "directory /var/cf/checkpoints" or "JetStream object store CF_STATE_cf_default". */
  readonly description: string;
  writeState(jobId: string, checkpointId: number, vertexId: string, subtask: number, bytes: Uint8Array): Promise<StateHandle>;
  readState(jobId: string, handle: StateHandle): Promise<Uint8Array>;
  /** Completes a checkpoint; returns its pointer (a path or a `jetstream://…` URL), which `readMetadata` accepts. */
  writeMetadata(metadata: CheckpointMetadata): Promise<string>;
  readMetadata(pointer: string): Promise<CheckpointMetadata>;
  /** The latest completed checkpoint of a job (savepoints excluded), if any. */
  latest(jobId: string): Promise<{ pointer: string; metadata: CheckpointMetadata } | undefined>;
  /** Completed checkpoint ids of a job, ascending (savepoints excluded). */
  completed(jobId: string): Promise<number[]>;
  /** Deletes a checkpoint's state and metadata, complete or partial. */
  discard(jobId: string, checkpointId: number): Promise<void>;
  /** Keeps the `retained` latest completed checkpoints; discards older ones and partial ones older than the latest. */
  retain(jobId: string, retained: number): Promise<void>;
  close(): Promise<void>;
}

/** The `checkpoints` section of the configuration: where state goes and how much of it is kept. */
export interface CheckpointSettings {
  storage: 'directory' | 'jetstream';
  /** For 'directory'; '' means `<os tmpdir>/cloudflink-checkpoints/<prefix>.<id>`. */
  directory: string;
  /** Completed checkpoints kept per job; older ones are discarded. */
  retained: number;
  /** For 'jetstream': copies of each bucket; 3 with a NATS cluster survives the loss of a server. */
  replicas: number;
}
