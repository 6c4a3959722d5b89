import { encodeFrame } from '../../lib/codec/index.ts';
import { CloudflinkError } from '../../lib/errors/index.ts';
import { canonicalKey, subtaskForKey } from '../../lib/partition/index.ts';
import type { Clock, TimerHandle } from '../../lib/clock/index.ts';
import type { ChainedInput } from './chain.ts';
import type { ChannelSpec, Frame, NetworkSettings } from './protocol.ts';

/** Far below NATS's 1 MB max_payload, leaving room for headers. */
const MAX_FRAME_BYTES = 900 * 1024;

export type KeyOf = (record: unknown) => unknown;

/** A frame as it goes out: encoded for NATS, or the object itself for a receiver in this process. */
type Outgoing = Uint8Array | Frame;

interface OutputChannel {
  subject: string;
  /** Records per frame: 0 until the first record, then what fits `frameBytes` (by the last frame's size), at most `frameRecords`. */
  limit: number;
  /** The number of the next frame sent on this channel. */
  sequence: number;
  /** Frames the receiver has room for; granted by it, spent by us. */
  credit: number;
  /** Frames waiting for credit. */
  waiting: Outgoing[];
  buffer: unknown[];
  /** The buffered records' timestamps, once one of them has one. */
  times?: (number | null)[];
}

interface OutputEdge {
  spec: ChannelSpec;
  channels: OutputChannel[];
  /** The next operator of the chain, when this edge is chained: records go to it by call. */
  chained?: ChainedInput;
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
  /** The instance a chained edge leads to (it lives in this process, registered before any record flows). */
  chainedInput?(edgeIndex: number): ChainedInput | undefined;
  publish(subject: string, frame: Uint8Array): void;
  /** The receiver of a subject when it lives in this process: frames go to it by call, not encoded. */
  localReceiver(subject: string): ((frame: Frame) => void) | undefined;
  /** The subtask a record goes to on a `custom` edge: the sending operator's choice. */
  channelOf?(record: unknown, channels: number): number;
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
  /** The edges of the main output, and of each side output by tag. */
  private readonly mainEdges: OutputEdge[];
  private readonly sideEdges = new Map<string, OutputEdge[]>();
  private readonly chainedEdges: OutputEdge[];
  private flushTimer?: TimerHandle;
  private waitingFrames = 0;
  /** When the gate last became blocked; undefined while it is not. */
  private blockedSince?: number;
  private backpressured = 0;
  recordsOut = 0;
  framesOut = 0;
  /** The most frames that ever waited for credit on one channel. */
  peakWaitingFrames = 0;

  constructor(specs: { spec: ChannelSpec; subjects: string[]; keyOf?: KeyOf }[], private readonly options: OutputGateOptions) {
    this.edges = specs.map(({ spec, subjects, keyOf }) => ({
      spec,
      keyOf,
      nextRoundRobin: options.subtask % Math.max(1, subjects.length),
      channels: spec.chained ? [] : subjects.map((subject) => ({ subject, limit: 0, sequence: 0, credit: 0, waiting: [], buffer: [] })),
    }));
    this.chainedEdges = this.edges.filter((e) => e.spec.chained);
    this.mainEdges = this.edges.filter((e) => e.spec.tag === undefined);
    for (const edge of this.edges) {
      if (edge.spec.tag !== undefined) this.sideEdges.set(edge.spec.tag, [...this.sideEdges.get(edge.spec.tag) ?? [], edge]);
    }
  }

  /** Whether the instance must stop emitting: a frame waits for credit, or the rest of its chain is blocked. */
  get blocked(): boolean {
    if (this.waitingFrames > 0) return true;
    for (const edge of this.chainedEdges) if (this.chained(edge).blocked) return true;
    return false;
  }

  /** Every frame sent: nothing buffered, nothing waiting for credit. */
  get drained(): boolean {
    return this.waitingFrames === 0 && this.edges.every((e) => e.channels.every((c) => c.buffer.length === 0));
  }

  /** Milliseconds spent with frames waiting for credit: time the instance could not emit. */
  get backpressuredMs(): number {
    return this.backpressured + (this.blockedSince === undefined ? 0 : this.options.clock.now() - this.blockedSince);
  }

  get waiting(): number {
    return this.waitingFrames;
  }

  emit(record: unknown, timestamp?: number): void {
    this.recordsOut++;
    this.route(this.mainEdges, record, timestamp);
  }

