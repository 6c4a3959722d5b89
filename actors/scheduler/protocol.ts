/** A slot of a Task Manager. With slot sharing (as Flink's default group), slot i runs subtask i of every vertex. */
export interface SlotRef {
  tmId: string;
  slot: number;
}

/** Messages the Scheduler accepts on `<p>.sched`. */
export type SchedulerMessage =
  | { type: 'tm-added'; tmId: string; slots: number }
  | { type: 'tm-removed'; tmId: string }
  /** Answered later by `slots-granted` or, after `timeoutMs` without enough slots, `slots-unavailable`, told to `replyTo`. */
  | { type: 'request-slots'; requestId: string; jobId: string; count: number; timeoutMs: number; replyTo: string }
  | { type: 'cancel-request'; requestId: string }
  /** Every slot of the job, or only `slots` (a grant that came too late). */
  | { type: 'release-slots'; jobId: string; slots?: SlotRef[] }
  | { type: 'request-expired'; requestId: string }
  | { type: 'view' };

export interface SchedulerView {
  taskManagers: { tmId: string; slots: number; used: { slot: number; jobId: string }[] }[];
  pending: { requestId: string; jobId: string; count: number }[];
}
