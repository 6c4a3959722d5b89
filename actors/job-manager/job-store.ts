import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { ResolvedJob } from '../../lib/descriptor/types.ts';
import type { JobStatus } from '../../lib/events/types.ts';
import type { Logger } from '../../lib/log/index.ts';
import type { RestartHistory } from '../../lib/restart/index.ts';

/** What survives a Job Manager restart: enough to resume a job from its latest checkpoint. */
export interface StoredJob {
  jobId: string;
  job: ResolvedJob;
  submittedAt: string;
  endedAt?: string;
  status: JobStatus;
  /** Attempts keep counting across Job Manager restarts, so files and messages of earlier runs stay recognisable. */
  attempt: number;
  cause?: string;
  causes: string[];
  restartHistory?: RestartHistory;
  /** The savepoint it was submitted with. */
  restoreFrom?: string;
  /** The latest completed checkpoint: where a resumed job restores from. */
  latestCheckpoint?: string;
}

/**
 * Jobs in a JetStream KV bucket (`CF_JOBS_<cluster>`), written on every state change and
 * completed checkpoint. Without JetStream there is nothing to keep, and the store says so.
 */
export class JobStore {
  private constructor(private readonly kv: KV | undefined, private readonly log: Logger) {}

  static async open(connection: NatsConnection, base: string, log: Logger): Promise<JobStore> {
    try {
      const kv = await new Kvm(connection).create(`CF_JOBS_${base.replace(/[^A-Za-z0-9_-]/g, '_')}`, { history: 1 });
      return new JobStore(kv, log);
    } catch (error) {
      log.warn({ err: error }, 'JetStream is not available: jobs will not survive a restart of the job manager');
      return new JobStore(undefined, log);
    }
  }

  /** Writes are ordered per job by the actor's mailbox; a failed write is logged, never fatal. */
  put(job: StoredJob): void {
    let text: string;
    try {
      text = JSON.stringify(job, bigintAsObject);
    } catch (error) {
      this.log.warn({ err: error, jobId: job.jobId }, 'could not persist the job');
      return;
    }
    this.kv?.put(job.jobId, text).catch((error: unknown) => this.log.warn({ err: error, jobId: job.jobId }, 'could not persist the job'));
  }

  async all(): Promise<StoredJob[]> {
    if (!this.kv) return [];
    const jobs: StoredJob[] = [];
    for await (const key of await this.kv.keys()) {
      const entry = await this.kv.get(key);
      if (entry && entry.operation === 'PUT') jobs.push(JSON.parse(entry.string(), bigintFromObject) as StoredJob);
    }
    return jobs.sort((a, b) => a.submittedAt.localeCompare(b.submittedAt));
  }
}

// Descriptors may hold bigints (in elements, params): JSON has none, so they go as { $bigint: digits }.
function bigintAsObject(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? { $bigint: value.toString() } : value;
}

function bigintFromObject(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const digits = (value as { $bigint?: unknown }).$bigint;
    if (keys.length === 1 && typeof digits === 'string') return BigInt(digits);
  }
  return value;
}
