import type { StateHandle } from '../../lib/checkpoint/types.ts';
import type { KeySelector, Partitioning, ResolvedVertex } from '../../lib/descriptor/types.ts';
import type { CheckpointingMode } from './barrier-aligner.ts';

/** One end of a job edge as one subtask sees it. */
export interface ChannelSpec {
  edgeIndex: number;
  /** The vertex at the other end and its parallelism. */
  peerVertexId: string;
  peerParallelism: number;
  partition: Partitioning;
  key?: KeySelector;
  /** Both ends run in one pass, records handed over by call (see chain.ts). */
  chained?: true;
  /** Its frames go through the shuffle storage: written by the producer, read once it finished. */
  blocking?: true;
  /** Into a blocking edge: the run of each producer subtask whose stored output to read. */
  producerExecutions?: number[];
  /** Into a two-input operator: which of its inputs this edge is. */
  input?: 1 | 2;
  /** The side output it carries, instead of the main output. */
  tag?: string;
}

export interface NetworkSettings {
  /** At most this many records per frame. */
  frameRecords: number;
  /** The size a frame sent over NATS aims at. */
  frameBytes: number;
  bufferTimeoutMs: number;
  credits: number;
}

/** The checkpoint a task restores from: every subtask's handle of its vertex, so state can move by key group. */
export interface RestoreSpec {
  /** The job that wrote the checkpoint (another job for a savepoint). */
  jobId: string;
  checkpointId: number;
  handles: (StateHandle | null)[];
}

/** Everything an operator instance needs to run one subtask of one vertex. */
export interface TaskDeployment {
  jobId: string;
  jobName: string;
  /** Which run of the job this is: 0, then one more per restart. Messages of other attempts are dropped. */
  attempt: number;
  /** Which run of this subtask within the attempt: 0, then one more each time its region re-runs alone. */
  execution: number;
  checkpointing: { enabled: boolean; mode: CheckpointingMode };
  restore?: RestoreSpec;
  vertex: ResolvedVertex;
  subtask: number;
  /** The slot of the Task Manager this subtask runs in. */
  slot: number;
  maxParallelism: number;
  inputs: ChannelSpec[];
  outputs: ChannelSpec[];
  network: NetworkSettings;
  collectLimit: number;
  /** A batch operator's share of its slot's memory, past which it spills to local disk. */
  memoryBytes?: number;
}

/** Messages an operator instance accepts on `<p>.task.<jobId>.<vertexId>.<subtask>`. */
export type OperatorMessage =
  | { type: 'start' }
  | { type: 'cancel' }
  /** A downstream subtask grants `credits` more frames on `edgeIndex`. */
  | { type: 'credit'; attempt: number; edgeIndex: number; subtask: number; credits: number }
  /** To sources, from the Job Manager: snapshot, then send the barrier; `stop` ends the input after it (stop-with-savepoint). */
  | { type: 'trigger-checkpoint'; checkpointId: number; stop?: boolean }
  | { type: 'checkpoint-complete'; checkpointId: number }
  | { type: 'checkpoint-aborted'; checkpointId: number }
  /** Raised by the instance itself so that the failure takes the supervision path. */
  | { type: 'fail'; error: Error };

/**
 * A data frame on `<p>.data.<jobId>.e<edgeIndex>.<subtask>`: records in order, then maybe a
 * checkpoint barrier, then maybe end of input — the in-band elements travel with the records.
 */
export interface Frame {
  /** The sending subtask. */
  s: number;
  /** The job attempt that sent it; frames of an earlier attempt are dropped. */
  a: number;
  /** Its number on its channel in this attempt, from 0: a gap means frames were lost on the way. */
  n: number;
  r: unknown[];
  /** The records' event-time timestamps (null for one without), when any record has one. */
  t?: (number | null)[];
  /** A checkpoint barrier after the records. */
  b?: number;
  /** A watermark after the records: no record on this channel will have an earlier timestamp. */
  w?: number;
  /** The sender is idle: leave this channel out of the watermark until it sends again. */
  i?: true;
  /** End of input on this channel. */
  e?: true;
  /** The end is a stop with a savepoint: event time is not drained (no final watermark), the job resumes later. */
  x?: true;
}
