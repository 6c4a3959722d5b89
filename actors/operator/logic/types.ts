export interface Collector {
  emit(record: unknown): void;
}

/**
 * What one operator does with records; the instance around it handles channels, credit,
 * lifecycle and failure. Sources implement `produce`, everything else `process`.
 */
export interface OperatorLogic {
  /** Emits up to `max` records; returns true once the source is exhausted. */
  produce?(out: Collector, max: number): boolean;
  process?(record: unknown, out: Collector): void;
  /** End of all input: flush what is buffered. */
  finish?(out: Collector): void;
  /** Releases files and handles; called once, whatever the ending. */
  close?(): void;
  /** Records a `sink.collect` gathered for the job's result. */
  collected?(): unknown[];
}

export type UserFn = (...args: unknown[]) => unknown;
