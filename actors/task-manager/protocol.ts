import type { WireError } from '../../lib/errors/index.ts';
import type { TaskMetrics } from '../job-manager/protocol.ts';
import type { TaskDeployment } from '../operator/protocol.ts';

/** Messages a Task Manager accepts on `<p>.tm.<tmId>`. */
export type TaskManagerMessage =
  | { type: 'jm-heartbeat'; jobManagerId: string }
  /** The Job Manager does not know this TM (it restarted, or declared it lost): register again. */
  | { type: 'reregister' }
  | { type: 'deploy'; jobId: string; tasks: TaskDeployment[] }
  | { type: 'start-job'; jobId: string }
  | { type: 'cancel-job'; jobId: string }
  /** Cancels some tasks of a job (a region failing over); each is reported CANCELED, running here or not. */
  | { type: 'cancel-tasks'; jobId: string; attempt: number; tasks: { vertexId: string; subtask: number; execution: number }[] }
  // from its operator instances
  /** `commit`: a sink's final commit, held (in this process) until the job has FINISHED. */
  | { type: 'task-finished'; address: string; metrics: TaskMetrics; collected?: unknown[]; commit?: () => void }
  /** Every task of the job finished: run the final commits of its sinks here (an ask; the job is FINISHED once every TM answered). */
  | { type: 'commit-job'; jobId: string }
  | { type: 'actor.child-failed'; child: string; error: WireError }
  // from itself
  | { type: 'tick' }
  | { type: 'registered'; jobManagerId: string }
  | { type: 'registration-failed'; error: WireError };

export type DeployReply = { deployed: number };
