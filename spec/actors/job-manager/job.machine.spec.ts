import { expect } from 'chai';
import { createActor, initialTransition, transition } from 'xstate';
import {
  jobMachine,
  jobStatusOf,
  restartDecision, restartDeadline,
  restoreJobSnapshot,
  type JobMachineEvent,
  type JobMachineInput,
  type JobMachineSnapshot,
} from '../../../actors/job-manager/job.machine.ts';
import type { RestartStrategy } from '../../../lib/restart/index.ts';

type State = JobMachineSnapshot['value'];
type EventType = JobMachineEvent['type'];

// One restart allowed, so that every state is reachable: the first failure restarts, the second fails the job.
const input: JobMachineInput = { jobId: 'job-1', jobName: 'wordcount', restartStrategy: { type: 'fixed-delay', attempts: 1, delayMs: 1000 } };

/** The clock is a plain number: `now` is when the tasks are all down, `random` draws the jitter. */
function terminated(now: number, random = 0.5): JobMachineEvent {
  return { type: 'ALL_TASKS_TERMINATED', now, random };
}

// One of each event; the mapped type makes the compiler flag a missing one.
const EVENTS: { [K in EventType]: Extract<JobMachineEvent, { type: K }> } = {
  TASKS_RUNNING: { type: 'TASKS_RUNNING' },
  ALL_TASKS_FINISHED: { type: 'ALL_TASKS_FINISHED' },
  TASK_FAILED: { type: 'TASK_FAILED', cause: 'map[2] threw: boom' },
  REGION_FAILED: { type: 'REGION_FAILED', cause: 'sort (2/4) threw: disk full', now: 5_000, random: 0.5 },
  SCHEDULING_FAILED: { type: 'SCHEDULING_FAILED', cause: 'not enough slots: needs 4, cluster has 2' },
  CANCEL: { type: 'CANCEL' },
  ALL_TASKS_TERMINATED: { type: 'ALL_TASKS_TERMINATED', now: 10_000, random: 0.5 },
};

// How to get to each state by real transitions from the initial one.
const PATHS: Record<State, JobMachineEvent[]> = {
  CREATED: [],
  RUNNING: [EVENTS.TASKS_RUNNING],
  FAILING: [EVENTS.TASKS_RUNNING, { type: 'TASK_FAILED', cause: 'earlier failure' }],
  CANCELLING: [EVENTS.TASKS_RUNNING, EVENTS.CANCEL],
  FINISHED: [EVENTS.TASKS_RUNNING, EVENTS.ALL_TASKS_FINISHED],
  RESTARTING: [EVENTS.TASKS_RUNNING, { type: 'TASK_FAILED', cause: 'earlier failure' }, EVENTS.ALL_TASKS_TERMINATED],
  FAILED: [
    EVENTS.TASKS_RUNNING, { type: 'TASK_FAILED', cause: 'earlier failure' }, EVENTS.ALL_TASKS_TERMINATED,
    EVENTS.TASKS_RUNNING, { type: 'TASK_FAILED', cause: 'later failure' }, terminated(20_000),
  ],
  CANCELED: [EVENTS.CANCEL, EVENTS.ALL_TASKS_TERMINATED],
};
const STATES = Object.keys(PATHS) as State[];

function start(strategy: RestartStrategy | undefined = input.restartStrategy): JobMachineSnapshot {
  return initialTransition(jobMachine, { ...input, restartStrategy: strategy })[0];
}

function run(snapshot: JobMachineSnapshot, ...events: JobMachineEvent[]): JobMachineSnapshot {
  return events.reduce((s, e) => transition(jobMachine, s, e)[0], snapshot);
}

function reach(state: State): JobMachineSnapshot {
  const snapshot = run(start(), ...PATHS[state]);
  expect(jobStatusOf(snapshot), `path to ${state}`).to.equal(state);
  return snapshot;
}

