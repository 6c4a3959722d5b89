/**
 * The job lifecycle as a pure XState definition; state keys are Flink's JobStatus names.
 * Side effects (deploying, cancelling tasks, publishing events) belong to the owning actor.
 */
import { assign, setup, type SnapshotFrom } from 'xstate';
import type { JobStatus } from '../../lib/events/types.ts';

export interface JobMachineInput {
  jobId: string;
  jobName: string;
}

// Flat, with optional extras: a `restartStrategy` (and its bookkeeping) joins as new fields.
export interface JobMachineContext {
  jobId: string;
  jobName: string;
  cause?: string;
}

export type JobMachineEvent =
  | { type: 'TASKS_RUNNING' }
  | { type: 'ALL_TASKS_FINISHED' }
  | { type: 'TASK_FAILED'; cause: string }
  | { type: 'SCHEDULING_FAILED'; cause: string }
  | { type: 'CANCEL' }
  | { type: 'ALL_TASKS_TERMINATED' };

// The handler for TASK_FAILED and SCHEDULING_FAILED; both events carry a cause.
const failWithCause = {
  target: 'FAILING',
  actions: { type: 'recordCause', params: ({ event }: { event: { cause: string } }) => ({ cause: event.cause }) },
} as const;

export const jobMachine = setup({
  types: {
    context: {} as JobMachineContext,
    events: {} as JobMachineEvent,
    input: {} as JobMachineInput,
  },
  actions: {
    recordCause: assign((_, params: { cause: string }) => ({ cause: params.cause })),
  },
}).createMachine({
  id: 'job',
  initial: 'CREATED',
  context: ({ input }) => ({ jobId: input.jobId, jobName: input.jobName }),
  states: {
    CREATED: {
      on: {
        TASKS_RUNNING: 'RUNNING',
        TASK_FAILED: failWithCause,
        SCHEDULING_FAILED: failWithCause,
        CANCEL: 'CANCELLING',
      },
    },
    RUNNING: {
      on: {
        ALL_TASKS_FINISHED: 'FINISHED',
        TASK_FAILED: failWithCause,
        CANCEL: 'CANCELLING',
      },
    },
    // Later TASK_FAILEDs are the fallout of the first one, so they are not handled here.
    FAILING: {
      on: { ALL_TASKS_TERMINATED: 'FAILED' },
    },
    CANCELLING: {
      on: { ALL_TASKS_TERMINATED: 'CANCELED' },
    },
    FAILED: { type: 'final' },
    CANCELED: { type: 'final' },
    FINISHED: { type: 'final' },
  },
});

export type JobMachineSnapshot = SnapshotFrom<typeof jobMachine>;

export function jobStatusOf(snapshot: JobMachineSnapshot): JobStatus {
  return snapshot.value;
}
