/**
 * Operator chaining: a forward edge between operators of equal parallelism, whose downstream
 * has no other input, runs both operators in one pass. Records go from one to the next by
 * function call, with no frame, no encoding, no credit and no event-loop turn in between.
 * Each operator stays its own task (its own state, checkpoint acknowledgement and status).
 */

/** The receiving end of a chained edge: the downstream operator instance, as its upstream sees it. */
export interface ChainedInput {
  push(record: unknown, timestamp: number | undefined): void;
  watermark(watermark: number): void;
  idle(): void;
  /** The upstream has snapshotted; this instance snapshots now, in the same pass. */
  barrier(checkpointId: number): void;
  /** `stopped`: the end of a stop with a savepoint, which must not fire what the final watermark would. */
  end(stopped: boolean): void;
  /** This instance (or one further down its chain) cannot take records now: the upstream stops emitting. */
  readonly blocked: boolean;
  /** Called when this instance stops being blocked, so the upstream resumes. */
  onWritable(listener: () => void): void;
}

/** The in-process name the downstream instance of a chained edge registers under, per attempt. */
export function chainKey(jobId: string, attempt: number, execution: number, edgeIndex: number, subtask: number): string {
  return `chain:${jobId}:${attempt}.${execution}:e${edgeIndex}:${subtask}`;
}