// Every transition the job machine has; anything not listed must leave the state alone.
const TRANSITIONS: Array<{ from: State; event: EventType; to: State; cause?: string }> = [
  { from: 'CREATED', event: 'TASKS_RUNNING', to: 'RUNNING' },
  { from: 'CREATED', event: 'TASK_FAILED', to: 'FAILING', cause: EVENTS.TASK_FAILED.cause },
  { from: 'CREATED', event: 'SCHEDULING_FAILED', to: 'FAILING', cause: EVENTS.SCHEDULING_FAILED.cause },
  { from: 'CREATED', event: 'CANCEL', to: 'CANCELLING' },
  { from: 'RUNNING', event: 'ALL_TASKS_FINISHED', to: 'FINISHED' },
  { from: 'RUNNING', event: 'TASK_FAILED', to: 'FAILING', cause: EVENTS.TASK_FAILED.cause },
  // The region re-runs alone: the job stays RUNNING (its restart counted, below).
  { from: 'RUNNING', event: 'REGION_FAILED', to: 'RUNNING' },
  { from: 'RUNNING', event: 'CANCEL', to: 'CANCELLING' },
  { from: 'FAILING', event: 'ALL_TASKS_TERMINATED', to: 'RESTARTING', cause: 'earlier failure' },
  { from: 'FAILING', event: 'CANCEL', to: 'CANCELLING' },
  { from: 'RESTARTING', event: 'TASKS_RUNNING', to: 'RUNNING' },
  { from: 'RESTARTING', event: 'CANCEL', to: 'CANCELED' },
  { from: 'RESTARTING', event: 'TASK_FAILED', to: 'FAILING', cause: EVENTS.TASK_FAILED.cause },
  { from: 'RESTARTING', event: 'SCHEDULING_FAILED', to: 'FAILING', cause: EVENTS.SCHEDULING_FAILED.cause },
  { from: 'CANCELLING', event: 'ALL_TASKS_TERMINATED', to: 'CANCELED' },
];

