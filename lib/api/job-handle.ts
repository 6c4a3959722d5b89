/** A submitted job: thin delegation to the JobClient it was submitted through. */
import type { JobClient, JobResult } from '../client/types.ts';
import type { LifecycleEvent } from '../events/types.ts';

export class JobHandle {
  constructor(private readonly client: JobClient, readonly jobId: string, readonly jobName?: string) {}

  /** Lifecycle events from the job's beginning (replayed), then live; ends after a terminal job state. */
  events(): AsyncIterable<LifecycleEvent> {
    return this.client.events(this.jobId);
  }

  /** Resolves when the job reaches a terminal state; for collect() sinks see `collected[sinkId]`. */
  result(): Promise<JobResult> {
    return this.client.result(this.jobId);
  }

  status(): Promise<JobResult> {
    return this.client.status(this.jobId);
  }

  cancel(): Promise<void> {
    return this.client.cancel(this.jobId);
  }
}
