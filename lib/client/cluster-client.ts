import { ActorSystem } from '../actor/index.ts';
import { subjectBase, type CloudflinkConfig } from '../config/index.ts';
import type { JobDescriptor } from '../descriptor/types.ts';
import { readEvents, TERMINAL_JOB_STATES, type LifecycleEvent } from '../events/index.ts';
import { silentLogger } from '../log/index.ts';
import { Subjects } from '../subjects/index.ts';
import { connectNats, type NatsTransport } from '../transport/index.ts';
import { CloudflinkError } from '../errors/index.ts';
import { encode } from '../codec/index.ts';
import type { JobClient, JobResult, JobSummary } from './types.ts';
import type { ClusterView, CollectedReply } from '../../actors/job-manager/protocol.ts';

/** A connection to a cluster's Job Manager over NATS: what the CLI and the APIs use. */
export class ClusterClient implements JobClient {
  private constructor(readonly transport: NatsTransport, readonly subjects: Subjects, private readonly system: ActorSystem) {}

  static async connect(config: Pick<CloudflinkConfig, 'nats' | 'cluster'>, options: { connectTimeoutMs?: number } = {}): Promise<ClusterClient> {
    const transport = await connectNats({ ...config.nats, name: 'cloudflink-client' }, { role: 'client', connectTimeoutMs: options.connectTimeoutMs });
    const system = new ActorSystem({ transport, logger: silentLogger(), defaultAskTimeoutMs: 10_000 });
    return new ClusterClient(transport, new Subjects(subjectBase(config)), system);
  }

  /** `restoreFrom`: a savepoint (or retained checkpoint) to start from, as printed by `savepoint`. */
  async submit(descriptor: JobDescriptor | unknown, options: { restoreFrom?: string } = {}): Promise<string> {
    const message = { type: 'submit', descriptor, restoreFrom: options.restoreFrom };
    // The descriptor travels in one NATS message: past the server's limit, say so rather than let NATS refuse it.
    const limit = this.transport.connection.info?.max_payload;
    const size = encode(message).length;
    if (limit !== undefined && size > limit) {
      throw new CloudflinkError('DESCRIPTOR_INVALID',
        `the job descriptor is ${size} bytes, over the ${limit} bytes a NATS message may carry (the server's max_payload): ` +
        'a large collection (fromElements, fromCollection) belongs in a file the job reads (readTextFile, readCsvFile, readJsonLines)');
    }
    const { jobId } = await this.system.ask<{ jobId: string }>(this.subjects.jobManager, message);
    return jobId;
  }

  /**
   * Takes a savepoint and resolves with where it is. With `stop`, the job ends after it
   * (FINISHED, its sinks committed): Flink's stop-with-savepoint.
   */
  async savepoint(jobId: string, options: { stop?: boolean } = {}): Promise<string> {
    const { checkpointId } = await this.savepointTriggered(jobId, options.stop ?? false);
    for await (const event of this.events(jobId)) {
      if (event.type === 'checkpoint.completed' && event.checkpointId === checkpointId) return event.pointer;
      if (event.type === 'checkpoint.failed' && event.checkpointId === checkpointId) {
        throw new CloudflinkError('TASK_FAILED', `savepoint ${checkpointId} of job ${jobId} failed: ${event.reason}`);
      }
    }
    throw new CloudflinkError('TASK_FAILED', `job ${jobId} ended before savepoint ${checkpointId} completed`);
  }

  async *events(jobId: string): AsyncIterable<LifecycleEvent> {
    for await (const event of readEvents(this.transport.connection, this.subjects, { jobId, follow: true })) {
      yield event;
      if (event.type === 'job.rejected') return;
      if (event.type === 'job.state' && TERMINAL_JOB_STATES.includes(event.to)) return;
    }
  }

  async result(jobId: string): Promise<JobResult> {
    // The status first: it fails at once for an unknown job instead of waiting on its events.
    const now = await this.status(jobId);
    if (TERMINAL_JOB_STATES.includes(now.state)) return now;
    for await (const _event of this.events(jobId)) { /* until the job ends */ }
    return this.status(jobId);
  }

  /** Asks for the savepoint; a refusal that says to ask again (a checkpoint is being written) is asked again. */
  private async savepointTriggered(jobId: string, stop: boolean, attempts = 20): Promise<{ checkpointId: number }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.system.ask<{ checkpointId: number }>(this.subjects.jobManager, { type: 'savepoint', jobId, stop });
      } catch (error) {
        if (!(error instanceof CloudflinkError) || error.code !== 'TASK_FAILED' || !error.retryable || attempt >= attempts) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /** The job's state and metrics; with `collected` (the default), the records its collect sinks gathered, fetched a page at a time. */
  async status(jobId: string, options: { collected?: boolean } = {}): Promise<JobResult> {
    const status = await this.system.ask<JobResult>(this.subjects.jobManager, { type: 'status', jobId });
    if (options.collected === false) return status;
    const collected: Record<string, unknown[]> = {};
    for (const [vertexId, total] of Object.entries(status.collectedCounts ?? {})) {
      const records: unknown[] = [];
      while (records.length < total) {
        const page = await this.system.ask<CollectedReply>(this.subjects.jobManager, { type: 'collected', jobId, vertexId, offset: records.length });
        if (page.records.length === 0) break;
        records.push(...page.records);
      }
      collected[vertexId] = records;
    }
    const { collectedCounts: _counts, ...rest } = status;
    return { ...rest, collected };
  }

  async cancel(jobId: string): Promise<void> {
    await this.system.ask(this.subjects.jobManager, { type: 'cancel', jobId });
  }

  list(): Promise<JobSummary[]> {
    return this.system.ask<JobSummary[]>(this.subjects.jobManager, { type: 'list' });
  }

  cluster(): Promise<ClusterView> {
    return this.system.ask<ClusterView>(this.subjects.jobManager, { type: 'cluster' });
  }

  async close(): Promise<void> {
    await this.system.shutdown();
    await this.transport.close();
  }
}
