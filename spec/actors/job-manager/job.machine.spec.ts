import { expect } from 'chai';
import { initialTransition, transition } from 'xstate';
import {
  jobMachine,
  jobStatusOf,
  type JobMachineEvent,
  type JobMachineSnapshot,
} from '../../../actors/job-manager/job.machine.ts';

type State = JobMachineSnapshot['value'];
type EventType = JobMachineEvent['type'];

const input = { jobId: 'job-1', jobName: 'wordcount' };

// One of each event; the mapped type makes the compiler flag a missing one.
const EVENTS: { [K in EventType]: Extract<JobMachineEvent, { type: K }> } = {
  TASKS_RUNNING: { type: 'TASKS_RUNNING' },
  ALL_TASKS_FINISHED: { type: 'ALL_TASKS_FINISHED' },
  TASK_FAILED: { type: 'TASK_FAILED', cause: 'map[2] threw: boom' },
  SCHEDULING_FAILED: { type: 'SCHEDULING_FAILED', cause: 'not enough slots: needs 4, cluster has 2' },
  CANCEL: { type: 'CANCEL' },
  ALL_TASKS_TERMINATED: { type: 'ALL_TASKS_TERMINATED' },
};

// How to get to each state by real transitions from the initial one.
const PATHS: Record<State, JobMachineEvent[]> = {
  CREATED: [],
  RUNNING: [EVENTS.TASKS_RUNNING],
  FAILING: [EVENTS.TASKS_RUNNING, { type: 'TASK_FAILED', cause: 'earlier failure' }],
  CANCELLING: [EVENTS.TASKS_RUNNING, EVENTS.CANCEL],
  FINISHED: [EVENTS.TASKS_RUNNING, EVENTS.ALL_TASKS_FINISHED],
  FAILED: [EVENTS.TASKS_RUNNING, { type: 'TASK_FAILED', cause: 'earlier failure' }, EVENTS.ALL_TASKS_TERMINATED],
  CANCELED: [EVENTS.CANCEL, EVENTS.ALL_TASKS_TERMINATED],
};
const STATES = Object.keys(PATHS) as State[];

function start(): JobMachineSnapshot {
  return initialTransition(jobMachine, input)[0];
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
  { from: 'RUNNING', event: 'CANCEL', to: 'CANCELLING' },
  { from: 'FAILING', event: 'ALL_TASKS_TERMINATED', to: 'FAILED', cause: 'earlier failure' },
  { from: 'CANCELLING', event: 'ALL_TASKS_TERMINATED', to: 'CANCELED' },
];

describe('job machine', () => {
  describe('initial state', () => {
    it('starts CREATED with the job from input and no cause', () => {
      const snapshot = start();
      expect(jobStatusOf(snapshot)).to.equal('CREATED');
      expect(snapshot.context).to.deep.equal({ jobId: 'job-1', jobName: 'wordcount' });
      expect(snapshot.status).to.equal('active');
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
    it('keeps the first cause when more tasks fail while FAILING', () => {
      const failing = run(start(), EVENTS.TASKS_RUNNING, { type: 'TASK_FAILED', cause: 'first' });
      const later = run(failing, { type: 'TASK_FAILED', cause: 'second' }, { type: 'TASK_FAILED', cause: 'third' });
      expect(jobStatusOf(later)).to.equal('FAILING');
      expect(later.context.cause).to.equal('first');
      expect(run(later, EVENTS.ALL_TASKS_TERMINATED).context.cause).to.equal('first');
    });

    it('carries a scheduling failure through to FAILED', () => {
      const failed = run(start(), EVENTS.SCHEDULING_FAILED, EVENTS.ALL_TASKS_TERMINATED);
      expect(jobStatusOf(failed)).to.equal('FAILED');
      expect(failed.context.cause).to.equal('not enough slots: needs 4, cluster has 2');
    });
  });

  describe('final states', () => {
    for (const state of ['FINISHED', 'FAILED', 'CANCELED'] as const) {
      it(`${state} is final: the snapshot is done`, () => {
        expect(reach(state).status).to.equal('done');
      });
    }
    for (const state of ['CREATED', 'RUNNING', 'FAILING', 'CANCELLING'] as const) {
      it(`${state} is not final`, () => {
        expect(reach(state).status).to.equal('active');
      });
    }
  });
});
