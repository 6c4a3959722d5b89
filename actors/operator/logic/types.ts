export interface Collector {
  /** `timestamp`: the record's event time; by default the one of the record being processed. */
  emit(record: unknown, timestamp?: number): void;
  /** To the side output `tag` (the edges that carry it), not the main output. */
  emitTo?(tag: string, record: unknown, timestamp?: number): void;
}

/**
 * What one operator does with records; the instance around it handles channels, credit,
 * lifecycle and failure. Sources implement `produce`, everything else `process`.
 */
export interface OperatorLogic {
  /** Emits up to `max` records; returns true once the source is exhausted, or a number of ms to wait (a paced source ahead of its rate). */
  produce?(out: Collector, max: number): boolean | number;
  /** `input` is which input the record came from: 1 (or absent), or 2 for the second input of a two-input operator. */
  process?(record: unknown, out: Collector, input?: 1 | 2, timestamp?: number): void;
  /** Event time advanced to `watermark` (Infinity at end of input): fire what it completes. */
  onWatermark?(watermark: number, out: Collector): void;
  /** End of all input: flush what is buffered. */
  finish?(out: Collector): void;
  /**
   * After `finish`, for a blocking operator (a sort, a grouping, a join of bounded inputs):
   * emits up to about `max` more records of what it held; returns true once it emitted all.
   * The instance calls it again as its output takes more, as it calls a source's `produce`.
   */
  drain?(out: Collector, max: number): boolean;
  /** For its `custom` output edges: the subtask of `channels` a record goes to (a range partitioner). */
  channelOf?(record: unknown, channels: number): number;
  /** Releases files and handles; called once, whatever the ending. */
  close?(): void;
  /** Records a `sink.collect` gathered for the job's result. */
  collected?(): unknown[];
  /** Operator state for a checkpoint (a source's split positions, a sink's pending files); plain data. */
  snapshotState?(checkpointId: number): unknown;
  /** The operator states of every subtask of the vertex in the checkpoint restored; each takes what is its own. */
  restoreState?(states: unknown[]): void;
  /** The checkpoint is complete on every task: what it covers may be committed. */
  notifyCheckpointComplete?(checkpointId: number): void;
  /**
   * After `finish`: what remains to commit once the whole job has FINISHED. Committing at end
   * of input instead would let a failure elsewhere replay what was already committed.
   */
  finalCommit?(): (() => void) | undefined;
}

export type UserFn = (...args: unknown[]) => unknown;
