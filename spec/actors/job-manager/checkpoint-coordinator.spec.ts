import { expect } from 'chai';
import {
  CheckpointCoordinator,
  type CheckpointSettings,
  type CoordinatorHost,
} from '../../../actors/job-manager/checkpoint-coordinator.ts';
import type { CheckpointMetadata, CheckpointStorage, StateHandle } from '../../../lib/checkpoint/types.ts';
import { ManualClock } from '../../../lib/clock/index.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import type { CheckpointEvent } from '../../../lib/events/types.ts';
import { silentLogger } from '../../../lib/log/index.ts';

// The coordinator alone against a fake Job Manager: timers are ManualClock timers, so a
// minute of intervals and timeouts runs in a millisecond; nothing here waits on real time.

const JOB = {
  jobId: 'job-1',
  jobName: 'wordcount',
  maxParallelism: 128,
  // 4 tasks: source[0], map[0], map[1], sink[0].
  vertices: [{ id: 'source', parallelism: 1 }, { id: 'map', parallelism: 2 }, { id: 'sink', parallelism: 1 }],
};
const TASKS = JOB.vertices.flatMap((v) => Array.from({ length: v.parallelism }, (_, subtask) => ({ vertexId: v.id, subtask })));

const SETTINGS: CheckpointSettings = {
  enabled: true, intervalMs: 1000, timeoutMs: 10_000, minPauseMs: 0, tolerableFailures: 0, retained: 3,
};

type WriteMode = 'resolve' | 'hang' | 'reject';

/** Checkpoint storage in memory: `writeMetadata` resolves, hangs until told, or rejects, as `mode` says. */
class FakeStorage implements CheckpointStorage {
  readonly description = 'memory storage';
  mode: WriteMode = 'resolve';
  rejectWith = new Error('disk full');
  readonly written: CheckpointMetadata[] = [];
  readonly hanging: { metadata: CheckpointMetadata; resolve: () => void; reject: (error: Error) => void }[] = [];
  readonly discarded: { jobId: string; checkpointId: number }[] = [];
  readonly retainCalls: { jobId: string; retained: number }[] = [];

  static pointer(checkpointId: number): string {
    return `memory://job-1/chk-${checkpointId}`;
  }

  writeMetadata(metadata: CheckpointMetadata): Promise<string> {
    this.written.push(metadata);
    const pointer = FakeStorage.pointer(metadata.checkpointId);
    switch (this.mode) {
      case 'resolve': return Promise.resolve(pointer);
      case 'reject': return Promise.reject(this.rejectWith);
      case 'hang': return new Promise<string>((resolve, reject) => {
        this.hanging.push({ metadata, resolve: () => resolve(pointer), reject });
      });
      default: {
        const never: never = this.mode;
        throw new Error(`unexpected mode ${String(never)}`);
      }
    }
  }

  discard(jobId: string, checkpointId: number): Promise<void> {
    this.discarded.push({ jobId, checkpointId });
    return Promise.resolve();
  }

  retain(jobId: string, retained: number): Promise<void> {
    this.retainCalls.push({ jobId, retained });
    return Promise.resolve();
  }

  // The coordinator never reads or writes task state: these would be a mistake.
  writeState(): Promise<StateHandle> { return Promise.reject(new Error('not for the coordinator')); }
  readState(): Promise<Uint8Array> { return Promise.reject(new Error('not for the coordinator')); }
  readMetadata(): Promise<CheckpointMetadata> { return Promise.reject(new Error('not for the coordinator')); }
  latest(): Promise<undefined> { return Promise.reject(new Error('not for the coordinator')); }
  completed(): Promise<number[]> { return Promise.reject(new Error('not for the coordinator')); }
  close(): Promise<void> { return Promise.resolve(); }
}

type Notified = Parameters<CoordinatorHost['notifyTasks']>[0];

/**
 * The Job Manager as the coordinator sees it. Timers are ManualClock timers that call back
 * into the coordinator, as the Job Manager's `checkpoint-trigger`/`checkpoint-timeout` messages do.
 *
 * `later(step)` queues the step in `mailbox` and does not run it: in the Job Manager it is a
 * `continue` message behind whatever is already in the mailbox, so it never runs inside the
 * call that scheduled it. Specs run the queued steps with `drain()`, which also lets storage
 * promises settle, and may act in between (a stop after the write resolved, before its step).
 */
class FakeHost implements CoordinatorHost {
  readonly clock = new ManualClock();
  readonly storage = new FakeStorage();
  readonly log = silentLogger();
  running = true;
  readonly events: CheckpointEvent[] = [];
  readonly notified: Notified[] = [];
  readonly triggered: { checkpointId: number; stop: boolean; at: number }[] = [];
  readonly failures: string[] = [];
  readonly mailbox: (() => void)[] = [];
  settledCalls = 0;
  coordinator!: CheckpointCoordinator;

