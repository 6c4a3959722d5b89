import type { StateHandle } from '../../lib/checkpoint/types.ts';
import type { WireError } from '../../lib/errors/index.ts';
import type { JobResult, JobSummary } from '../../lib/client/types.ts';
import type { TaskState } from '../../lib/events/types.ts';
import type { SlotRef } from '../scheduler/protocol.ts';

/** Per-subtask counters, carried by heartbeats and final task reports. */
export interface TaskMetrics {
  jobId: string;
  vertexId: string;
  subtask: number;
  recordsIn: number;
  recordsOut: number;
  framesIn: number;
  /** Frames that never arrived (a gap in a channel's numbering); anything but 0 fails the task. */
  framesLost: number;
  framesOut: number;
  /** Time spent processing (a chain's head counts the whole chain). */
  busyMs: number;
  /** Time with output frames waiting for credit. */
  backpressuredMs: number;
  /** Input frames queued plus output frames waiting for credit, now. */
  queuedFrames: number;
  /** The most frames ever queued on one input channel (at most its credits). */
  peakQueuedFrames: number;
  /** The most frames ever waiting for credit on one output channel. */
  peakWaitingFrames: number;
}

export interface TaskManagerView {
  tmId: string;
  slots: number;
  freeSlots: number;
  lastHeartbeatMsAgo: number;
}

export interface ClusterView {
  jobManagerId: string;
  taskManagers: TaskManagerView[];
  totalSlots: number;
  freeSlots: number;
}

/** Messages the Job Manager accepts on `<p>.jm` (and heartbeats on `<p>.hb.<tmId>`). */
export type JobManagerMessage =
  // from clients (ask)
  /** `restoreFrom`: a savepoint or checkpoint pointer to start from. */
  | { type: 'submit'; descriptor: unknown; restoreFrom?: string }
  /** Answers `{ checkpointId }` at once; the outcome is a checkpoint event. `stop`: stop-with-savepoint. */
  | { type: 'savepoint'; jobId: string; stop?: boolean }
  | { type: 'list' }
  | { type: 'status'; jobId: string }
  /** The records a collect sink gathered, a page (about 256 KB) from `offset`: a status carries only their counts. */
  | { type: 'collected'; jobId: string; vertexId: string; offset: number }
  | { type: 'cancel'; jobId: string }
  | { type: 'cluster' }
  // from Task Managers
  | { type: 'register-tm'; tmId: string; incarnation: string; slots: number }
  | { type: 'heartbeat'; tmId: string; incarnation: string; slots: number; usedSlots: number; tasks: TaskMetrics[] }
  /** `execution`: which run of the subtask within the attempt; `holdsCommit`: finished, its sink's final commit held by its TM. */
  | {
    type: 'task-status'; jobId: string; attempt: number; execution?: number; vertexId: string; subtask: number;
    state: Extract<TaskState, 'INITIALIZING' | 'RUNNING' | 'FINISHED' | 'FAILED' | 'CANCELED'>;
    error?: WireError; metrics?: TaskMetrics; collected?: unknown[]; holdsCommit?: boolean;
  }
  // from operator instances
  | { type: 'checkpoint-ack'; jobId: string; attempt: number; checkpointId: number; vertexId: string; subtask: number; handle: StateHandle; alignmentMs: number }
  | { type: 'checkpoint-declined'; jobId: string; attempt: number; checkpointId: number; reason: string; counts: boolean }
  // from the Scheduler
  | { type: 'slots-granted'; requestId: string; slots: SlotRef[] }
  | { type: 'slots-unavailable'; requestId: string; needs: number; total: number }
  // from itself (timers, and the outcome of deploy asks)
  | { type: 'check-heartbeats' }
  | { type: 'deployed'; jobId: string; attempt: number; tmId: string }
  | { type: 'deploy-failed'; jobId: string; attempt: number; tmId: string; tasks: { vertexId: string; subtask: number; execution: number }[]; error: WireError }
  | { type: 'checkpoint-trigger'; jobId: string }
  | { type: 'checkpoint-timeout'; jobId: string; checkpointId: number }
  | { type: 'restart-due'; jobId: string; attempt: number }
  /** The restart delay of failed regions (by index) passed: they re-run once their tasks are down. */
  | { type: 'regions-due'; jobId: string; attempt: number; regions: number[] }
  /** At start: take over the jobs a previous Job Manager of this cluster was running. */
  | { type: 'resume-jobs' }
  | { type: 'job-committed'; jobId: string; attempt: number; tmId: string }
  | { type: 'commit-failed'; jobId: string; attempt: number; tmId: string; error: WireError }
  /** Local only: the continuation of an async step, run in the mailbox. */
  | { type: 'continue'; step: () => void };

export type SubmitReply = { jobId: string };
export type SavepointReply = { checkpointId: number };
export type ListReply = JobSummary[];
export type StatusReply = JobResult;
export type CollectedReply = { records: unknown[]; total: number };
export type RegisterReply = { jobManagerId: string; heartbeatIntervalMs: number; heartbeatTimeoutMs: number };
