import type { KeySelector, Partitioning, ResolvedVertex } from '../../lib/descriptor/types.ts';

/** One end of a job edge as one subtask sees it. */
export interface ChannelSpec {
  edgeIndex: number;
  /** The vertex at the other end and its parallelism. */
  peerVertexId: string;
  peerParallelism: number;
  partition: Partitioning;
  key?: KeySelector;
}

export interface NetworkSettings {
  frameRecords: number;
  bufferTimeoutMs: number;
  credits: number;
}

/** Everything an operator instance needs to run one subtask of one vertex. */
export interface TaskDeployment {
  jobId: string;
  jobName: string;
  vertex: ResolvedVertex;
  subtask: number;
  /** The slot of the Task Manager this subtask runs in. */
  slot: number;
  maxParallelism: number;
  inputs: ChannelSpec[];
  outputs: ChannelSpec[];
  network: NetworkSettings;
  collectLimit: number;
}

/** Messages an operator instance accepts on `<p>.task.<jobId>.<vertexId>.<subtask>`. */
export type OperatorMessage =
  | { type: 'start' }
  | { type: 'cancel' }
  /** A downstream subtask grants `credits` more frames on `edgeIndex`. */
  | { type: 'credit'; edgeIndex: number; subtask: number; credits: number }
  /** Raised by the instance itself so that the failure takes the supervision path. */
  | { type: 'fail'; error: Error };

/** A data frame on `<p>.data.<jobId>.e<edgeIndex>.<subtask>`: records in order, then maybe end of input. */
export interface Frame {
  /** The sending subtask. */
  s: number;
  r: unknown[];
  /** End of input on this channel. */
  e?: true;
}
