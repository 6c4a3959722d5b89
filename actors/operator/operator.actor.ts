import { decodeFrame } from '../../lib/codec/index.ts';
import { CloudflinkError } from '../../lib/errors/index.ts';
import type { ActorContext, ActorSystem, Behavior } from '../../lib/actor/index.ts';
import type { Subjects } from '../../lib/subjects/index.ts';
import type { Subscription } from '../../lib/transport/index.ts';
import type { TaskMetrics } from '../job-manager/protocol.ts';
import { InputGate } from './input-gate.ts';
import { OutputGate } from './output-gate.ts';
import { createOperatorLogic, keySelector, type Collector, type OperatorLogic } from './logic/index.ts';
import { describe as describeValue } from './logic/transforms.ts';
import type { Frame, OperatorMessage, TaskDeployment } from './protocol.ts';

/** How long one pump turn may hold the event loop before yielding to timers and I/O (heartbeats). */
const TURN_MS = 5;
const SOURCE_BATCH = 256;

export interface OperatorInstanceOptions {
  system: ActorSystem;
  subjects: Subjects;
  task: TaskDeployment;
  /** The Task Manager, told `task-finished` when the subtask is done. */
  parent: string;
}

type Phase = 'created' | 'running' | 'finishing' | 'done' | 'stopped';

/**
 * One parallel instance of an operator: pulls frames from its input gate (or its source),
 * calls the operator, and pushes records to its output gate. It pulls only while the
 * output gate has credit, so a slow consumer slows this instance instead of filling memory.
 */
export class OperatorInstance implements Behavior<OperatorMessage> {
  readonly address: string;
  private logic!: OperatorLogic;
  private input!: InputGate;
  private output!: OutputGate;
  private subscriptions: Subscription[] = [];
  private phase: Phase = 'created';
  private pumpScheduled = false;
  private exhausted = false;
  private readonly collector: Collector;

  constructor(private readonly options: OperatorInstanceOptions) {
    const { subjects, task } = options;
    this.address = subjects.task(task.jobId, task.vertex.id, task.subtask);
    this.collector = { emit: (record) => this.output.emit(record) };
  }

  get isSource(): boolean {
    return this.options.task.inputs.length === 0;
  }

  metrics(): TaskMetrics {
    const { task } = this.options;
    return {
      jobId: task.jobId, vertexId: task.vertex.id, subtask: task.subtask,
      recordsIn: this.input?.recordsIn ?? 0, recordsOut: this.output?.recordsOut ?? 0,
    };
  }

  /** Builds the operator and subscribes to its input channels; nothing flows until `start`. */
  async initialize(): Promise<void> {
    const { system, subjects, task } = this.options;
    this.logic = await createOperatorLogic(task);
    const outputs = await Promise.all(task.outputs.map(async (spec) => ({
      spec,
      subjects: Array.from({ length: spec.peerParallelism }, (_, i) => subjects.data(task.jobId, spec.edgeIndex, i)),
      keyOf: spec.key ? await keySelector(spec.key, task.vertex.params, `the key of edge ${spec.edgeIndex}`) : undefined,
    })));
    this.output = new OutputGate(outputs, {
      subtask: task.subtask,
      maxParallelism: task.maxParallelism,
      network: task.network,
      clock: system.clock,
      publish: (subject, frame) => system.transport.publish(subject, frame),
      localReceiver: (subject) => system.localRoute(subject) as ((frame: Frame) => void) | undefined,
      onWritable: () => this.writable(),
      onError: (error) => this.fail(error, { index: this.output.recordsOut }),
    });
    this.input = new InputGate(
      task.inputs.map((spec) => ({ edgeIndex: spec.edgeIndex, upstreamParallelism: spec.peerParallelism })),
      {
        credits: task.network.credits,
        grant: (edgeIndex, from, credits) => {
          const upstream = task.inputs.find((i) => i.edgeIndex === edgeIndex)!.peerVertexId;
          system.tell(subjects.task(task.jobId, upstream, from), { type: 'credit', edgeIndex, subtask: task.subtask, credits }, this.address);
        },
      });
    for (const spec of task.inputs) {
      const subject = subjects.data(task.jobId, spec.edgeIndex, task.subtask);
      const arrive = (frame: Frame): void => {
        if (this.phase !== 'running') return;
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
        this.schedulePump();
        return;
      case 'credit':
        this.output.grant(msg.edgeIndex, msg.subtask, msg.credits);
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

  private release(): void {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    for (const sub of this.subscriptions) sub.unsubscribe();
    this.subscriptions = [];
    this.output?.close();
    try {
      this.logic?.close?.();
    } catch {
      // Closing after a failure may fail again; the first error is the one reported.
    }
  }

  private schedulePump(): void {
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
    let current: { record?: unknown; index: number } = { index: 0 };
    try {
      if (this.isSource) {
        while (!this.output.blocked && !this.exhausted && performance.now() - started < TURN_MS) {
          current = { index: this.output.recordsOut + 1 };
          this.exhausted = this.logic.produce!(this.collector, SOURCE_BATCH);
        }
        if (this.exhausted) this.endOfInput();
        else if (!this.output.blocked) this.schedulePump();
        return;
      }
      while (!this.output.blocked && performance.now() - started < TURN_MS) {
        const next = this.input.take();
        if (!next) break;
        for (const record of next.frame.r) {
          current = { record, index: ++this.input.recordsIn };
          this.logic.process!(record, this.collector);
        }
      }
      if (this.input.finished) this.endOfInput();
      else if (!this.output.blocked && this.input.queued > 0) this.schedulePump();
    } catch (error) {
      this.fail(error, current);
    }
  }

  private endOfInput(): void {
    this.logic.finish?.(this.collector);
    this.output.end();
    this.phase = 'finishing';
    if (this.output.drained) this.done();
  }

  private writable(): void {
    if (this.phase === 'finishing' && this.output.drained) this.done();
    else this.schedulePump();
  }

  private done(): void {
    const collected = this.logic.collected?.();
    this.release();
    this.phase = 'done';
    this.options.system.tell(this.options.parent,
      { type: 'task-finished', address: this.address, metrics: this.metrics(), collected }, this.address);
  }

  private fail(error: unknown, at: { record?: unknown; index: number }): void {
    const { vertex, subtask } = this.options.task;
    const message = error instanceof Error ? error.message : String(error);
    const position = this.isSource ? `at element #${at.index}` : `on record #${at.index}`;
    const record = this.isSource ? '' : `; the record: ${describeValue(at.record)}`;
    const failure = new CloudflinkError('UDF_FAILED',
      `${vertex.operator} '${vertex.name}' failed ${position} of subtask ${subtask + 1}/${vertex.parallelism}: ${message}${record}`,
      { data: { vertexId: vertex.id, function: vertex.name, subtask, recordIndex: at.index, error: message }, cause: error });
    this.release();
    this.options.system.tell(this.address, { type: 'fail', error: failure });
  }
}