  now(): number { return this.clock.now(); }
  scheduleTrigger(ms: number): void { this.clock.setTimeout(() => this.coordinator.onTrigger(), ms); }
  scheduleTimeout(checkpointId: number, ms: number): void { this.clock.setTimeout(() => this.coordinator.onTimeout(checkpointId), ms); }
  canTrigger(): boolean { return this.running; }
  triggerSources(checkpointId: number, stop: boolean): void { this.triggered.push({ checkpointId, stop, at: this.clock.now() }); }
  notifyTasks(message: Notified): void { this.notified.push(message); }
  publish(event: CheckpointEvent): void { this.events.push(event); }
  later(step: () => void): void { this.mailbox.push(step); }
  failJob(cause: string): void { this.failures.push(cause); }
  settled(): void { this.settledCalls++; }

  /** Lets storage promises settle, then runs what they queued, until nothing is left. */
  async drain(): Promise<void> {
    for (let round = 0; round < 5; round++) {
      for (let tick = 0; tick < 5; tick++) await Promise.resolve();
      while (this.mailbox.length > 0) this.mailbox.shift()!();
    }
  }

  of<T extends CheckpointEvent['type']>(type: T): Extract<CheckpointEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<CheckpointEvent, { type: T }> => e.type === type);
  }

  /** Times at which the sources were told to inject a barrier, for periodic checkpoints only. */
  get triggerTimes(): number[] {
    const savepoints = new Set(this.of('checkpoint.triggered').filter((e) => e.savepoint).map((e) => e.checkpointId));
    return this.triggered.filter((t) => !savepoints.has(t.checkpointId)).map((t) => t.at);
  }
}

function setup(settings: Partial<CheckpointSettings> = {}, startAfter?: number): { host: FakeHost; coordinator: CheckpointCoordinator } {
  const host = new FakeHost();
  const coordinator = new CheckpointCoordinator(JOB, { ...SETTINGS, ...settings }, host, startAfter);
  host.coordinator = coordinator;
  return { host, coordinator };
}

function handle(checkpointId: number, vertexId: string, subtask: number, size = 100): StateHandle {
  return { key: `${checkpointId}/${vertexId}/${subtask}`, size };
}

/** Every task acknowledges `checkpointId`, last task first, so that order must come from the job, not the acks. */
function ackAll(coordinator: CheckpointCoordinator, checkpointId: number, except?: { vertexId: string; subtask: number }): void {
  for (const t of [...TASKS].reverse()) {
    if (except && except.vertexId === t.vertexId && except.subtask === t.subtask) continue;
    coordinator.ack(checkpointId, t.vertexId, t.subtask, handle(checkpointId, t.vertexId, t.subtask), 5);
  }
}

/** Completes checkpoint `checkpointId`: every ack, then the metadata write and its step. */
async function complete(host: FakeHost, checkpointId: number): Promise<void> {
  ackAll(host.coordinator, checkpointId);
  await host.drain();
}

/** Moves time on in steps, completing each periodic checkpoint one step after it was triggered. */
async function runFor(host: FakeHost, ms: number, step = 100): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    host.clock.advance(step);
    const inFlight = host.coordinator.inFlight;
    if (inFlight !== undefined && !host.coordinator.persisting) await complete(host, inFlight);
  }
}

