import { decode, decodeFrame, encode } from '../../lib/codec/index.ts';
import { CloudflinkError } from '../../lib/errors/index.ts';
import type { ActorContext, ActorSystem, Behavior } from '../../lib/actor/index.ts';
import type { CheckpointStorage } from '../../lib/checkpoint/types.ts';
import { KeyedStateBackend, keyGroupRangeFor, type KeyedStateSnapshot } from '../../lib/state/index.ts';
import type { Subjects } from '../../lib/subjects/index.ts';
import type { Subscription } from '../../lib/transport/index.ts';
import type { JobManagerMessage, TaskMetrics } from '../job-manager/protocol.ts';
import { BarrierAligner } from './barrier-aligner.ts';
import { chainKey, type ChainedInput } from './chain.ts';
import { InputGate } from './input-gate.ts';
import { WatermarkGenerator, WatermarkTracker } from './watermarks.ts';
import type { TimerHandle } from '../../lib/clock/index.ts';
import { OutputGate } from './output-gate.ts';
import { isKeyed } from '../../lib/descriptor/graph.ts';
import { createOperatorLogic, keySelector, type Collector, type OperatorLogic } from './logic/index.ts';
import { describe as describeValue } from './logic/emit.ts';
import type { Frame, OperatorMessage, TaskDeployment } from './protocol.ts';
import { StoredInputs, StoredOutputs } from './stored-channels.ts';
import type { ShuffleStorage } from '../../lib/shuffle/types.ts';

/** How long one pump turn may hold the event loop before yielding to timers and I/O (heartbeats). */
const TURN_MS = 5;
const SOURCE_BATCH = 256;

export interface OperatorInstanceOptions {
  system: ActorSystem;
  subjects: Subjects;
  task: TaskDeployment;
  /** The Task Manager, told `task-finished` when the subtask is done. */
  parent: string;
  /** Where snapshots go; required when the job checkpoints or restores. */
  storage?: CheckpointStorage;
  /** Where blocking edges keep their data; required when the task has one. */
  shuffle?: ShuffleStorage;
}

/** What a task writes for a checkpoint: its keyed state and its operator state, in one blob. */
interface TaskState {
  keyed?: KeyedStateSnapshot;
  operator?: unknown;
}

type Phase = 'created' | 'running' | 'finishing' | 'done' | 'stopped';

/** The frame being processed: records are taken one by one, so a blocked output stops the instance mid-frame. */
interface FrameInProgress {
  frame: Frame;
  channel: string;
  /** The input it came by: 1, or 2 for a two-input operator's second. */
  input: 1 | 2;
  next: number;
}

/**
 * One parallel instance of an operator: pulls frames from its input gate (or its source),
 * calls the operator, and pushes records to its output gate. It pulls only while the
 * output gate has credit, so a slow consumer slows this instance instead of filling memory.
 * Checkpoint barriers travel in band: a source snapshots when the Job Manager asks and emits
 * the barrier; any other operator aligns the barriers of its inputs, snapshots, forwards it.
 * An instance chained to its upstream has no input gate: its upstream calls it (see chain.ts).
 */
export class OperatorInstance implements Behavior<OperatorMessage> {
  readonly address: string;
  private logic!: OperatorLogic;
  private keyed?: KeyedStateBackend;
  private input!: InputGate;
  private output!: OutputGate;
  /** The ends of its blocking edges, in the shuffle storage. */
  private storedOutputs?: StoredOutputs;
  private storedInputs?: StoredInputs;
  /** Settles once its stored output is complete, or aborted: never rejects. */
  outputsSettled: Promise<void> = Promise.resolve();
  private aligner!: BarrierAligner;
  private subscriptions: Subscription[] = [];
  private phase: Phase = 'created';
  /** Processing-time callbacks that came due before `start`. */
  private readonly dueBeforeStart: (() => void)[] = [];
  private pumpScheduled = false;
  /** After the end of input: a blocking operator is emitting what it held. */
  private draining = false;
  private exhausted = false;
  /** Snapshot writes in flight: the task reports FINISHED only after their acknowledgements. */
  private readonly writes = new Set<Promise<void>>();
  private collector: Collector;
  private inProgress?: FrameInProgress;
  /** The record being processed and its number, for the error message if the function throws. */
  private record: unknown;
  private recordsIn = 0;
  /** The event-time timestamp of the record being processed, which what it emits inherits. */
  private timestamp: number | undefined;
  private watermarks!: WatermarkTracker;
  /** A source with event time: its watermark generator, ticking on a timer while it runs. */
  private generator?: { of: (record: unknown) => unknown; watermarks: WatermarkGenerator; timer?: TimerHandle; intervalMs: number; now: number };
  private busyMs = 0;
  /** The input ends for a stop with a savepoint: the job resumes later, so event time is not drained. */
  private stopping = false;
  /** Set when this instance is chained to its upstream: whom to wake when it can take records again. */
  private wakeUpstream?: () => void;

