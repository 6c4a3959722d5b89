import { encodeFrame } from '../../lib/codec/index.ts';
import { CloudflinkError } from '../../lib/errors/index.ts';
import { canonicalKey, subtaskForKey } from '../../lib/partition/index.ts';
import type { Clock, TimerHandle } from '../../lib/clock/index.ts';
import type { ChannelSpec, Frame, NetworkSettings } from './protocol.ts';

/** Far below NATS's 1 MB max_payload, leaving room for headers. */
const MAX_FRAME_BYTES = 900 * 1024;

export type KeyOf = (record: unknown) => unknown;

/** A frame as it goes out: encoded for NATS, or the object itself for a receiver in this process. */
type Outgoing = Uint8Array | Frame;

interface OutputChannel {
  subject: string;
  /** Frames the receiver has room for; granted by it, spent by us. */
  credit: number;
  /** Frames waiting for credit. */
  waiting: Outgoing[];
  buffer: unknown[];
}

interface OutputEdge {
  spec: ChannelSpec;
  channels: OutputChannel[];
  keyOf?: KeyOf;
  nextRoundRobin: number;
}

export interface OutputGateOptions {
  subtask: number;
  /** The job attempt, stamped on every frame. */
  attempt: number;
  maxParallelism: number;
  network: NetworkSettings;
  clock: Clock;
  publish(subject: string, frame: Uint8Array): void;
  /** The receiver of a subject when it lives in this process: frames go to it by call, not encoded. */
  localReceiver(subject: string): ((frame: Frame) => void) | undefined;
  /** Called when the gate stops being blocked (credit arrived for every waiting frame). */
  onWritable(): void;
  /** A flush on the buffer timeout failed (for example a record too large for a frame). */
  onError(error: unknown): void;
}

/**
 * The sending side of one subtask: partitions records over the channels of each output
 * edge, batches them into frames, and sends a frame only against credit granted by the
 * receiver. While any frame waits for credit the gate is `blocked`, and the instance stops
 * pulling input: that is how backpressure travels upstream to the sources.
 */
export class OutputGate {
  private readonly edges: OutputEdge[];
  private flushTimer?: TimerHandle;
  private waitingFrames = 0;
  recordsOut = 0;

  constructor(specs: { spec: ChannelSpec; subjects: string[]; keyOf?: KeyOf }[], private readonly options: OutputGateOptions) {
    this.edges = specs.map(({ spec, subjects, keyOf }) => ({
      spec,
      keyOf,
      nextRoundRobin: options.subtask % Math.max(1, subjects.length),
      channels: subjects.map((subject) => ({ subject, credit: 0, waiting: [], buffer: [] })),
    }));
  }

  get blocked(): boolean {
    return this.waitingFrames > 0;
  }

  /** Every frame sent: nothing buffered, nothing waiting for credit. */
  get drained(): boolean {
    return this.waitingFrames === 0 && this.edges.every((e) => e.channels.every((c) => c.buffer.length === 0));
  }

  emit(record: unknown): void {
    this.recordsOut++;
    for (const edge of this.edges) {
      switch (edge.spec.partition) {
        case 'forward':
          this.push(edge.channels[edge.channels.length === 1 ? 0 : this.options.subtask]!, record);
          break;
        case 'rebalance':
          this.push(edge.channels[edge.nextRoundRobin]!, record);
          edge.nextRoundRobin = (edge.nextRoundRobin + 1) % edge.channels.length;
          break;
        case 'hash': {
          const target = subtaskForKey(canonicalKey(edge.keyOf!(record)), this.options.maxParallelism, edge.channels.length);
          this.push(edge.channels[target]!, record);
          break;
        }
        case 'broadcast':
          for (const channel of edge.channels) this.push(channel, record);
          break;
        default: {
          const never: never = edge.spec.partition;
          throw new Error(`unknown partitioning ${String(never)}`);
        }
      }
    }
  }