describe('CheckpointCoordinator', () => {
  describe('periodic trigger', () => {
    it('triggers nothing before start, nor when checkpointing is disabled', () => {
      const { host, coordinator } = setup();
      host.clock.advance(5000);
      expect(host.triggered).to.deep.equal([]);

      const disabled = setup({ enabled: false });
      disabled.coordinator.start();
      disabled.host.clock.advance(5000);
      expect(disabled.host.triggered).to.deep.equal([]);
      expect(disabled.host.clock.pending).to.equal(0);
      expect(coordinator.inFlight).to.equal(undefined);
    });

    it('triggers at 1000, 2000, 3000 when each checkpoint completes within its interval', async () => {
      const { host, coordinator } = setup();
      coordinator.start();
      await runFor(host, 3500);
      expect(host.triggered).to.deep.equal([
        { checkpointId: 1, stop: false, at: 1000 },
        { checkpointId: 2, stop: false, at: 2000 },
        { checkpointId: 3, stop: false, at: 3000 },
      ]);
      expect(host.of('checkpoint.triggered').map((e) => [e.checkpointId, e.savepoint])).to.deep.equal([[1, false], [2, false], [3, false]]);
      expect(host.of('checkpoint.completed').map((e) => e.checkpointId)).to.deep.equal([1, 2, 3]);
    });

    it('keeps at most one checkpoint in flight: the next trigger after a slow one waits a whole interval', async () => {
      const { host, coordinator } = setup();
      coordinator.start();
      host.clock.advance(1000);
      expect(coordinator.inFlight).to.equal(1);
      host.clock.advance(1000); // 2000: checkpoint 1 is still waiting for acks
      expect(host.triggerTimes).to.deep.equal([1000]);
      expect(coordinator.inFlight).to.equal(1);
      host.clock.advance(100);
      await complete(host, 1); // completes at 2100
      host.clock.advance(800); // 2900: nothing yet
      expect(host.triggerTimes).to.deep.equal([1000]);
      host.clock.advance(100); // 3000
      expect(host.triggerTimes).to.deep.equal([1000, 3000]);
      expect(coordinator.inFlight).to.equal(2);
    });

    it('postpones a trigger by an interval while canTrigger() is false', async () => {
      const { host, coordinator } = setup();
      host.running = false;
      coordinator.start();
      host.clock.advance(2500);
      expect(host.triggered).to.deep.equal([]);
      host.running = true;
      host.clock.advance(500); // 3000
      expect(host.triggerTimes).to.deep.equal([3000]);
    });

    it('waits minPauseMs after a slow completion before the next checkpoint', async () => {
      const { host, coordinator } = setup({ minPauseMs: 800 });
      coordinator.start();
      host.clock.advance(1000); // 1 triggered
      host.clock.advance(900);
      await complete(host, 1); // completed at 1900
      host.clock.advance(100); // 2000: only 100 ms since the completion
      expect(host.triggerTimes).to.deep.equal([1000]);
      host.clock.advance(699); // 2699
      expect(host.triggerTimes).to.deep.equal([1000]);
      host.clock.advance(1); // 2700: 800 ms after the completion
      expect(host.triggerTimes).to.deep.equal([1000, 2700]);
      await complete(host, 2);
      host.clock.advance(1000); // the interval counts from the trigger at 2700
      expect(host.triggerTimes).to.deep.equal([1000, 2700, 3700]);
    });

    it('does not hold the first checkpoint back by minPauseMs: nothing has completed yet', () => {
      // The clock starts at 0: `lastCompletedAt = 0` reads as "a checkpoint completed at 0".
      const { host, coordinator } = setup({ minPauseMs: 5000 });
      coordinator.start();
      host.clock.advance(1000);
      expect(host.triggerTimes).to.deep.equal([1000]);
    });

    it('keeps one periodic schedule when the job stops and runs again before the old trigger fired', async () => {
      const { host, coordinator } = setup();
      coordinator.start(); // trigger due at 1000
      host.clock.advance(500);
      coordinator.stop('the job is failing: boom');
      coordinator.start(); // a quick restart: the job runs again at 500
      await runFor(host, 5500);
      const times = host.triggerTimes;
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      expect(gaps.every((gap) => gap >= SETTINGS.intervalMs), `triggers at ${times.join(', ')}`).to.equal(true);
    });
  });

  describe('completion', () => {
    it('writes metadata with every handle in subtask order, sizes summed, and publishes the pointer', async () => {
      const { host, coordinator } = setup();
      coordinator.start();
      host.clock.advance(1000);
      const sizes: Record<string, number> = { 'source/0': 10, 'map/0': 200, 'map/1': 3000, 'sink/0': 40000 };
      const alignments: Record<string, number> = { 'source/0': 0, 'map/0': 12, 'map/1': 7, 'sink/0': 3 };
      host.clock.advance(250);
      for (const t of [...TASKS].reverse()) {
        const key = `${t.vertexId}/${t.subtask}`;
        expect(host.storage.written, 'written before the last ack').to.have.length(0);
        coordinator.ack(1, t.vertexId, t.subtask, handle(1, t.vertexId, t.subtask, sizes[key]), alignments[key]!);
      }
      expect(coordinator.persisting).to.equal(true);
      expect(host.storage.written).to.have.length(1);
      const metadata = host.storage.written[0]!;
      expect(metadata).to.include({
        jobId: 'job-1', jobName: 'wordcount', checkpointId: 1, savepoint: false, durationMs: 250, size: 43210, maxParallelism: 128,
      });
      expect(metadata.vertices).to.deep.equal({
        source: { parallelism: 1, handles: [handle(1, 'source', 0, 10)] },
        map: { parallelism: 2, handles: [handle(1, 'map', 0, 200), handle(1, 'map', 1, 3000)] },
        sink: { parallelism: 1, handles: [handle(1, 'sink', 0, 40000)] },
      });
      expect(Object.keys(metadata.vertices)).to.deep.equal(['source', 'map', 'sink']);
      expect(Date.parse(metadata.triggeredAt)).to.be.at.most(Date.parse(metadata.completedAt));

      // Nothing is complete until the metadata is written.
      expect(host.of('checkpoint.completed')).to.deep.equal([]);
      expect(host.notified).to.deep.equal([]);
      expect(coordinator.latest).to.equal(undefined);

      await host.drain();
      const [completed, ...more] = host.of('checkpoint.completed');
      expect(more).to.deep.equal([]);
      expect(completed).to.include({
        jobId: 'job-1', checkpointId: 1, savepoint: false, size: 43210, durationMs: 250, alignmentMs: 12, pointer: FakeStorage.pointer(1),
      });
      expect(host.notified).to.deep.equal([{ type: 'checkpoint-complete', checkpointId: 1 }]);
      expect(coordinator.latest).to.deep.equal({ pointer: FakeStorage.pointer(1), metadata });
      expect(host.storage.retainCalls).to.deep.equal([{ jobId: 'job-1', retained: 3 }]);
      expect(host.settledCalls).to.equal(1);
      expect(coordinator.inFlight).to.equal(undefined);
      expect(coordinator.persisting).to.equal(false);
      expect(host.of('checkpoint.failed')).to.deep.equal([]);
    });

    it('moves latest on with each completed checkpoint', async () => {
      const { host, coordinator } = setup();
      coordinator.start();
      await runFor(host, 2500);
      expect(coordinator.latest?.pointer).to.equal(FakeStorage.pointer(2));
      expect(coordinator.latest?.metadata.checkpointId).to.equal(2);
      expect(host.storage.retainCalls).to.have.length(2);
    });

    it('ignores duplicate acks: one task acking twice is still one task', async () => {
      const { host, coordinator } = setup();
      coordinator.start();
      host.clock.advance(1000);
      coordinator.ack(1, 'map', 0, handle(1, 'map', 0), 1);
      coordinator.ack(1, 'map', 0, handle(1, 'map', 0), 1);
      coordinator.ack(1, 'map', 1, handle(1, 'map', 1), 1);
      coordinator.ack(1, 'map', 1, handle(1, 'map', 1), 1);
      expect(host.storage.written).to.have.length(0);
      coordinator.ack(1, 'source', 0, handle(1, 'source', 0), 1);
      coordinator.ack(1, 'sink', 0, handle(1, 'sink', 0), 1);
      expect(host.storage.written).to.have.length(1);
      expect(host.storage.written[0]!.size).to.equal(400);
    });

    it('ignores acks for another checkpoint id', async () => {
      const { host, coordinator } = setup();
      coordinator.start();
      host.clock.advance(1000);
      ackAll(coordinator, 0);
      ackAll(coordinator, 2);
      expect(host.storage.written).to.have.length(0);
      expect(coordinator.inFlight).to.equal(1);
      ackAll(coordinator, 1);
      expect(host.storage.written.map((m) => m.checkpointId)).to.deep.equal([1]);
    });

    it('ignores acks when no checkpoint is in flight', () => {
      const { host, coordinator } = setup();
      coordinator.start();
      ackAll(coordinator, 1);
      expect(host.storage.written).to.have.length(0);
      expect(host.events).to.deep.equal([]);
    });

    it('ignores an ack from a subtask the job does not have', async () => {
      const { host, coordinator } = setup();
      coordinator.start();
      host.clock.advance(1000);
      // map has subtasks 0 and 1: an ack for map[7] must not stand in for the missing map[1].
      expect(() => {
        coordinator.ack(1, 'map', 7, handle(1, 'map', 7), 0);
        ackAll(coordinator, 1, { vertexId: 'map', subtask: 1 });
      }).not.to.throw();
      expect(host.storage.written).to.have.length(0);
      expect(coordinator.persisting).to.equal(false);
      coordinator.ack(1, 'map', 1, handle(1, 'map', 1), 0);
      await host.drain();
      expect(host.of('checkpoint.completed').map((e) => e.checkpointId)).to.deep.equal([1]);
    });
  });

  describe('timeout', () => {
    it('aborts a checkpoint whose acks did not all come in time, and says how many did', async () => {
      const { host, coordinator } = setup({ timeoutMs: 600, tolerableFailures: 5 });
      coordinator.start();
      host.clock.advance(1000);
      coordinator.ack(1, 'source', 0, handle(1, 'source', 0), 0);
      host.clock.advance(599);
      expect(host.of('checkpoint.failed')).to.deep.equal([]);
      host.clock.advance(1); // 1600
      const [failed, ...more] = host.of('checkpoint.failed');
      expect(more).to.deep.equal([]);
      expect(failed).to.include({ jobId: 'job-1', checkpointId: 1, savepoint: false });
      expect(failed!.reason).to.equal('timed out after 600 ms with 1 of 4 tasks acknowledged');
      expect(host.notified).to.deep.equal([{ type: 'checkpoint-aborted', checkpointId: 1 }]);
      expect(host.storage.discarded).to.deep.equal([{ jobId: 'job-1', checkpointId: 1 }]);
      expect(coordinator.inFlight).to.equal(undefined);
      expect(host.failures).to.deep.equal([]);
    });

    it('ignores acks that arrive after the timeout', async () => {
      const { host, coordinator } = setup({ timeoutMs: 600, tolerableFailures: 5 });
      coordinator.start();
      host.clock.advance(1600); // 1 triggered and timed out
      ackAll(coordinator, 1);
      await host.drain();
      expect(host.storage.written).to.deep.equal([]);
      expect(host.of('checkpoint.completed')).to.deep.equal([]);
      expect(coordinator.latest).to.equal(undefined);
    });

    it('ignores the timeout of an earlier checkpoint', async () => {
      // The timeout is longer than the interval: checkpoint 1's timer fires while 2 is in flight.
      const { host, coordinator } = setup({ timeoutMs: 1500 });
      coordinator.start();
      host.clock.advance(1000);
      await complete(host, 1);
      host.clock.advance(1000); // 2000: 2 triggered
      host.clock.advance(500); // 2500: checkpoint 1's timeout fires
      expect(coordinator.inFlight).to.equal(2);
      expect(host.of('checkpoint.failed')).to.deep.equal([]);
    });

    it('fails the job on the first timeout with tolerableFailures 0', () => {
      const { host, coordinator } = setup({ timeoutMs: 600, tolerableFailures: 0 });
      coordinator.start();
      host.clock.advance(1600);
      expect(host.failures).to.have.length(1);
      expect(host.failures[0]).to.match(/^checkpoint 1 failed \(timed out after 600 ms with 0 of 4 tasks acknowledged\); 1 in a row, more than the 0 tolerated$/);
    });

    it('with tolerableFailures 2, fails the job on the third timeout in a row, not before', () => {
      const { host, coordinator } = setup({ timeoutMs: 600, tolerableFailures: 2 });
      coordinator.start();
      host.clock.advance(2600); // 1 and 2 timed out
      expect(host.of('checkpoint.failed').map((e) => e.checkpointId)).to.deep.equal([1, 2]);
      expect(host.failures).to.deep.equal([]);
      host.clock.advance(1000); // 3 timed out
      expect(host.failures).to.have.length(1);
      expect(host.failures[0]).to.match(/^checkpoint 3 failed .*; 3 in a row, more than the 2 tolerated$/);
    });

    it('starts counting again after a completed checkpoint', async () => {
      const { host, coordinator } = setup({ timeoutMs: 600, tolerableFailures: 2 });
      coordinator.start();
      host.clock.advance(2600); // 1 and 2 timed out
      host.clock.advance(400); // 3000: 3 triggered
      await complete(host, 3);
      host.clock.advance(2600); // 4 and 5 timed out: two in a row again
      expect(host.of('checkpoint.failed').map((e) => e.checkpointId)).to.deep.equal([1, 2, 4, 5]);
      expect(host.failures).to.deep.equal([]);
      host.clock.advance(1000); // 6 timed out
      expect(host.failures).to.have.length(1);
      expect(host.failures[0]).to.match(/^checkpoint 6 failed/);
    });
  });

  describe('decline', () => {
    it('with counts: false (a finished source), aborts without counting a failure', () => {
      const { host, coordinator } = setup({ tolerableFailures: 0 });
      coordinator.start();
      host.clock.advance(1000);
      coordinator.decline(1, 'the source has finished', false);
      expect(host.of('checkpoint.failed').map((e) => [e.checkpointId, e.reason])).to.deep.equal([[1, 'declined: the source has finished']]);
      expect(host.notified).to.deep.equal([{ type: 'checkpoint-aborted', checkpointId: 1 }]);
      expect(host.storage.discarded).to.deep.equal([{ jobId: 'job-1', checkpointId: 1 }]);
      expect(coordinator.inFlight).to.equal(undefined);
      expect(host.failures).to.deep.equal([]);
    });

    it('with counts: true, counts a failure', () => {
      const { host, coordinator } = setup({ tolerableFailures: 0 });
      coordinator.start();
      host.clock.advance(1000);
      coordinator.decline(1, 'its state could not be written', true);
      expect(host.failures).to.have.length(1);
      expect(host.failures[0]).to.match(/^checkpoint 1 failed \(declined: its state could not be written\); 1 in a row/);
    });

    it('a decline that does not count neither adds to nor resets the count', () => {
      const { host, coordinator } = setup({ timeoutMs: 600, tolerableFailures: 1 });
      coordinator.start();
      host.clock.advance(1600); // 1 timed out: 1 in a row
      host.clock.advance(400); // 2000: 2 triggered
      coordinator.decline(2, 'the source has finished', false);
      expect(host.failures).to.deep.equal([]);
      host.clock.advance(1600); // 3 timed out: 2 in a row
      expect(host.failures).to.have.length(1);
      expect(host.failures[0]).to.match(/^checkpoint 3 failed .*; 2 in a row, more than the 1 tolerated$/);
    });

    it('ignores a decline for another checkpoint', () => {
      const { host, coordinator } = setup();
      coordinator.start();
      host.clock.advance(1000);
      coordinator.decline(7, 'whatever', true);
      expect(coordinator.inFlight).to.equal(1);
      expect(host.of('checkpoint.failed')).to.deep.equal([]);
      expect(host.failures).to.deep.equal([]);
    });
  });

  describe('savepoint', () => {
    it('triggers at once and returns its id', () => {
      const { host, coordinator } = setup();
      coordinator.start();
      host.clock.advance(300);
      const id = coordinator.savepoint(false);
      expect(id).to.equal(1);
      expect(coordinator.inFlight).to.equal(1);
      expect(host.triggered).to.deep.equal([{ checkpointId: 1, stop: false, at: 300 }]);
      expect(host.of('checkpoint.triggered').map((e) => [e.checkpointId, e.savepoint])).to.deep.equal([[1, true]]);
    });

    it('aborts a periodic checkpoint in flight, reported but not counted', () => {
      const { host, coordinator } = setup({ tolerableFailures: 0 });
      coordinator.start();
      host.clock.advance(1000);
      coordinator.ack(1, 'source', 0, handle(1, 'source', 0), 0);
      const id = coordinator.savepoint(false);
      expect(id).to.equal(2);
      expect(host.of('checkpoint.failed').map((e) => [e.checkpointId, e.savepoint, e.reason])).to.deep.equal([[1, false, 'a savepoint was requested']]);
      expect(host.notified).to.deep.equal([{ type: 'checkpoint-aborted', checkpointId: 1 }]);
      expect(host.storage.discarded).to.deep.equal([{ jobId: 'job-1', checkpointId: 1 }]);
      expect(host.failures).to.deep.equal([]);
      expect(coordinator.inFlight).to.equal(2);
    });

    it('completes with savepoint: true, leaves latest alone, and keeps old checkpoints', async () => {
      const { host, coordinator } = setup();
      coordinator.start();
      host.clock.advance(1000);
      await complete(host, 1);
      const latest = coordinator.latest;
      host.clock.advance(200);
      const id = coordinator.savepoint(false);
      await complete(host, id);
      const completed = host.of('checkpoint.completed').find((e) => e.checkpointId === id);
      expect(completed).to.include({ savepoint: true, pointer: FakeStorage.pointer(id) });
      expect(host.storage.written.find((m) => m.checkpointId === id)?.savepoint).to.equal(true);
      expect(coordinator.latest).to.equal(latest);
      expect(coordinator.latest?.metadata.checkpointId).to.equal(1);
      expect(host.storage.retainCalls, 'retain only after checkpoint 1').to.have.length(1);
      expect(host.notified).to.deep.include({ type: 'checkpoint-complete', checkpointId: id });
      expect(host.settledCalls).to.equal(2);
    });

    it('a savepoint that times out is reported but not counted', () => {
      const { host, coordinator } = setup({ timeoutMs: 600, tolerableFailures: 0 });
      coordinator.start();
      const id = coordinator.savepoint(false);
      host.clock.advance(600);
      expect(host.of('checkpoint.failed').map((e) => [e.checkpointId, e.savepoint])).to.deep.equal([[id, true]]);
      expect(host.failures).to.deep.equal([]);
    });

    it('periodic checkpoints go on after a savepoint', async () => {
      const { host, coordinator } = setup();
      coordinator.start();
      host.clock.advance(500);
      await complete(host, coordinator.savepoint(false));
      await runFor(host, 2000); // to 2500
      expect(host.triggerTimes).to.deep.equal([1000, 2000]);
      expect(host.of('checkpoint.triggered').map((e) => e.checkpointId)).to.deep.equal([1, 2, 3]);
    });

    it('savepoint(true) tells the sources to stop and ends periodic checkpoints', async () => {
      const { host, coordinator } = setup();
      coordinator.start();
      host.clock.advance(1000);
      await complete(host, 1);
      host.clock.advance(200);
      const id = coordinator.savepoint(true);
      expect(host.triggered.at(-1)).to.deep.equal({ checkpointId: id, stop: true, at: 1200 });
      await complete(host, id);
      expect(host.of('checkpoint.completed').map((e) => [e.checkpointId, e.savepoint])).to.deep.equal([[1, false], [id, true]]);
      host.clock.advance(10_000);
      expect(host.triggerTimes).to.deep.equal([1000]);
      expect(coordinator.inFlight).to.equal(undefined);
    });

    it('throws a clear error when not every task runs', () => {
      const { host, coordinator } = setup();
      coordinator.start();
      host.running = false;
      expect(() => coordinator.savepoint(false)).to.throw(CloudflinkError, /a savepoint needs every task of the job running/)
        .with.property('code', 'TASK_FAILED');
      expect(host.events).to.deep.equal([]);
      expect(host.triggered).to.deep.equal([]);
    });

    it('throws the same error before the job runs (not started) and after it stopped', () => {
      const { coordinator } = setup();
      expect(() => coordinator.savepoint(false)).to.throw(CloudflinkError, /every task of the job running/);
      coordinator.start();
      coordinator.stop('the job is being cancelled');
      expect(() => coordinator.savepoint(true)).to.throw(CloudflinkError, /every task of the job running/);
    });

    it('does not give up a checkpoint whose metadata is being written when a savepoint is requested', async () => {
      const { host, coordinator } = setup();
      host.storage.mode = 'hang';
      coordinator.start();
      host.clock.advance(1000);
      ackAll(coordinator, 1); // every task acked: tasks may already pre-commit on it
      expect(coordinator.persisting).to.equal(true);
      // Whether the savepoint is refused or waits is up to the coordinator; checkpoint 1 must not be given up.
      try { coordinator.savepoint(false); } catch { /* refused: acceptable */ }
      expect(host.of('checkpoint.failed').map((e) => e.checkpointId)).not.to.include(1);
      expect(host.notified).not.to.deep.include({ type: 'checkpoint-aborted', checkpointId: 1 });
      expect(host.storage.discarded.map((d) => d.checkpointId)).not.to.include(1);
      host.storage.hanging[0]!.resolve();
      await host.drain();
      expect(host.of('checkpoint.completed').map((e) => e.checkpointId)).to.include(1);
      expect(coordinator.latest?.metadata.checkpointId).to.equal(1);
    });
  });

  describe('stop', () => {
    it('gives up a checkpoint still waiting for acks: reported, not counted', () => {
      const { host, coordinator } = setup({ tolerableFailures: 0 });
      coordinator.start();
      host.clock.advance(1000);
      coordinator.ack(1, 'map', 0, handle(1, 'map', 0), 0);
      coordinator.stop('the job is being cancelled');
      expect(host.of('checkpoint.failed').map((e) => [e.checkpointId, e.reason])).to.deep.equal([[1, 'the job is being cancelled']]);
      expect(host.notified).to.deep.equal([{ type: 'checkpoint-aborted', checkpointId: 1 }]);
      expect(host.storage.discarded).to.deep.equal([{ jobId: 'job-1', checkpointId: 1 }]);
      expect(host.failures).to.deep.equal([]);
      expect(coordinator.inFlight).to.equal(undefined);
    });

    it('triggers nothing after it, and a late ack or timeout changes nothing', async () => {
      const { host, coordinator } = setup({ timeoutMs: 600 });
      coordinator.start();
      host.clock.advance(1000);
      coordinator.stop('the job is failing: boom');
      const events = host.events.length;
      ackAll(coordinator, 1);
      host.clock.advance(10_000);
      await host.drain();
      expect(host.events).to.have.length(events);
      expect(host.triggered.map((t) => t.checkpointId)).to.deep.equal([1]);
      expect(host.storage.written).to.deep.equal([]);
      expect(host.clock.pending).to.equal(0);
    });

    it('lets a checkpoint whose metadata is being written finish: its completion is still published', async () => {
      const { host, coordinator } = setup();
      host.storage.mode = 'hang';
      coordinator.start();
      host.clock.advance(1000);
      ackAll(coordinator, 1);
      coordinator.stop('the job finished');
      expect(host.of('checkpoint.failed')).to.deep.equal([]);
      expect(host.notified).to.deep.equal([]);
      expect(coordinator.persisting).to.equal(true);
      host.clock.advance(20_000); // neither a timeout nor a trigger
      expect(host.of('checkpoint.failed')).to.deep.equal([]);
      expect(host.triggered).to.have.length(1);

      host.storage.hanging[0]!.resolve();
      await host.drain();
      expect(host.of('checkpoint.completed').map((e) => [e.checkpointId, e.pointer])).to.deep.equal([[1, FakeStorage.pointer(1)]]);
      expect(host.notified).to.deep.equal([{ type: 'checkpoint-complete', checkpointId: 1 }]);
      expect(coordinator.latest?.pointer).to.equal(FakeStorage.pointer(1));
      expect(host.settledCalls).to.equal(1);
      expect(coordinator.persisting).to.equal(false);
    });

    it('lets a stop-with-savepoint finish after the job stopped, without moving latest', async () => {
      const { host, coordinator } = setup();
      host.storage.mode = 'hang';
      coordinator.start();
      const id = coordinator.savepoint(true);
      ackAll(coordinator, id);
      coordinator.stop('the job finished');
      host.storage.hanging[0]!.resolve();
      await host.drain();
      expect(host.of('checkpoint.completed').map((e) => [e.checkpointId, e.savepoint])).to.deep.equal([[id, true]]);
      expect(coordinator.latest).to.equal(undefined);
      expect(host.settledCalls).to.equal(1);
    });
  });

  describe('ids', () => {
    it('continue from startAfter', async () => {
      const { host, coordinator } = setup({}, 41);
      coordinator.start();
      host.clock.advance(1000);
      expect(coordinator.inFlight).to.equal(42);
      await complete(host, 42);
      expect(coordinator.latest?.metadata.checkpointId).to.equal(42);
      host.clock.advance(200);
      expect(coordinator.savepoint(false)).to.equal(43);
    });

    it('are never reused: an aborted checkpoint uses up its id', () => {
      const { host, coordinator } = setup({ timeoutMs: 600, tolerableFailures: 9 });
      coordinator.start();
      host.clock.advance(3000);
      expect(host.triggered.map((t) => t.checkpointId)).to.deep.equal([1, 2, 3]);
    });

    it('go on across stop and start', async () => {
      const { host, coordinator } = setup();
      coordinator.start();
      host.clock.advance(1000);
      coordinator.stop('the job is failing: boom');
      host.clock.advance(5000);
      coordinator.start();
      host.clock.advance(1000);
      expect(coordinator.inFlight).to.equal(2);
    });
  });

  describe('metadata write failure', () => {
    it('reports the checkpoint failed, counts it, discards it, and settles', async () => {
      const { host, coordinator } = setup({ tolerableFailures: 0 });
      host.storage.mode = 'reject';
      coordinator.start();
      host.clock.advance(1000);
      ackAll(coordinator, 1);
      expect(host.of('checkpoint.failed')).to.deep.equal([]); // not before its step runs
      await host.drain();
      const [failed, ...more] = host.of('checkpoint.failed');
      expect(more).to.deep.equal([]);
      expect(failed).to.include({ checkpointId: 1, savepoint: false });
      expect(failed!.reason).to.equal('writing its metadata to memory storage failed: disk full');
      expect(host.of('checkpoint.completed')).to.deep.equal([]);
      expect(host.notified).to.deep.equal([{ type: 'checkpoint-aborted', checkpointId: 1 }]);
      expect(host.storage.discarded).to.deep.equal([{ jobId: 'job-1', checkpointId: 1 }]);
      expect(host.storage.retainCalls).to.deep.equal([]);
      expect(coordinator.latest).to.equal(undefined);
      expect(host.settledCalls).to.equal(1);
      expect(host.failures).to.have.length(1);
      expect(host.failures[0]).to.match(/^checkpoint 1 failed \(writing its metadata to memory storage failed: disk full\); 1 in a row/);
    });

    it('is reported even after the job stopped while it was being written', async () => {
      const { host, coordinator } = setup({ tolerableFailures: 5 });
      host.storage.mode = 'hang';
      coordinator.start();
      host.clock.advance(1000);
      ackAll(coordinator, 1);
      coordinator.stop('the job finished');
      host.storage.hanging[0]!.reject(new Error('bucket gone'));
      await host.drain();
      expect(host.of('checkpoint.failed').map((e) => e.reason)).to.deep.equal(['writing its metadata to memory storage failed: bucket gone']);
      expect(host.settledCalls).to.equal(1);
    });

    it('the next periodic checkpoint follows a failed write', async () => {
      const { host, coordinator } = setup({ tolerableFailures: 5 });
      host.storage.mode = 'reject';
      coordinator.start();
      host.clock.advance(1000);
      await complete(host, 1);
      host.storage.mode = 'resolve';
      host.clock.advance(1000);
      await complete(host, 2);
      expect(host.of('checkpoint.completed').map((e) => e.checkpointId)).to.deep.equal([2]);
      expect(coordinator.latest?.metadata.checkpointId).to.equal(2);
    });
  });
});
