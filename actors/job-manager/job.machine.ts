/**
 * The job lifecycle as a pure XState definition; state keys are Flink's JobStatus names.
 * Side effects (deploying, cancelling tasks, restart timers, publishing events) belong to the owning actor.
 *
 * Persistence: the context is plain data, so `actor.getPersistedSnapshot()` stores as JSON and
 * `createActor(jobMachine, { snapshot })` resumes it; a Job Manager that keeps its own record
 * rebuilds the snapshot with `restoreJobSnapshot(status, context)`. Either way no timer survives:
 * the restart deadline lives in context (`restartDeadline(snapshot)`), and the owner re-arms it.
 */
import { assign, setup, type SnapshotFrom } from 'xstate';
import type { JobStatus } from '../../lib/events/types.ts';
import {
  decideRestart, emptyRestartHistory,
  type RestartDecision, type RestartHistory, type RestartStrategy,
} from '../../lib/restart/index.ts';

export interface JobMachineInput {
  jobId: string;
  jobName: string;
  /** Defaults to `{ type: 'none' }`: the first failure fails the job. */
  restartStrategy?: RestartStrategy;
}

export interface JobMachineContext {
  jobId: string;
  jobName: string;
  /** The failure being handled (FAILING, RESTARTING), or the whole story once FAILED. */
  cause?: string;
  /** Every failure's cause, in order: the cause chain. */
  causes: string[];
  restartStrategy: RestartStrategy;
  restartHistory: RestartHistory;
  /** While RESTARTING: when to redeploy (ms, the owner's clock). In context so it survives persistence. */
  restartAt?: number;
}

export type JobMachineEvent =
  | { type: 'TASKS_RUNNING' }
  | { type: 'ALL_TASKS_FINISHED' }
  | { type: 'TASK_FAILED'; cause: string }
  /**
   * Tasks of one region failed in a job whose regions fail over alone (a blocking batch job):
   * the job stays RUNNING while the owner re-runs the region, if the restart strategy allows;
   * else it fails as for TASK_FAILED.
   */
  | { type: 'REGION_FAILED'; cause: string; now: number; random: number }
  | { type: 'SCHEDULING_FAILED'; cause: string }
  | { type: 'CANCEL' }
  /** `now` is when the failure is counted; `random` in [0, 1) draws the jitter of exponential-delay. */
  | { type: 'ALL_TASKS_TERMINATED'; now: number; random: number };

type Clocked = { now: number; random: number };

// The handler for TASK_FAILED and SCHEDULING_FAILED; both events carry a cause.
const failWithCause = {
  target: 'FAILING',
  actions: { type: 'recordFailure', params: ({ event }: { event: { cause: string } }) => ({ cause: event.cause }) },
} as const;

const clocked = ({ event }: { event: Clocked }): Clocked => ({ now: event.now, random: event.random });

function decide(context: JobMachineContext, { now, random }: Clocked): RestartDecision {
  return decideRestart(context.restartStrategy, context.restartHistory, now, random);
}

export const jobMachine = setup({
  types: {
    context: {} as JobMachineContext,
    events: {} as JobMachineEvent,
    input: {} as JobMachineInput,
  },
  guards: {
    restartGranted: ({ context }, params: Clocked) => decide(context, params).restart,
  },
  actions: {
    recordFailure: assign(({ context }, params: { cause: string }) => ({
      cause: params.cause, causes: [...context.causes, params.cause], restartAt: undefined,
    })),
    // The region's restart is counted, and its cause kept in the chain; the job itself goes on.
    recordRegionFailover: assign(({ context }, params: Clocked & { cause: string }) => ({
      restartHistory: decide(context, params).history, causes: [...context.causes, params.cause],
    })),
    scheduleRestart: assign(({ context }, params: Clocked) => {
      const decision = decide(context, params);
      return { restartHistory: decision.history, restartAt: params.now + (decision.restart ? decision.delayMs : 0) };
    }),
    giveUp: assign(({ context }, params: Clocked) => {
      const decision = decide(context, params);
      const chain = context.causes.join('; then: ');
      // A job that was never to restart fails with its cause as it was; one whose strategy gave up says why.
      const cause = decision.restart || context.restartStrategy.type === 'none' ? chain : `${chain}; ${decision.reason}`;
      return { restartHistory: decision.history, cause };
    }),
    // Leaving a failure behind: the chain keeps it, the current cause does not.
    clearFailure: assign({ cause: undefined, restartAt: undefined }),
  },
}).createMachine({
  id: 'job',
  initial: 'CREATED',
  context: ({ input }) => ({
    jobId: input.jobId,
    jobName: input.jobName,
    causes: [],
    restartStrategy: input.restartStrategy ?? { type: 'none' },
    restartHistory: emptyRestartHistory(),
  }),
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
        REGION_FAILED: [
          {
            guard: { type: 'restartGranted', params: clocked },
            actions: { type: 'recordRegionFailover', params: ({ event }) => ({ now: event.now, random: event.random, cause: event.cause }) },
          },
          failWithCause,
        ],
        CANCEL: 'CANCELLING',
      },
    },
    // Later TASK_FAILEDs are the fallout of the first one, so they are not handled here.
    FAILING: {
      on: {
        ALL_TASKS_TERMINATED: [
          {
            guard: { type: 'restartGranted', params: clocked },
            target: 'RESTARTING',
            actions: { type: 'scheduleRestart', params: clocked },
          },
          { target: 'FAILED', actions: { type: 'giveUp', params: clocked } },
        ],
        // A cancel must not be lost to a restart: the tasks are going down already, so wait for them.
        CANCEL: { target: 'CANCELLING', actions: 'clearFailure' },
      },
    },
    // Nothing runs here: the owner redeploys at `restartAt` and reports TASKS_RUNNING.
    RESTARTING: {
      on: {
        TASKS_RUNNING: { target: 'RUNNING', actions: 'clearFailure' },
        CANCEL: { target: 'CANCELED', actions: 'clearFailure' },
        // A failure while redeploying is one more failure for the strategy to count.
        TASK_FAILED: failWithCause,
        SCHEDULING_FAILED: failWithCause,
      },
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

/** What the restart strategy decides for a failure at `now`, given the failures before (REGION_FAILED decides the same). */
export function restartDecision(snapshot: JobMachineSnapshot, now: number, random: number): RestartDecision {
  return decide(snapshot.context, { now, random });
}

/** When a RESTARTING job is due to redeploy; undefined in any other state. */
export function restartDeadline(snapshot: JobMachineSnapshot): number | undefined {
  return snapshot.value === 'RESTARTING' ? snapshot.context.restartAt : undefined;
}

/** A snapshot in `status` with `context`, from a Job Manager's own record of a job it ran before it restarted. */
export function restoreJobSnapshot(status: JobStatus, context: JobMachineContext): JobMachineSnapshot {
  return jobMachine.resolveState({ value: status, context });
}
