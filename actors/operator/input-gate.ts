import type { Frame } from './protocol.ts';

interface InputChannel {
  edgeIndex: number;
  from: number;
  ended: boolean;
  /** Frames taken off the queue since credit was last granted back. */
  consumed: number;
}

export interface QueuedFrame {
  edgeIndex: number;
  frame: Frame;
}

export interface InputGateOptions {
  credits: number;
  grant(edgeIndex: number, fromSubtask: number, credits: number): void;
}

/**
 * The receiving side of one subtask: one channel per (input edge, upstream subtask). Each
 * channel grants `credits` frames up front and grants again as frames are consumed, so at
 * most `credits` frames per channel are ever queued here.
 */
export class InputGate {
  private readonly channels = new Map<string, InputChannel>();
  private queue: QueuedFrame[] = [];
  private head = 0;
  private endedChannels = 0;
  recordsIn = 0;

  constructor(inputs: { edgeIndex: number; upstreamParallelism: number }[], private readonly options: InputGateOptions) {
    for (const { edgeIndex, upstreamParallelism } of inputs) {
      for (let from = 0; from < upstreamParallelism; from++) {
        this.channels.set(`${edgeIndex}:${from}`, { edgeIndex, from, ended: false, consumed: 0 });
      }
    }
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  /** Every channel has ended and every frame was taken. */
  get finished(): boolean {
    return this.endedChannels === this.channels.size && this.queued === 0;
  }

  open(): void {
    for (const channel of this.channels.values()) this.options.grant(channel.edgeIndex, channel.from, this.options.credits);
  }

  arrive(edgeIndex: number, frame: Frame): void {
    this.queue.push({ edgeIndex, frame });
  }

  /** Takes the next frame, granting credit back to its sender in batches of half the window. */
  take(): QueuedFrame | undefined {
    if (this.head >= this.queue.length) return undefined;
    const next = this.queue[this.head++]!;
    if (this.head >= 256 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    const channel = this.channels.get(`${next.edgeIndex}:${next.frame.s}`);
    if (channel) {
      if (next.frame.e && !channel.ended) {
        channel.ended = true;
        this.endedChannels++;
      } else {
        channel.consumed++;
        if (channel.consumed * 2 >= this.options.credits) {
          this.options.grant(channel.edgeIndex, channel.from, channel.consumed);
          channel.consumed = 0;
        }
      }
    }
    return next;
  }
}