  grant(edgeIndex: number, subtask: number, credits: number): void {
    const channel = this.edges.find((e) => e.spec.edgeIndex === edgeIndex)?.channels[subtask];
    if (!channel) return;
    const wasBlocked = this.blocked;
    channel.credit += credits;
    while (channel.credit > 0 && channel.waiting.length > 0) {
      channel.credit--;
      this.waitingFrames--;
      this.deliver(channel.subject, channel.waiting.shift()!);
    }
    if (wasBlocked && !this.blocked) this.options.onWritable();
  }

  flush(): void {
    this.cancelFlushTimer();
    for (const edge of this.edges) for (const channel of edge.channels) if (channel.buffer.length > 0) this.sendBuffer(channel);
  }

  /** Flushes, then sends end of input on every channel. */
  end(): void {
    this.cancelFlushTimer();
    for (const edge of this.edges) for (const channel of edge.channels) this.sendBuffer(channel, { e: true });
  }

  /** Flushes, then sends a checkpoint barrier on every channel, after every record emitted so far. */
  barrier(checkpointId: number): void {
    this.cancelFlushTimer();
    for (const edge of this.edges) for (const channel of edge.channels) this.sendBuffer(channel, { b: checkpointId });
  }

  close(): void {
    this.cancelFlushTimer();
  }

  private push(channel: OutputChannel, record: unknown): void {
    channel.buffer.push(record);
    if (channel.buffer.length >= this.options.network.frameRecords) this.sendBuffer(channel);
    else if (!this.flushTimer) {
      // The buffer timeout bounds latency when records trickle in.
      this.flushTimer = this.options.clock.setTimeout(() => {
        this.flushTimer = undefined;
        try {
          this.flush();
        } catch (error) {
          this.options.onError(error);
        }
      }, this.options.network.bufferTimeoutMs);
    }
  }

  private sendBuffer(channel: OutputChannel, marks: Marks = {}): void {
    const frame: Frame = { s: this.options.subtask, a: this.options.attempt, r: channel.buffer, ...marks };
    channel.buffer = [];
    if (this.options.localReceiver(channel.subject)) this.send(channel, frame);
    else for (const bytes of encodeFrames(frame)) this.send(channel, bytes);
  }

  private send(channel: OutputChannel, frame: Outgoing): void {
    if (channel.credit > 0 && channel.waiting.length === 0) {
      channel.credit--;
      this.deliver(channel.subject, frame);
    } else {
      channel.waiting.push(frame);
      this.waitingFrames++;
    }
  }

  private deliver(subject: string, frame: Outgoing): void {
    if (frame instanceof Uint8Array) {
      this.options.publish(subject, frame);
      return;
    }
    const local = this.options.localReceiver(subject);
    // A local receiver that went away (cancelled) gets nothing; one that moved would need NATS.
    if (local) local(frame);
    else for (const bytes of encodeFrames(frame)) this.options.publish(subject, bytes);
  }

  private cancelFlushTimer(): void {
    if (this.flushTimer) this.options.clock.clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }
}

/** The in-band marks a frame can carry after its records. */
type Marks = Pick<Frame, 'b' | 'e'>;

/** One frame, or several when the records would not fit in one NATS message; the marks go on the last. */
function encodeFrames(frame: Frame): Uint8Array[] {
  const bytes = encodeFrame(frame);
  const records = frame.r;
  if (bytes.length <= MAX_FRAME_BYTES) return [bytes];
  if (records.length <= 1) {
    throw new CloudflinkError('UDF_FAILED',
      `a record of ${bytes.length} bytes is larger than a data frame may be (${MAX_FRAME_BYTES} bytes, below NATS's max_payload); split it into smaller records`);
  }
  const half = records.length >> 1;
  const { b, e, ...plain } = frame;
  return [
    ...encodeFrames({ ...plain, r: records.slice(0, half) }),
    ...encodeFrames({ ...plain, r: records.slice(half), ...(b === undefined ? {} : { b }), ...(e ? { e } : {}) }),
  ];
}
