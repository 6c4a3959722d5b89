import { decodeFrame } from '../../lib/codec/index.ts';
import { CloudflinkError } from '../../lib/errors/index.ts';
import type { PartitionWriter, ShuffleStorage } from '../../lib/shuffle/types.ts';
import type { Frame, TaskDeployment } from './protocol.ts';

/** The pseudo-subject of a stored output channel: no NATS subject, the output gate hands its frames here. */
const PREFIX = 'stored:';

/**
 * The output channels of a subtask's blocking edges: each one's frames are written, in order, to
 * its partition in the shuffle storage. A channel's credit comes back as each write completes, so
 * a slow disk backpressures the subtask as a slow consumer would.
 */
export class StoredOutputs {
  private readonly writers = new Map<string, { edgeIndex: number; to: number; writer: PartitionWriter }>();
  private closing = false;

  constructor(
    private readonly storage: ShuffleStorage,
    private readonly task: TaskDeployment,
    private readonly grant: (edgeIndex: number, to: number, credits: number) => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** The subject the output gate sends a channel's frames to; the channel's partition opens here. */
  subject(edgeIndex: number, to: number): string {
    const subject = `${PREFIX}${edgeIndex}:${to}`;
    const { jobId, attempt, execution, subtask } = this.task;
    this.writers.set(subject, { edgeIndex, to, writer: this.storage.writer({ jobId, attempt, execution, edgeIndex, from: subtask, to }) });
    return subject;
  }

  owns(subject: string): boolean {
    return subject.startsWith(PREFIX);
  }

  /** Every channel may have `credits` frames being written at once. */
  open(credits: number): void {
    for (const { edgeIndex, to } of this.writers.values()) this.grant(edgeIndex, to, credits);
  }

  write(subject: string, frame: Uint8Array): void {
    const channel = this.writers.get(subject)!;
    channel.writer.write(frame).then(() => this.grant(channel.edgeIndex, channel.to, 1), (error: unknown) => this.onError(error));
  }

  /** Every partition complete under its name: only then may the task report that it finished. */
  async close(): Promise<void> {
    this.closing = true;
    try {
      await Promise.all([...this.writers.values()].map(({ writer }) => writer.close()));
    } catch (error) {
      await this.abort();
      throw new CloudflinkError('TASK_FAILED',
        `writing the output of subtask ${this.task.subtask + 1} of '${this.task.vertex.name}' to ${this.storage.description} failed: ${(error as Error).message}`,
        { cause: error });
    }
  }

  /** A failed or cancelled task leaves no partition behind; a re-run writes them again. */
  async abort(): Promise<void> {
    await Promise.all([...this.writers.values()].map(({ writer }) => writer.abort()));
  }

  get isClosing(): boolean {
    return this.closing;
  }
}

interface StoredInput {
  edgeIndex: number;
  from: number;
  frames: AsyncIterableIterator<Uint8Array>;
  credit: number;
  reading: boolean;
  ended: boolean;
}

/**
 * The input channels of a subtask's blocking edges: each reads its partition from the shuffle
 * storage (its producer finished before this subtask was deployed) and hands frames to the
 * input gate against the credit the gate grants, as a sender over NATS would.
 */
export class StoredInputs {
  private readonly inputs = new Map<string, StoredInput>();
  private closed = false;

  constructor(
    private readonly storage: ShuffleStorage,
    private readonly task: TaskDeployment,
    private readonly arrive: (edgeIndex: number, frame: Frame) => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** The channel from producer subtask `from`, as its run `execution` wrote it. */
  add(edgeIndex: number, from: number, execution: number): void {
    const { jobId, attempt, subtask } = this.task;
    const frames = this.storage.read({ jobId, attempt, execution, edgeIndex, from, to: subtask });
    this.inputs.set(`${edgeIndex}:${from}`, { edgeIndex, from, frames, credit: 0, reading: false, ended: false });
  }

  has(edgeIndex: number): boolean {
    for (const input of this.inputs.values()) if (input.edgeIndex === edgeIndex) return true;
    return false;
  }

  grant(edgeIndex: number, from: number, credits: number): void {
    const input = this.inputs.get(`${edgeIndex}:${from}`);
    if (!input) return;
    input.credit += credits;
    void this.read(input);
  }

  close(): void {
    this.closed = true;
    for (const input of this.inputs.values()) void input.frames.return?.().catch(() => undefined);
  }

  private async read(input: StoredInput): Promise<void> {
    if (input.reading || input.ended) return;
    input.reading = true;
    try {
      while (input.credit > 0 && !input.ended && !this.closed) {
        const next = await input.frames.next();
        if (this.closed) return;
        if (next.done) {
          throw new CloudflinkError('SHUFFLE_MISSING',
            `the stored output of subtask ${input.from + 1} on edge ${input.edgeIndex} ends before its end of input: it is incomplete in ${this.storage.description}`);
        }
        const frame = decodeFrame<Frame>(next.value);
        input.credit--;
        input.ended = frame.e === true;
        this.arrive(input.edgeIndex, frame);
      }
    } catch (error) {
      if (!this.closed) this.onError(error);
    } finally {
      input.reading = false;
    }
  }
}
