import type { JobDescriptor } from '../descriptor/types.ts';
import type { JobStatus, LifecycleEvent } from '../events/types.ts';

/** One vertex's counters, summed over its subtasks (peaks: the highest subtask's). */
export interface VertexMetrics {
  vertexId: string;
  name: string;
  parallelism: number;
  recordsIn: number;
  recordsOut: number;
  framesIn: number;
  framesLost: number;
  framesOut: number;
  busyMs: number;
  backpressuredMs: number;
  queuedFrames: number;
  peakQueuedFrames: number;
  peakWaitingFrames: number;
}

export interface JobSummary {
  jobId: string;
  name: string;
  state: JobStatus;
  submittedAt: string;
  endedAt?: string;
  cause?: string;
}

export interface JobResult extends JobSummary {
  durationMs?: number;
  vertices: VertexMetrics[];
  /** Records gathered by `sink.collect` vertices, by vertex id. */
  collected: Record<string, unknown[]>;
  /** How many records each `sink.collect` gathered (the Job Manager's reply, before the client fetched them). */
  collectedCounts?: Record<string, number>;
}

/** What the APIs need from a connection to a cluster. Implemented over NATS by `ClusterClient`. */
export interface JobClient {
  /** Validates on the Job Manager; rejects with DescriptorInvalidError listing every problem. */
  submit(descriptor: JobDescriptor): Promise<string>;
  /** The job's lifecycle events from its beginning (replayed), then live; ends after a terminal job state. */
  events(jobId: string): AsyncIterable<LifecycleEvent>;
  /** Resolves when the job reaches a terminal state. */
  result(jobId: string): Promise<JobResult>;
  status(jobId: string): Promise<JobResult>;
  cancel(jobId: string): Promise<void>;
  list(): Promise<JobSummary[]>;
}
