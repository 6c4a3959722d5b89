/**
 * Lifecycle events: published as JSON on `<p>.events.…` (so any NATS client can read them)
 * and retained in a JetStream stream so a late monitor can replay them.
 */

export type JobStatus =
  | 'CREATED' | 'RUNNING' | 'FAILING' | 'FAILED' | 'CANCELLING' | 'CANCELED' | 'FINISHED' | 'RESTARTING';

export type TaskState =
  | 'CREATED' | 'SCHEDULED' | 'DEPLOYING' | 'INITIALIZING' | 'RUNNING'
  | 'FINISHED' | 'CANCELING' | 'CANCELED' | 'FAILED';

export const TERMINAL_JOB_STATES: readonly JobStatus[] = ['FINISHED', 'FAILED', 'CANCELED'];

export interface JobStateEvent {
  type: 'job.state';
  jobId: string;
  jobName: string;
  from: JobStatus | null;
  to: JobStatus;
  cause?: string;
  at: string;
}

export interface TaskStateEvent {
  type: 'task.state';
  jobId: string;
  vertexId: string;
  vertexName: string;
  subtask: number;
  parallelism: number;
  from: TaskState | null;
  to: TaskState;
  tmId?: string;
  cause?: string;
  at: string;
}

/**
 * A region of a job failed and re-runs alone while the job stays RUNNING (a blocking batch
 * job): its tasks start again from their stored inputs.
 */
export interface JobFailoverEvent {
  type: 'job.failover';
  jobId: string;
  jobName: string;
  cause: string;
  /** The tasks that re-run. */
  tasks: { vertexId: string; vertexName: string; subtask: number; parallelism: number }[];
  /** Milliseconds before they are deployed again (the restart strategy's delay). */
  delayMs: number;
  at: string;
}

export interface TaskManagerEvent {
  type: 'tm.registered' | 'tm.lost' | 'tm.refused';
  tmId: string;
  slots: number;
  cause?: string;
  at: string;
}

/** A submission that failed validation; published under the id it would have had. */
export interface JobRejectedEvent {
  type: 'job.rejected';
  jobId: string;
  jobName?: string;
  issues: { path: string; message: string }[];
  at: string;
}

/** Checkpoints and savepoints of a job, on `<p>.events.checkpoint.<jobId>`. */
export type CheckpointEvent =
  | { type: 'checkpoint.triggered'; jobId: string; checkpointId: number; savepoint: boolean; at: string }
  | {
    type: 'checkpoint.completed'; jobId: string; checkpointId: number; savepoint: boolean;
    /** Bytes of state written by every task. */
    size: number; durationMs: number;
    /** The longest barrier alignment of any task. */
    alignmentMs: number;
    /** Where it is: a directory or a jetstream:// URL, usable with --from-savepoint. */
    pointer: string; at: string;
  }
  | { type: 'checkpoint.failed'; jobId: string; checkpointId: number; savepoint: boolean; reason: string; at: string };

export type LifecycleEvent = JobStateEvent | JobFailoverEvent | TaskStateEvent | TaskManagerEvent | JobRejectedEvent | CheckpointEvent;
