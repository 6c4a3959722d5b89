/**
 * The lifecycle of one subtask's execution, as a pure XState definition. The Job Manager
 * keeps one per subtask (like Flink's Execution) and feeds it its own decisions and the
 * status reports of Task Managers.
 */
import { assign, setup, type SnapshotFrom } from 'xstate';
import type { TaskState } from '../../lib/events/types.ts';

export interface TaskMachineInput {
  jobId: string;
  vertexId: string;
  subtask: number;
}

export interface TaskMachineContext {
  jobId: string;
  vertexId: string;
  subtask: number;
  tmId?: string;
  slot?: number;
  cause?: string;
}

export type TaskMachineEvent =
  | { type: 'SCHEDULE'; tmId: string; slot: number }
  | { type: 'DEPLOY' }
  | { type: 'INITIALIZE' }
  | { type: 'RUN' }
  | { type: 'FINISH' }
  | { type: 'FAIL'; cause: string }
  | { type: 'CANCEL' }
  | { type: 'CANCELED' }
  | { type: 'TM_LOST'; cause: string };

const TERMINAL_TASK_STATES: readonly TaskState[] = ['FINISHED', 'CANCELED', 'FAILED'];

export function isTerminalTaskState(state: TaskState): boolean {
  return TERMINAL_TASK_STATES.includes(state);
}

// The handler for FAIL and TM_LOST wherever they fail the task; both events carry a cause.
const failWithCause = {
  target: 'FAILED',
  actions: { type: 'recordCause', params: ({ event }: { event: { cause: string } }) => ({ cause: event.cause }) },
} as const;

export const taskMachine = setup({
  types: {
    context: {} as TaskMachineContext,
    events: {} as TaskMachineEvent,
    input: {} as TaskMachineInput,
  },
  actions: {
    assignSlot: assign((_, params: { tmId: string; slot: number }) => ({ tmId: params.tmId, slot: params.slot })),
    recordCause: assign((_, params: { cause: string }) => ({ cause: params.cause })),
  },
}).createMachine({
  id: 'task',
  initial: 'CREATED',
  context: ({ input }) => ({ jobId: input.jobId, vertexId: input.vertexId, subtask: input.subtask }),
  // FAIL and TM_LOST are spelled out per state: a root handler would also fire on a done
  // snapshot passed to the pure `transition()`, turning FINISHED into FAILED.
  states: {
    CREATED: {
      on: {
        SCHEDULE: {
          target: 'SCHEDULED',
          actions: { type: 'assignSlot', params: ({ event }) => ({ tmId: event.tmId, slot: event.slot }) },
        },
        CANCEL: 'CANCELED',
        FAIL: failWithCause,
        TM_LOST: failWithCause,
      },
    },
    SCHEDULED: {
      on: {
        DEPLOY: 'DEPLOYING',
        // Nothing runs yet, so there is nothing to wait for.
        CANCEL: 'CANCELED',
        FAIL: failWithCause,
        TM_LOST: failWithCause,
      },
    },
    DEPLOYING: {
      on: { INITIALIZE: 'INITIALIZING', CANCEL: 'CANCELING', FAIL: failWithCause, TM_LOST: failWithCause },
    },
    INITIALIZING: {
      on: { RUN: 'RUNNING', CANCEL: 'CANCELING', FAIL: failWithCause, TM_LOST: failWithCause },
    },
    RUNNING: {
      on: { FINISH: 'FINISHED', CANCEL: 'CANCELING', FAIL: failWithCause, TM_LOST: failWithCause },
    },
    CANCELING: {
      on: {
        CANCELED: 'CANCELED',
        // It completed before the cancel reached it.
        FINISH: 'FINISHED',
        // A failure while cancelling is the cancellation's doing.
        FAIL: 'CANCELED',
        // Its TM is gone and will never confirm.
        TM_LOST: failWithCause,
      },
    },
    FINISHED: { type: 'final' },
    CANCELED: { type: 'final' },
    FAILED: { type: 'final' },
  },
});

export type TaskMachineSnapshot = SnapshotFrom<typeof taskMachine>;

export function taskStateOf(snapshot: TaskMachineSnapshot): TaskState {
  return snapshot.value;
}