  /** To the side output `tag`: the edges that carry it; none is fine (nobody asked for it). */
  emitTo(tag: string, record: unknown, timestamp?: number): void {
    const edges = this.sideEdges.get(tag);
    if (edges === undefined) return;
    this.recordsOut++;
    this.route(edges, record, timestamp);
  }

  private route(edges: OutputEdge[], record: unknown, timestamp: number | undefined): void {
    for (const edge of edges) {
      if (edge.spec.chained) {
        (edge.chained ?? this.chained(edge)).push(record, timestamp);
        continue;
      }
      switch (edge.spec.partition) {
        case 'forward':
          this.push(edge.channels[edge.channels.length === 1 ? 0 : this.options.subtask]!, record, timestamp);
          break;
        case 'rebalance':
          this.push(edge.channels[edge.nextRoundRobin]!, record, timestamp);
          edge.nextRoundRobin = (edge.nextRoundRobin + 1) % edge.channels.length;
          break;
        case 'hash': {
          const target = subtaskForKey(canonicalKey(edge.keyOf!(record)), this.options.maxParallelism, edge.channels.length);
          this.push(edge.channels[target]!, record, timestamp);
          break;
        }
        case 'broadcast':
          for (const channel of edge.channels) this.push(channel, record, timestamp);
          break;
        case 'custom':
          this.push(edge.channels[this.options.channelOf!(record, edge.channels.length)]!, record, timestamp);
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
    const hadWaiting = this.waitingFrames > 0;
    channel.credit += credits;
    while (channel.credit > 0 && channel.waiting.length > 0) {
      channel.credit--;
      this.waitingFrames--;
      this.deliver(channel.subject, channel.waiting.shift()!);
    }
    if (hadWaiting && this.waitingFrames === 0) {
      this.backpressured += this.options.clock.now() - this.blockedSince!;
      this.blockedSince = undefined;
      this.options.onWritable();
    }
  }

  flush(): void {
    this.cancelFlushTimer();
    for (const edge of this.edges) for (const channel of edge.channels) if (channel.buffer.length > 0) this.sendBuffer(channel);
  }

  /** Flushes, then sends end of input on every channel. */
  end(stopped = false): void {
    this.cancelFlushTimer();
    for (const edge of this.edges) for (const channel of edge.channels) this.sendBuffer(channel, stopped ? { e: true, x: true } : { e: true });
    for (const edge of this.chainedEdges) this.chained(edge).end(stopped);
  }

  /** Flushes, then sends the watermark on every channel, after every record emitted so far. */
  watermark(watermark: number): void {
    this.cancelFlushTimer();
    for (const edge of this.edges) for (const channel of edge.channels) this.sendBuffer(channel, { w: watermark });
    for (const edge of this.chainedEdges) this.chained(edge).watermark(watermark);
  }

  /** Tells every channel that this sender is idle: its watermark does not hold the receivers back. */
  idle(): void {
    this.cancelFlushTimer();
    for (const edge of this.edges) for (const channel of edge.channels) this.sendBuffer(channel, { i: true });
    for (const edge of this.chainedEdges) this.chained(edge).idle();
  }

  /** Flushes, then sends a checkpoint barrier on every channel, after every record emitted so far. */
  barrier(checkpointId: number): void {
    this.cancelFlushTimer();
    for (const edge of this.edges) for (const channel of edge.channels) this.sendBuffer(channel, { b: checkpointId });
    for (const edge of this.chainedEdges) this.chained(edge).barrier(checkpointId);
  }

  close(): void {
    this.cancelFlushTimer();
  }

  /** The chained instance, looked up once: it registers when it initializes, before any record flows. */
  private chained(edge: OutputEdge): ChainedInput {
    if (edge.chained) return edge.chained;
    const found = this.options.chainedInput?.(edge.spec.edgeIndex);
    if (!found) {
      throw new CloudflinkError('INTERNAL', `the operator chained on edge ${edge.spec.edgeIndex} (${edge.spec.peerVertexId}) is not in this process`);
    }
    found.onWritable(() => {
      if (!this.blocked) this.options.onWritable();
    });
    return (edge.chained = found);
  }

  private push(channel: OutputChannel, record: unknown, timestamp: number | undefined): void {
    if (channel.limit === 0) channel.limit = this.firstLimit(channel, record);
    if (timestamp !== undefined) (channel.times ??= new Array<null>(channel.buffer.length).fill(null)).push(timestamp);
    else channel.times?.push(null);
    channel.buffer.push(record);
    if (channel.buffer.length >= channel.limit) this.sendBuffer(channel);
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

  /**
   * Before any frame went out on a channel: in-process frames are cut by count only; over NATS
   * the first record's size stands in for the frame's, so large records do not pile up a
   * frame far over `frameBytes` (one record encoded once per channel).
   */
  private firstLimit(channel: OutputChannel, record: unknown): number {
    const { network } = this.options;
    if (this.options.localReceiver(channel.subject)) return network.frameRecords;
    const bytes = encodeFrame({ s: this.options.subtask, a: this.options.attempt, n: 0, r: [record] }).length;
    return Math.max(1, Math.min(network.frameRecords, Math.floor(network.frameBytes / bytes)));
  }

  private sendBuffer(channel: OutputChannel, marks: Marks = {}): void {
    const frame: Frame = { s: this.options.subtask, a: this.options.attempt, n: channel.sequence, r: channel.buffer, ...marks };
    if (channel.times) frame.t = channel.times;
    channel.buffer = [];
    channel.times = undefined;
    if (this.options.localReceiver(channel.subject)) {
      channel.sequence++;
      this.send(channel, frame);
      return;
    }
    const encoded = encodeFrames(frame, channel);
    if (frame.r.length > 0) channel.limit = recordsPerFrame(frame.r.length, encoded, this.options.network);
    for (const bytes of encoded) this.send(channel, bytes);
  }

  private send(channel: OutputChannel, frame: Outgoing): void {
    if (channel.credit > 0 && channel.waiting.length === 0) {
      channel.credit--;
      this.deliver(channel.subject, frame);
      return;
    }
    channel.waiting.push(frame);
    if (this.waitingFrames++ === 0) this.blockedSince = this.options.clock.now();
    if (channel.waiting.length > this.peakWaitingFrames) this.peakWaitingFrames = channel.waiting.length;
  }

  private deliver(subject: string, frame: Outgoing): void {
    this.framesOut++;
    if (frame instanceof Uint8Array) {
      this.options.publish(subject, frame);
      return;
    }
    const local = this.options.localReceiver(subject);
    // A receiver that left this process (cancelled, or moved) is reached through NATS, if at all.
    if (local) local(frame);
    else for (const bytes of encodeFrames(frame, { sequence: frame.n })) this.options.publish(subject, bytes);
  }

  private cancelFlushTimer(): void {
    if (this.flushTimer) this.options.clock.clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }
}

/**
 * Records per frame so that the next frame of this channel comes close to `frameBytes`,
 * from the size of the last one; never more than `frameRecords`. Sizing by the last frame
 * instead of measuring each record keeps the hot path free of per-record encoding.
 */
function recordsPerFrame(records: number, encoded: Uint8Array[], network: NetworkSettings): number {
  let bytes = 0;
  for (const frame of encoded) bytes += frame.length;
  return Math.max(1, Math.min(network.frameRecords, Math.floor((network.frameBytes * records) / Math.max(1, bytes))));
}

/** The in-band marks a frame can carry after its records. */
type Marks = Pick<Frame, 'b' | 'e' | 'w' | 'i' | 'x'>;

/**
 * One frame, or several when the records would not fit in one NATS message; the marks go on
 * the last. Each frame sent takes the channel's next number.
 */
function encodeFrames(frame: Frame, channel: { sequence: number }): Uint8Array[] {
  frame.n = channel.sequence;
  const bytes = encodeFrame(frame);
  const records = frame.r;
  if (bytes.length <= MAX_FRAME_BYTES) {
    channel.sequence++;
    return [bytes];
  }
  if (records.length <= 1) {
    throw new CloudflinkError('UDF_FAILED',
      `a record of ${bytes.length} bytes is larger than a data frame may be (${MAX_FRAME_BYTES} bytes, below NATS's max_payload); split it into smaller records`);
  }
  const half = records.length >> 1;
  const { b, e, w, i, x, t, ...plain } = frame;
  const times = (from: number, to?: number): Pick<Frame, 't'> => (t ? { t: t.slice(from, to) } : {});
  return [
    ...encodeFrames({ ...plain, r: records.slice(0, half), ...times(0, half) }, channel),
    ...encodeFrames({
      ...plain, r: records.slice(half), ...times(half),
      ...(b === undefined ? {} : { b }), ...(w === undefined ? {} : { w }), ...(i ? { i } : {}), ...(e ? { e } : {}), ...(x ? { x } : {}),
    }, channel),
  ];
}
