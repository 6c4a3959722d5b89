import type { Frame } from './protocol.ts';

interface InputChannel {
  key: string;
  edgeIndex: number;
  from: number;
  queue: Frame[];
  ended: boolean;
  /** Held back while checkpoint barriers align: its frames wait here, and its sender runs out of credit. */
  blocked: boolean;
  /** Frames taken since credit was last granted back. */
  consumed: number;
  /** The number the next frame must carry. */
  expected: number;
}

export interface TakenFrame {
  edgeIndex: number;
  /** The channel, for barrier alignment: `<edgeIndex>:<upstream subtask>`. */
  channel: string;
  frame: Frame;
}

export interface InputGateOptions {
  credits: number;
  grant(edgeIndex: number, fromSubtask: number, credits: number): void;
  /** Frames went missing on a channel (NATS delivers at most once): the records in them are gone. */
  lost(edgeIndex: number, fromSubtask: number, missing: number): void;
}

/**
 * The receiving side of one subtask: one channel per (input edge, upstream subtask), each with
 * its own queue. A channel grants `credits` frames up front and grants again as frames are
 * consumed, so at most `credits` frames per channel are ever queued here. Frames are taken
 * round robin over the channels that are not blocked; order within a channel is kept.
 */
export class InputGate {
  private readonly channels = new Map<string, InputChannel>();
  private readonly order: InputChannel[] = [];
  private next = 0;
  private queuedFrames = 0;
  private endedChannels = 0;
  framesIn = 0;
  framesLost = 0;
  /** The most frames ever queued on one channel: never above the credits it granted. */
  peakQueuedFrames = 0;

  constructor(inputs: { edgeIndex: number; upstreamParallelism: number }[], private readonly options: InputGateOptions) {
    for (const { edgeIndex, upstreamParallelism } of inputs) {
      for (let from = 0; from < upstreamParallelism; from++) {
        const channel: InputChannel = { key: `${edgeIndex}:${from}`, edgeIndex, from, queue: [], ended: false, blocked: false, consumed: 0, expected: 0 };
        this.channels.set(channel.key, channel);
        this.order.push(channel);
      }
    }
  }

  get queued(): number {
    return this.queuedFrames;
  }

  /** Every channel has ended and every frame was taken. */
  get finished(): boolean {
    return this.endedChannels === this.channels.size && this.queuedFrames === 0;
  }

  /** Channels that have not sent end of input: the ones a barrier must come from. */
  get liveChannels(): string[] {
    return this.order.filter((c) => !c.ended).map((c) => c.key);
  }

  open(): void {
    for (const channel of this.order) this.options.grant(channel.edgeIndex, channel.from, this.options.credits);
  }

  arrive(edgeIndex: number, frame: Frame): void {
    const channel = this.channels.get(`${edgeIndex}:${frame.s}`);
    if (!channel) return;
    if (frame.n !== channel.expected) {
      const missing = Math.max(1, frame.n - channel.expected);
      this.framesLost += missing;
      this.options.lost(edgeIndex, frame.s, missing);
    }
    channel.expected = frame.n + 1;
    channel.queue.push(frame);
    this.queuedFrames++;
    this.framesIn++;
    if (channel.queue.length > this.peakQueuedFrames) this.peakQueuedFrames = channel.queue.length;
  }

  block(channel: string): void {
    const c = this.channels.get(channel);
    if (c) c.blocked = true;
  }

  unblockAll(): void {
    for (const channel of this.order) channel.blocked = false;
  }

  /** Whether a frame can be taken now (some unblocked channel has one). */
  get ready(): boolean {
    return this.order.some((c) => !c.blocked && c.queue.length > 0);
  }

  /** Takes the next frame round robin, granting credit back to its sender in batches of half the window. */
  take(): TakenFrame | undefined {
    for (let i = 0; i < this.order.length; i++) {
      const channel = this.order[(this.next + i) % this.order.length]!;
      if (channel.blocked || channel.queue.length === 0) continue;
      this.next = (this.next + i + 1) % this.order.length;
      const frame = channel.queue.shift()!;
      this.queuedFrames--;
      if (frame.e && !channel.ended) {
        channel.ended = true;
        this.endedChannels++;
      } else {
        channel.consumed++;
        if (channel.consumed * 2 >= this.options.credits) {
          this.options.grant(channel.edgeIndex, channel.from, channel.consumed);
          channel.consumed = 0;
        }
      }
      return { edgeIndex: channel.edgeIndex, channel: channel.key, frame };
    }
    return undefined;
  }
}