describe('job machine', () => {
  describe('initial state', () => {
    it('starts CREATED with the job from input, no cause and no restarts yet', () => {
      const snapshot = start();
      expect(jobStatusOf(snapshot)).to.equal('CREATED');
      expect(snapshot.context).to.deep.equal({
        jobId: 'job-1', jobName: 'wordcount', causes: [],
        restartStrategy: { type: 'fixed-delay', attempts: 1, delayMs: 1000 },
        restartHistory: { attempts: 0, failureTimes: [] },
      });
      expect(snapshot.status).to.equal('active');
      expect(restartDeadline(snapshot)).to.equal(undefined);
    });

    it('restarts nothing unless told to: the strategy defaults to none', () => {
      const [snapshot] = initialTransition(jobMachine, { jobId: 'job-1', jobName: 'wordcount' });
      expect(snapshot.context.restartStrategy).to.deep.equal({ type: 'none' });
    });
  });

  describe('transitions', () => {
    for (const { from, event, to, cause } of TRANSITIONS) {
      it(`${from} --${event}--> ${to}`, () => {
        const next = run(reach(from), EVENTS[event]);
        expect(jobStatusOf(next)).to.equal(to);
        expect(next.context.cause).to.equal(cause);
        expect(next.context.jobId).to.equal('job-1');
        expect(next.context.jobName).to.equal('wordcount');
      });
    }
  });

  describe('nothing happens', () => {
    for (const state of STATES) {
      for (const type of Object.keys(EVENTS) as EventType[]) {
        if (TRANSITIONS.some((t) => t.from === state && t.event === type)) continue;
        it(`ignores ${type} while ${state}`, () => {
          const before = reach(state);
          const after = run(before, EVENTS[type]);
          expect(after.value).to.equal(before.value);
          expect(after.context).to.deep.equal(before.context);
          expect(after.status).to.equal(before.status);
        });
      }
    }
  });

  describe('failure cause', () => {
    it('keeps the first cause when more tasks fail while FAILING: they are its fallout, not failures of their own', () => {
      const failing = run(start(), EVENTS.TASKS_RUNNING, { type: 'TASK_FAILED', cause: 'first' });
      const later = run(failing, { type: 'TASK_FAILED', cause: 'second' }, { type: 'TASK_FAILED', cause: 'third' });
      expect(jobStatusOf(later)).to.equal('FAILING');
      expect(later.context.cause).to.equal('first');
      expect(later.context.causes).to.deep.equal(['first']);
      expect(run(later, EVENTS.ALL_TASKS_TERMINATED).context.cause).to.equal('first');
      expect(run(start({ type: 'none' }), EVENTS.TASKS_RUNNING, { type: 'TASK_FAILED', cause: 'first' }, { type: 'TASK_FAILED', cause: 'second' },
        EVENTS.ALL_TASKS_TERMINATED).context.cause).to.equal('first');
    });

    it('carries a scheduling failure through to FAILED, as it is, when the job was never to restart', () => {
      const failed = run(start({ type: 'none' }), EVENTS.SCHEDULING_FAILED, EVENTS.ALL_TASKS_TERMINATED);
      expect(jobStatusOf(failed)).to.equal('FAILED');
      expect(failed.context.cause).to.equal('not enough slots: needs 4, cluster has 2');
    });

    it('forgets the current cause, not the chain, once the job runs again or is cancelled', () => {
      const restarting = reach('RESTARTING');
      for (const next of [run(restarting, EVENTS.TASKS_RUNNING), run(restarting, EVENTS.CANCEL)]) {
        expect(next.context.cause).to.equal(undefined);
        expect(next.context.causes).to.deep.equal(['earlier failure']);
        expect(next.context.restartAt).to.equal(undefined);
      }
    });
  });

  describe('region failover (a blocking batch job)', () => {
    it('stays RUNNING while the strategy allows, counting each region restart and keeping its cause in the chain', () => {
      const s = run(start({ type: 'fixed-delay', attempts: 2, delayMs: 1000 }), EVENTS.TASKS_RUNNING,
        { type: 'REGION_FAILED', cause: 'first', now: 1_000, random: 0.5 }, { type: 'REGION_FAILED', cause: 'second', now: 2_000, random: 0.5 });
      expect(jobStatusOf(s)).to.equal('RUNNING');
      expect(s.context.cause).to.equal(undefined);
      expect(s.context.causes).to.deep.equal(['first', 'second']);
      expect(s.context.restartHistory).to.include({ attempts: 2, lastFailureAt: 2_000 });
      expect(restartDecision(s, 3_000, 0.5).restart).to.equal(false);
    });

    it('fails the job once the strategy gives up, saying so, and a whole-job restart counts the same history', () => {
      let s = run(start({ type: 'fixed-delay', attempts: 1, delayMs: 1000 }), EVENTS.TASKS_RUNNING,
        { type: 'REGION_FAILED', cause: 'first', now: 1_000, random: 0.5 }, { type: 'REGION_FAILED', cause: 'second', now: 2_000, random: 0.5 });
      expect(jobStatusOf(s)).to.equal('FAILING');
      expect(s.context.cause).to.equal('second');
      s = run(s, terminated(2_500));
      expect(jobStatusOf(s)).to.equal('FAILED');
      expect(s.context.cause).to.equal('first; then: second; gave up after 1 restart (fixed-delay)');
    });

    it('fails at once a job that was never to restart', () => {
      const s = run(start({ type: 'none' }), EVENTS.TASKS_RUNNING, EVENTS.REGION_FAILED, terminated(6_000));
      expect(jobStatusOf(s)).to.equal('FAILED');
      expect(s.context.cause).to.equal(EVENTS.REGION_FAILED.cause);
    });
  });

  describe('final states', () => {
    for (const state of ['FINISHED', 'FAILED', 'CANCELED'] as const) {
      it(`${state} is final: the snapshot is done`, () => {
        expect(reach(state).status).to.equal('done');
      });
    }
    for (const state of ['CREATED', 'RUNNING', 'FAILING', 'RESTARTING', 'CANCELLING'] as const) {
      it(`${state} is not final`, () => {
        expect(reach(state).status).to.equal('active');
      });
    }
  });

  describe('restarts (a simulated clock: plain numbers)', () => {
    /** A task fails while the job runs, and at `now` all its tasks are down. */
    function failOnce(snapshot: JobMachineSnapshot, cause: string, now: number, random = 0.5): JobMachineSnapshot {
      return run(snapshot, { type: 'TASK_FAILED', cause }, terminated(now, random));
    }

    /** Runs the job, then fails it at each instant, redeploying in between; the delay of each restart. */
    function delaysOf(strategy: RestartStrategy, times: number[], random = 0.5): Array<number | string> {
      let s = run(start(strategy), EVENTS.TASKS_RUNNING);
      return times.map((now) => {
        s = failOnce(s, `failure at ${now}`, now, random);
        const deadline = restartDeadline(s);
        if (deadline === undefined) return jobStatusOf(s);
        s = run(s, EVENTS.TASKS_RUNNING);
        return deadline - now;
      });
    }

    it('fixed-delay, 3 attempts: three failures restart after the delay, the fourth fails the job with the whole chain', () => {
      let s = run(start({ type: 'fixed-delay', attempts: 3, delayMs: 1000 }), EVENTS.TASKS_RUNNING);
      for (const [i, now] of [10_000, 20_000, 30_000].entries()) {
        s = failOnce(s, `cause ${i + 1}`, now);
        expect(jobStatusOf(s)).to.equal('RESTARTING');
        expect(restartDeadline(s)).to.equal(now + 1000);
        expect(s.context.cause).to.equal(`cause ${i + 1}`);
        expect(s.context.restartHistory).to.include({ attempts: i + 1, lastFailureAt: now, lastDelayMs: 1000 });
        s = run(s, EVENTS.TASKS_RUNNING);
        expect(jobStatusOf(s)).to.equal('RUNNING');
      }
      s = failOnce(s, 'cause 4', 40_000);
      expect(jobStatusOf(s)).to.equal('FAILED');
      expect(s.status).to.equal('done');
      expect(s.context.causes).to.deep.equal(['cause 1', 'cause 2', 'cause 3', 'cause 4']);
      expect(s.context.cause).to.equal('cause 1; then: cause 2; then: cause 3; then: cause 4; gave up after 3 restarts (fixed-delay)');
      expect(restartDeadline(s)).to.equal(undefined);
    });

    describe('exponential-delay', () => {
      const strategy: RestartStrategy = {
        type: 'exponential-delay', initialDelayMs: 1000, maxDelayMs: 8000, multiplier: 2, jitter: 0.25, resetAfterMs: 60_000,
      };

      it('grows by the multiplier and caps at the maximum', () => {
        expect(delaysOf(strategy, [0, 5000, 10_000, 20_000, 30_000, 40_000])).to.deep.equal([1000, 2000, 4000, 8000, 8000, 8000]);
      });

      it('moves each delay by at most ±jitter, never below the initial delay nor above the maximum', () => {
        expect(delaysOf(strategy, [0, 5000, 10_000, 20_000], 0)).to.deep.equal([1000, 1500, 3000, 6000]);
        expect(delaysOf(strategy, [0, 5000, 10_000, 20_000], 1)).to.deep.equal([1250, 2500, 5000, 8000]);
      });

      it('resets to the initial delay after a run longer than resetAfterMs', () => {
        expect(delaysOf(strategy, [0, 5000, 10_000, 70_000, 75_000])).to.deep.equal([1000, 2000, 4000, 1000, 2000]);
      });
    });

    describe('failure-rate: more than 2 failures within 60 s', () => {
      const strategy: RestartStrategy = { type: 'failure-rate', maxFailures: 2, intervalMs: 60_000, delayMs: 500 };

      it('fails the job at the third failure within the interval', () => {
        expect(delaysOf(strategy, [0, 10_000, 20_000])).to.deep.equal([500, 500, 'FAILED']);
        let s = run(start(strategy), EVENTS.TASKS_RUNNING);
        for (const now of [0, 10_000, 20_000]) s = run(failOnce(s, `at ${now}`, now), EVENTS.TASKS_RUNNING);
        expect(s.context.cause).to.equal('at 0; then: at 10000; then: at 20000; gave up after 3 failures within 60000 ms, more than the 2 allowed (failure-rate)');
      });

      it('restarts forever while the failures are spread wider', () => {
        expect(delaysOf(strategy, [0, 40_000, 100_001, 140_000, 200_002, 240_000])).to.deep.equal([500, 500, 500, 500, 500, 500]);
      });
    });

    it('none: the first failure fails the job at once, with its own cause', () => {
      const s = failOnce(run(start({ type: 'none' }), EVENTS.TASKS_RUNNING), 'map[2] threw: boom', 5000);
      expect(jobStatusOf(s)).to.equal('FAILED');
      expect(s.context.cause).to.equal('map[2] threw: boom');
      expect(s.context.restartHistory).to.deep.equal({ attempts: 0, failureTimes: [5000], lastFailureAt: 5000 });
    });

    it('CANCEL while RESTARTING cancels at once: nothing runs', () => {
      const s = run(reach('RESTARTING'), EVENTS.CANCEL);
      expect(jobStatusOf(s)).to.equal('CANCELED');
      expect(s.status).to.equal('done');
      expect(restartDeadline(s)).to.equal(undefined);
    });

    it('CANCEL while FAILING waits for the tasks, then cancels instead of restarting', () => {
      const s = run(reach('FAILING'), EVENTS.CANCEL);
      expect(jobStatusOf(s)).to.equal('CANCELLING');
      expect(jobStatusOf(run(s, EVENTS.ALL_TASKS_TERMINATED))).to.equal('CANCELED');
    });

    it('a failure while RESTARTING counts as one more failure', () => {
      const failing = run(reach('RESTARTING'), { type: 'SCHEDULING_FAILED', cause: 'not enough slots: needs 4, cluster has 2' });
      expect(jobStatusOf(failing)).to.equal('FAILING');
      expect(restartDeadline(failing)).to.equal(undefined);
      const failed = run(failing, terminated(12_000));
      expect(jobStatusOf(failed)).to.equal('FAILED');
      expect(failed.context.cause).to.equal(
        'earlier failure; then: not enough slots: needs 4, cluster has 2; gave up after 1 restart (fixed-delay)');

      const again = run(start({ type: 'fixed-delay', attempts: 5, delayMs: 1000 }), EVENTS.TASKS_RUNNING);
      const restarting = run(failOnce(again, 'first', 0), { type: 'TASK_FAILED', cause: 'deploy refused' }, terminated(2000));
      expect(jobStatusOf(restarting)).to.equal('RESTARTING');
      expect(restartDeadline(restarting)).to.equal(3000);
      expect(restarting.context.restartHistory.attempts).to.equal(2);
    });
  });

  describe('persistence', () => {
    it('a persisted RESTARTING snapshot keeps its deadline and its history through JSON', () => {
      const restarting = reach('RESTARTING');
      const stored = JSON.parse(JSON.stringify(jobMachine.getPersistedSnapshot(restarting)));
      // The input is what the job was created with; a snapshot takes precedence over it.
      const restored = createActor(jobMachine, { snapshot: stored, input }).getSnapshot();
      expect(jobStatusOf(restored)).to.equal('RESTARTING');
      expect(restartDeadline(restored)).to.equal(11_000);
      expect(restored.context).to.deep.equal(restarting.context);
      expect(jobStatusOf(run(restored, EVENTS.TASKS_RUNNING))).to.equal('RUNNING');
    });

    it("restoreJobSnapshot rebuilds a job from a Job Manager's own record, and the strategy goes on counting", () => {
      const { context } = reach('RESTARTING');
      const restored = restoreJobSnapshot('RESTARTING', JSON.parse(JSON.stringify(context)));
      expect(restartDeadline(restored)).to.equal(11_000);
      const failed = run(restored, EVENTS.TASKS_RUNNING, { type: 'TASK_FAILED', cause: 'again' }, terminated(30_000));
      expect(jobStatusOf(failed)).to.equal('FAILED');
      expect(failed.context.cause).to.equal('earlier failure; then: again; gave up after 1 restart (fixed-delay)');
    });
  });
});