  /** Chained to its upstream: it never pumps, its upstream calls it. */
  private readonly chainedInput: boolean;
  /** Which input (1 or 2) each input edge is. */
  private readonly inputOf: Map<number, 1 | 2>;

  constructor(private readonly options: OperatorInstanceOptions) {
    const { subjects, task } = options;
    this.address = subjects.task(task.jobId, task.vertex.id, task.subtask);
    this.chainedInput = task.inputs.some((spec) => spec.chained);
    this.inputOf = new Map(task.inputs.map((spec) => [spec.edgeIndex, spec.input ?? 1]));
    this.collector = {
      emit: (record, timestamp) => this.output.emit(record, timestamp ?? this.timestamp),
      emitTo: (tag, record, timestamp) => this.output.emitTo(tag, record, timestamp ?? this.timestamp),
    };
  }

  get isSource(): boolean {
    return this.options.task.inputs.length === 0;
  }


  metrics(): TaskMetrics {
    const { task } = this.options;
    return {
      jobId: task.jobId, vertexId: task.vertex.id, subtask: task.subtask,
      recordsIn: this.recordsIn, recordsOut: this.output?.recordsOut ?? 0,
      framesIn: this.input?.framesIn ?? 0, framesLost: this.input?.framesLost ?? 0, framesOut: this.output?.framesOut ?? 0,
      busyMs: Math.round(this.busyMs), backpressuredMs: Math.round(this.output?.backpressuredMs ?? 0),
      queuedFrames: (this.input?.queued ?? 0) + (this.output?.waiting ?? 0),
      peakQueuedFrames: this.input?.peakQueuedFrames ?? 0, peakWaitingFrames: this.output?.peakWaitingFrames ?? 0,
    };
  }

