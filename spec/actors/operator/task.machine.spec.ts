import { expect } from 'chai';
import { initialTransition, transition } from 'xstate';
import type { TaskState } from '../../../lib/events/types.ts';
import {
  isTerminalTaskState,
  taskMachine,
  taskStateOf,
  type TaskMachineEvent,
  type TaskMachineSnapshot,
} from '../../../actors/operator/task.machine.ts';

type State = TaskMachineSnapshot['value'];
type EventType = TaskMachineEvent['type'];

const input = { jobId: 'job-1', vertexId: 'map', subtask: 2 };

// One of each event; the mapped type makes the compiler flag a missing one.
const EVENTS: { [K in EventType]: Extract<TaskMachineEvent, { type: K }> } = {
  SCHEDULE: { type: 'SCHEDULE', tmId: 'tm-7', slot: 3 },
  DEPLOY: { type: 'DEPLOY' },
  INITIALIZE: { type: 'INITIALIZE' },
  RUN: { type: 'RUN' },
  FINISH: { type: 'FINISH' },
  FAIL: { type: 'FAIL', cause: 'map[2] threw: boom' },
  CANCEL: { type: 'CANCEL' },
  CANCELED: { type: 'CANCELED' },
  TM_LOST: { type: 'TM_LOST', cause: 'tm-7 missed 3 heartbeats' },
};

const UP_TO_RUNNING = [EVENTS.SCHEDULE, EVENTS.DEPLOY, EVENTS.INITIALIZE, EVENTS.RUN];

// How to get to each state by real transitions from the initial one.
const PATHS: Record<State, TaskMachineEvent[]> = {
  CREATED: [],
  SCHEDULED: UP_TO_RUNNING.slice(0, 1),
  DEPLOYING: UP_TO_RUNNING.slice(0, 2),
  INITIALIZING: UP_TO_RUNNING.slice(0, 3),
  RUNNING: UP_TO_RUNNING,
  CANCELING: [...UP_TO_RUNNING, EVENTS.CANCEL],
  FINISHED: [...UP_TO_RUNNING, EVENTS.FINISH],
  CANCELED: [...UP_TO_RUNNING, EVENTS.CANCEL, EVENTS.CANCELED],
  FAILED: [...UP_TO_RUNNING, { type: 'FAIL', cause: 'earlier failure' }],
};
const STATES = Object.keys(PATHS) as State[];
const NON_FINAL: State[] = ['CREATED', 'SCHEDULED', 'DEPLOYING', 'INITIALIZING', 'RUNNING', 'CANCELING'];

function start(): TaskMachineSnapshot {
  return initialTransition(taskMachine, input)[0];
}

function run(snapshot: TaskMachineSnapshot, ...events: TaskMachineEvent[]): TaskMachineSnapshot {
  return events.reduce((s, e) => transition(taskMachine, s, e)[0], snapshot);
}

function reach(state: State): TaskMachineSnapshot {
  const snapshot = run(start(), ...PATHS[state]);
  expect(taskStateOf(snapshot), `path to ${state}`).to.equal(state);
  return snapshot;
}

// Every transition the task machine has; anything not listed must leave the state alone.
const TRANSITIONS: Array<{ from: State; event: EventType; to: State; cause?: string }> = [
  { from: 'CREATED', event: 'SCHEDULE', to: 'SCHEDULED' },
  { from: 'SCHEDULED', event: 'DEPLOY', to: 'DEPLOYING' },
  { from: 'DEPLOYING', event: 'INITIALIZE', to: 'INITIALIZING' },
  { from: 'INITIALIZING', event: 'RUN', to: 'RUNNING' },
  { from: 'RUNNING', event: 'FINISH', to: 'FINISHED' },
  { from: 'CANCELING', event: 'FINISH', to: 'FINISHED' },
  { from: 'CREATED', event: 'CANCEL', to: 'CANCELED' },
  { from: 'SCHEDULED', event: 'CANCEL', to: 'CANCELED' },
  { from: 'DEPLOYING', event: 'CANCEL', to: 'CANCELING' },
  { from: 'INITIALIZING', event: 'CANCEL', to: 'CANCELING' },
  { from: 'RUNNING', event: 'CANCEL', to: 'CANCELING' },
  { from: 'CANCELING', event: 'CANCELED', to: 'CANCELED' },
  ...NON_FINAL.filter((s) => s !== 'CANCELING').map((from) => (
    { from, event: 'FAIL' as const, to: 'FAILED' as const, cause: EVENTS.FAIL.cause }
  )),
  { from: 'CANCELING', event: 'FAIL', to: 'CANCELED' },
  ...NON_FINAL.map((from) => (
    { from, event: 'TM_LOST' as const, to: 'FAILED' as const, cause: EVENTS.TM_LOST.cause }
  )),
];

describe('task machine', () => {
  describe('initial state', () => {
    it('starts CREATED with the subtask from input, no slot and no cause', () => {
      const snapshot = start();
      expect(taskStateOf(snapshot)).to.equal('CREATED');
      expect(snapshot.context).to.deep.equal({ jobId: 'job-1', vertexId: 'map', subtask: 2 });
      expect(snapshot.status).to.equal('active');
    });
  });

  describe('transitions', () => {
    for (const { from, event, to, cause } of TRANSITIONS) {
      it(`${from} --${event}--> ${to}`, () => {
        const next = run(reach(from), EVENTS[event]);
        expect(taskStateOf(next)).to.equal(to);
        expect(next.context.cause).to.equal(cause);
        expect(next.context).to.include({ jobId: 'job-1', vertexId: 'map', subtask: 2 });
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

  describe('context', () => {
    it('SCHEDULE assigns the Task Manager and slot, which stay through the lifecycle', () => {
      const scheduled = run(start(), EVENTS.SCHEDULE);
      expect(scheduled.context).to.include({ tmId: 'tm-7', slot: 3 });
      const finished = run(scheduled, EVENTS.DEPLOY, EVENTS.INITIALIZE, EVENTS.RUN, EVENTS.FINISH);
      expect(finished.context).to.include({ tmId: 'tm-7', slot: 3 });
    });

    it('a failure while CANCELING records no cause: the task was cancelled, not failed', () => {
      const canceled = run(reach('CANCELING'), EVENTS.FAIL);
      expect(taskStateOf(canceled)).to.equal('CANCELED');
      expect(canceled.context.cause).to.equal(undefined);
    });

    it('losing the TM while CANCELING fails the task with the TM cause', () => {
      const failed = run(reach('CANCELING'), EVENTS.TM_LOST);
      expect(taskStateOf(failed)).to.equal('FAILED');
      expect(failed.context).to.include({ cause: 'tm-7 missed 3 heartbeats', tmId: 'tm-7', slot: 3 });
    });
  });

  describe('final states', () => {
    for (const state of STATES) {
      const terminal = isTerminalTaskState(state);
      it(`${state} is ${terminal ? '' : 'not '}terminal, and the snapshot agrees`, () => {
        expect(reach(state).status).to.equal(terminal ? 'done' : 'active');
      });
    }

    it('isTerminalTaskState: exactly FINISHED, CANCELED and FAILED', () => {
      const all: TaskState[] = [
        'CREATED', 'SCHEDULED', 'DEPLOYING', 'INITIALIZING', 'RUNNING',
        'FINISHED', 'CANCELING', 'CANCELED', 'FAILED',
      ];
      expect(all.filter(isTerminalTaskState)).to.deep.equal(['FINISHED', 'CANCELED', 'FAILED']);
    });
  });
});