  /** Builds the operator, restores its state, and subscribes to its input channels; nothing flows until `start`. */
  async initialize(): Promise<void> {
    const { system, subjects, task } = this.options;
    // A window not keyed (windowAll) keeps its windows as keyed state too, all under one key.
    if (isKeyed(task.vertex.operator) || task.vertex.operator === 'window' || task.inputs.some((input) => input.partition === 'hash')) {
      this.keyed = new KeyedStateBackend({
        maxParallelism: task.maxParallelism,
        range: keyGroupRangeFor(task.subtask, task.vertex.parallelism, task.maxParallelism),
      });
    }
    this.logic = await createOperatorLogic(task, this.keyed, {
      now: () => system.clock.now(),
      at: (time, callback) => {
        const call = (): void => {
          this.timestamp = undefined;
          this.guarded(() => callback(this.collector));
        };
        system.clock.setTimeout(() => {
          // Due before the task started (a timer restored from a checkpoint): it runs at the start.
          if (this.phase === 'created') this.dueBeforeStart.push(call);
          else if (this.phase === 'running') call();
        }, Math.max(0, time - system.clock.now()));
      },
    });
    const strategy = task.vertex.watermarks;
    if (strategy && this.isSource) {
      const now = system.clock.now();
      this.generator = {
        of: await keySelector(strategy.timestamp, task.vertex.params, `the timestamp of vertex '${task.vertex.id}'`),
        watermarks: new WatermarkGenerator({ outOfOrdernessMs: strategy.outOfOrdernessMs ?? 0, idleTimeoutMs: strategy.idleTimeoutMs }, now),
        intervalMs: strategy.intervalMs ?? 200,
        now,
      };
      const generator = this.generator;
      this.collector = {
        emit: (record) => {
          const timestamp = generator.of(record);
          if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) {
            throw new CloudflinkError('UDF_FAILED', `the timestamp of a record must be a finite number of epoch milliseconds, got ${describeValue(timestamp)}`);
          }
          generator.watermarks.onRecord(timestamp, generator.now);
          this.output.emit(record, timestamp);
        },
      };
    }
    if (task.restore) await this.restore();
    const shuffle = (): ShuffleStorage => {
      if (this.options.shuffle) return this.options.shuffle;
      throw new CloudflinkError('INTERNAL', 'a task has a blocking edge but its Task Manager has no shuffle storage');
    };
    if (task.outputs.some((spec) => spec.blocking)) {
      this.storedOutputs = new StoredOutputs(shuffle(), task, (edgeIndex, to, credits) => this.output.grant(edgeIndex, to, credits), (error) => this.storageFailed(error));
    }
    if (task.inputs.some((spec) => spec.blocking)) {
      this.storedInputs = new StoredInputs(shuffle(), task, (edgeIndex, frame) => {
        if (this.phase !== 'running') return;
        this.input.arrive(edgeIndex, frame);
        this.schedulePump();
      }, (error) => this.storageFailed(error));
    }
    const outputs = await Promise.all(task.outputs.map(async (spec) => ({
      spec,
      subjects: Array.from({ length: spec.peerParallelism }, (_, i) =>
        (spec.blocking ? this.storedOutputs!.subject(spec.edgeIndex, i) : subjects.data(task.jobId, spec.edgeIndex, i))),
      keyOf: spec.key ? await keySelector(spec.key, task.vertex.params, `the key of edge ${spec.edgeIndex}`) : undefined,
    })));
    this.output = new OutputGate(outputs, {
      subtask: task.subtask,
      attempt: task.attempt,
      maxParallelism: task.maxParallelism,
      network: task.network,
      clock: system.clock,
      chainedInput: (edgeIndex) => system.lookupShared<ChainedInput>(chainKey(task.jobId, task.attempt, task.execution, edgeIndex, task.subtask)),
      publish: (subject, frame) => {
        if (this.storedOutputs?.owns(subject)) this.storedOutputs.write(subject, frame);
        else system.transport.publish(subject, frame);
      },
      localReceiver: (subject) => system.localRoute(subject) as ((frame: Frame) => void) | undefined,
      onWritable: () => this.writable(),
      onError: (error) => this.fail(error, undefined),
      ...(this.logic.channelOf ? { channelOf: this.logic.channelOf.bind(this.logic) } : {}),
    });
    this.storedOutputs?.open(task.network.credits);
    this.input = new InputGate(
      task.inputs.filter((spec) => !spec.chained).map((spec) => ({ edgeIndex: spec.edgeIndex, upstreamParallelism: spec.peerParallelism })),
      {
        credits: task.network.credits,
        grant: (edgeIndex, from, credits) => {
          if (this.storedInputs?.has(edgeIndex)) {
            this.storedInputs.grant(edgeIndex, from, credits);
            return;
          }
          const upstream = task.inputs.find((i) => i.edgeIndex === edgeIndex)!.peerVertexId;
          system.tell(subjects.task(task.jobId, upstream, from),
            { type: 'credit', attempt: task.attempt, edgeIndex, subtask: task.subtask, credits }, this.address);
        },
        lost: (edgeIndex, from, missing) => this.failWith(new CloudflinkError('FRAMES_LOST',
          `${this.describe()}: ${missing} data frame(s) from subtask ${from + 1} on edge ${edgeIndex} never arrived (NATS delivers ` +
          'at most once: a slow consumer or a reconnect drops messages); the job restarts from its last checkpoint rather than go on without them')),
      });
    this.aligner = new BarrierAligner(this.input, task.checkpointing.mode, () => system.clock.now());
    this.watermarks = new WatermarkTracker(task.inputs.filter((spec) => !spec.chained)
      .flatMap((spec) => Array.from({ length: spec.peerParallelism }, (_, from) => `${spec.edgeIndex}:${from}`)));
    for (const spec of task.inputs) {
      if (spec.chained) {
        this.subscriptions.push(system.share(chainKey(task.jobId, task.attempt, task.execution, spec.edgeIndex, task.subtask), this.asChainedInput()));
        continue;
      }
      if (spec.blocking) {
        for (let from = 0; from < spec.peerParallelism; from++) this.storedInputs!.add(spec.edgeIndex, from, spec.producerExecutions?.[from] ?? 0);
        continue;
      }
      const subject = subjects.data(task.jobId, spec.edgeIndex, task.subtask);
      const arrive = (frame: Frame): void => {
        if (this.phase !== 'running' || frame.a !== task.attempt) return;
        this.input.arrive(spec.edgeIndex, frame);
        this.schedulePump();
      };
      // Senders in this process hand frames over by call; the others come through NATS.
      this.subscriptions.push(system.routeLocally(subject, (frame) => arrive(frame as Frame)));
      this.subscriptions.push(system.transport.subscribe(subject, (msg) => arrive(decodeFrame<Frame>(msg.data))));
    }
  }

  receive(msg: OperatorMessage, _ctx: ActorContext): void {
    switch (msg.type) {
      case 'start':
        if (this.phase !== 'created') return;
        this.phase = 'running';
        this.input.open();
        this.startWatermarks();
        for (const call of this.dueBeforeStart.splice(0)) call();
        this.schedulePump();
        return;
      case 'credit':
        if (msg.attempt === this.options.task.attempt) this.output.grant(msg.edgeIndex, msg.subtask, msg.credits);
        return;
      case 'trigger-checkpoint':
        if (this.phase !== 'running' || !this.isSource || this.exhausted) {
          this.decline(msg.checkpointId, `${this.describe()} is not running a source`, false);
          return;
        }
        this.checkpoint(msg.checkpointId, 0);
        if (msg.stop) {
          // Stop-with-savepoint: nothing after the barrier, then end of input, without the final watermark.
          this.exhausted = true;
          this.stopping = true;
          this.schedulePump();
        }
        return;
      case 'checkpoint-complete':
        this.logic.notifyCheckpointComplete?.(msg.checkpointId);
        return;
      case 'checkpoint-aborted':
        this.aligner?.abort(msg.checkpointId);
        this.schedulePump();
        return;
      case 'cancel':
        this.release();
        return;
      case 'fail':
        // Thrown so the failure takes the supervision path to the Task Manager.
        throw msg.error;
      default: {
        const never: never = msg;
        throw new Error(`unexpected message ${JSON.stringify(never)}`);
      }
    }
  }

  stopped(): void {
    this.release();
  }

  /** A source with event time sends its watermark (or that it is idle) every interval while it runs. */
  private startWatermarks(): void {
    const generator = this.generator;
    if (!generator) return;
    const { clock } = this.options.system;
    generator.timer = clock.setInterval(() => {
      if (this.phase !== 'running' || this.exhausted) return;
      generator.now = clock.now();
      const next = generator.watermarks.tick(generator.now);
      if (next === 'idle') this.output.idle();
      else if (next !== undefined) this.output.watermark(next);
    }, generator.intervalMs);
  }

  /** This instance as its chained upstream calls it: in that upstream's pass, never on its own. */
  private asChainedInput(): ChainedInput {
    const self = this;
    const live = (): boolean => {
      // The upstream may start first; its first record starts this instance.
      if (self.phase === 'created') self.phase = 'running';
      return self.phase === 'running';
    };
    return {
      push(record, timestamp) {
        if (!live()) return;
        self.recordsIn++;
        self.timestamp = timestamp;
        try {
          // A two-input operator is never chained (it has two inputs): this is its only one.
          self.logic.process!(record, self.collector, 1, timestamp);
        } catch (error) {
          self.fail(error, record);
        }
      },
      watermark(watermark) {
        if (live()) self.guarded(() => self.advanceWatermark(watermark));
      },
      idle() {
        if (live()) self.output.idle();
      },
      barrier(checkpointId) {
        if (live()) self.checkpoint(checkpointId, 0);
      },
      end(stopped) {
        self.stopping ||= stopped;
        if (live()) self.endOfInput();
      },
      get blocked() {
        return self.phase === 'running' && self.output.blocked;
      },
      onWritable(listener) {
        self.wakeUpstream = listener;
      },
    };
  }

  private async restore(): Promise<void> {
    const { task, storage } = this.options;
    const restore = task.restore!;
    if (!storage) throw new CloudflinkError('INTERNAL', 'a task restores from a checkpoint but its Task Manager has no checkpoint storage');
    const states = await Promise.all(restore.handles.map(async (handle) =>
      handle ? decode<TaskState>(await storage.readState(restore.jobId, handle)) : undefined));
    if (this.keyed) this.keyed.restore(states.flatMap((s) => (s?.keyed ? [s.keyed] : [])));
    this.logic.restoreState?.(states.map((s) => s?.operator));
  }

  /** Snapshots (synchronously, between records), sends the barrier on, then writes and acknowledges. */
  private checkpoint(checkpointId: number, alignmentMs: number): void {
    const { system, subjects, task, storage } = this.options;
    const state: TaskState = { keyed: this.keyed?.snapshot(), operator: this.logic.snapshotState?.(checkpointId) };
    const blob = encode(state);
    this.output.barrier(checkpointId);
    if (!storage) {
      this.decline(checkpointId, 'this Task Manager has no checkpoint storage', true);
      return;
    }
    const write = storage.writeState(task.jobId, checkpointId, task.vertex.id, task.subtask, blob).then(
      (handle) => system.tell<JobManagerMessage>(subjects.jobManager, {
        type: 'checkpoint-ack', jobId: task.jobId, attempt: task.attempt, checkpointId,
        vertexId: task.vertex.id, subtask: task.subtask, handle, alignmentMs,
      }, this.address),
      (error: unknown) => this.decline(checkpointId, `writing the state to ${storage.description} failed: ${(error as Error).message}`, true));
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }

  private decline(checkpointId: number, reason: string, counts: boolean): void {
    const { system, subjects, task } = this.options;
    system.tell<JobManagerMessage>(subjects.jobManager,
      { type: 'checkpoint-declined', jobId: task.jobId, attempt: task.attempt, checkpointId, reason, counts }, this.address);
  }

  private release(): void {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    if (this.generator?.timer) this.options.system.clock.clearInterval(this.generator.timer);
    for (const sub of this.subscriptions) sub.unsubscribe();
    this.subscriptions = [];
    this.output?.close();
    this.storedInputs?.close();
    if (this.storedOutputs && !this.storedOutputs.isClosing) this.outputsSettled = this.storedOutputs.abort();
    try {
      this.logic?.close?.();
    } catch {
      // Closing after a failure may fail again; the first error is the one reported.
    }
  }

  private schedulePump(): void {
    // A chained instance runs in its upstream's pass, until it drains what it held at the end: then on its own.
    if (this.chainedInput && !this.draining) {
      this.wakeUpstream?.();
      return;
    }
    if (this.pumpScheduled || this.phase !== 'running') return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.phase !== 'running') return;
    const started = performance.now();
    try {
      if (this.draining) this.drain(started);
      else if (this.isSource) this.produce(started);
      else this.consume(started);
    } catch (error) {
      this.fail(error, this.record);
    } finally {
      this.busyMs += performance.now() - started;
    }
  }

  private produce(started: number): void {
    this.record = undefined;
    while (!this.output.blocked && !this.exhausted && performance.now() - started < TURN_MS) {
      const produced = this.logic.produce!(this.collector, SOURCE_BATCH);
      if (typeof produced === 'number') {
        // Ahead of its rate: come back later, with what is buffered flushed meanwhile by the buffer timeout.
        setTimeout(() => this.schedulePump(), produced);
        return;
      }
      this.exhausted ||= produced;
    }
    if (this.exhausted) this.endOfInput();
    else if (!this.output.blocked) this.schedulePump();
  }

  private consume(started: number): void {
    while (!this.output.blocked && performance.now() - started < TURN_MS) {
      let current = this.inProgress;
      if (!current) {
        const next = this.input.take();
        if (!next) break;
        current = this.inProgress = { frame: next.frame, channel: next.channel, input: this.inputOf.get(next.edgeIndex) ?? 1, next: 0 };
      }
      const records = current.frame.r;
      const times = current.frame.t;
      while (current.next < records.length && !this.output.blocked) {
        const timestamp = times?.[current.next] ?? undefined;
        const record = this.record = records[current.next++];
        this.recordsIn++;
        this.timestamp = timestamp;
        this.logic.process!(record, this.collector, current.input, timestamp);
        // A slow function must not hold the event loop (and the heartbeats) for a whole frame.
        if ((current.next & 63) === 0 && performance.now() - started >= TURN_MS) break;
      }
      if (current.next < records.length) break;
      this.inProgress = undefined;
      const { frame, channel } = current;
      this.record = undefined;
      this.timestamp = undefined;
      this.onEventTime(channel, frame);
      const aligned = frame.b === undefined ? undefined : this.aligner.onBarrier(channel, frame.b);
      const alignedByEnd = frame.e ? this.aligner.onChannelEnded() : undefined;
      const ready = aligned ?? alignedByEnd;
      if (ready) this.checkpoint(ready.checkpointId, ready.alignmentMs);
    }
    if (!this.inProgress && this.input.finished) this.endOfInput();
    else if (!this.output.blocked && (this.inProgress || this.input.ready)) this.schedulePump();
  }

  /** What a frame says of event time, after its records: its channel is active, has a watermark, is idle, or ended. */
  private onEventTime(channel: string, frame: Frame): void {
    let advanced = frame.r.length > 0 ? this.watermarks.active(channel) : undefined;
    if (frame.w !== undefined) advanced = this.watermarks.watermark(channel, frame.w) ?? advanced;
    if (frame.i) advanced = this.watermarks.idle(channel) ?? advanced;
    if (frame.e) advanced = this.watermarks.ended(channel) ?? advanced;
    if (frame.x) this.stopping = true;
    if (advanced !== undefined) this.advanceWatermark(advanced);
    if (frame.i && this.watermarks.allIdle) this.output.idle();
  }

  /** Fires what the watermark completes, then passes it on, after what firing emitted. */
  private advanceWatermark(watermark: number): void {
    this.timestamp = undefined;
    this.logic.onWatermark?.(watermark, this.collector);
    this.output.watermark(watermark);
  }

  /** Runs `work` of a chained instance in its upstream's pass: a throw fails this instance, not the upstream. */
  private guarded(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.fail(error, undefined);
    }
  }

  private endOfInput(): void {
    // End of input completes every event-time window and timer, as Flink's final watermark
    // does; a stop with a savepoint does not (as Flink's stop without --drain): they resume.
    this.timestamp = undefined;
    if (!this.stopping) this.logic.onWatermark?.(Number.POSITIVE_INFINITY, this.collector);
    this.logic.finish?.(this.collector);
    if (this.logic.drain && !this.stopping) {
      // A blocking operator (a sort, a grouping, a join) emits what it held, as a source would: paced by credit.
      this.draining = true;
      this.schedulePump();
      return;
    }
    this.endOutput();
  }

  /** Emits what a blocking operator held, a batch at a time, while the output takes it. */
  private drain(started: number): void {
    this.record = undefined;
    let drained = false;
    while (!this.output.blocked && !drained && performance.now() - started < TURN_MS) drained = this.logic.drain!(this.collector, SOURCE_BATCH);
    if (drained) {
      this.draining = false;
      this.endOutput();
    } else if (!this.output.blocked) this.schedulePump();
  }

  private endOutput(): void {
    this.output.end(this.stopping);
    this.phase = 'finishing';
    if (this.output.drained) this.done();
  }

  private writable(): void {
    if (this.phase === 'finishing' && this.output.drained) this.done();
    else this.schedulePump();
  }

  private done(): void {
    const collected = this.logic.collected?.();
    const commit = this.logic.finalCommit?.();
    // Its stored output must be whole before anyone reads it: before the task is seen to finish.
    const stored = this.storedOutputs?.close();
    if (stored) this.outputsSettled = stored.catch(() => undefined);
    this.release();
    this.phase = 'done';
    const { system, parent } = this.options;
    // A checkpoint this task took part in must be acknowledged before the task is seen to finish.
    void Promise.allSettled([...this.writes]).then(() => stored).then(
      () => system.tell(parent, { type: 'task-finished', address: this.address, metrics: this.metrics(), collected, commit }, this.address),
      (error: unknown) => system.tell(this.address, { type: 'fail', error: error as Error }));
  }

  private describe(): string {
    const { vertex, subtask } = this.options.task;
    return `${vertex.operator} '${vertex.name}' (subtask ${subtask + 1}/${vertex.parallelism})`;
  }

  /** `record` is the one being processed (none for a source); the count of records in so far says which it was. */
  private fail(error: unknown, record: unknown): void {
    const { vertex, subtask } = this.options.task;
    const message = error instanceof Error ? error.message : String(error);
    const index = this.isSource ? this.output.recordsOut + 1 : this.recordsIn;
    const position = this.isSource ? `at element #${index}` : `on record #${index}`;
    const shown = this.isSource ? '' : `; the record: ${describeValue(record)}`;
    const failure = new CloudflinkError('UDF_FAILED',
      `${vertex.operator} '${vertex.name}' failed ${position} of subtask ${subtask + 1}/${vertex.parallelism}: ${message}${shown}`,
      { data: { vertexId: vertex.id, function: vertex.name, subtask, recordIndex: index, error: message }, cause: error });
    this.failWith(failure);
  }

  /** Reading or writing the stored shuffle failed: not the user function's doing, so no record is named. */
  private storageFailed(error: unknown): void {
    const code = error instanceof CloudflinkError ? error.code : 'TASK_FAILED';
    this.failWith(new CloudflinkError(code, `${this.describe()}: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
  }

  /** Stops at once and fails through the supervision path, so the Task Manager reports it. */
  private failWith(failure: CloudflinkError): void {
    if (this.phase === 'stopped') return;
    this.release();
    this.options.system.tell(this.address, { type: 'fail', error: failure });
  }
}
