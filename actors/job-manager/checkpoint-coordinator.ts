import type { CheckpointMetadata, CheckpointStorage, StateHandle } from '../../lib/checkpoint/types.ts';
import type { CheckpointEvent } from '../../lib/events/types.ts';
import { CloudflinkError } from '../../lib/errors/index.ts';
import type { Logger } from '../../lib/log/index.ts';

export interface CheckpointSettings {
  enabled: boolean;
  intervalMs: number;
  timeoutMs: number;
  minPauseMs: number;
  tolerableFailures: number;
  retained: number;
}

/** What the coordinator asks of the Job Manager that owns it; timers come back as messages to its mailbox. */
export interface CoordinatorHost {
  now(): number;
  /** Calls `onTrigger` after `ms` (through the owner's mailbox). */
  scheduleTrigger(ms: number): void;
  /** Calls `onTimeout(checkpointId)` after `ms` (through the owner's mailbox). */
  scheduleTimeout(checkpointId: number, ms: number): void;
  /** Whether every task runs, so that a barrier can go all the way through. */
  canTrigger(): boolean;
  triggerSources(checkpointId: number, stop: boolean): void;
  notifyTasks(message: { type: 'checkpoint-complete' | 'checkpoint-aborted'; checkpointId: number }): void;
  publish(event: CheckpointEvent): void;
  /** Runs `step` in the owner's mailbox: how the result of an async step comes back to the actor. */
  later(step: () => void): void;
  failJob(cause: string): void;
  /** A checkpoint finished persisting (or was given up): the job may move on (FINISHED after a stop-with-savepoint). */
  settled(): void;
  storage: CheckpointStorage;
  log: Logger;
}

interface Pending {
  checkpointId: number;
  savepoint: boolean;
  stop: boolean;
  triggeredAt: number;
  acks: Map<string, { handle: StateHandle; alignmentMs: number }>;
  /** Every task acknowledged; only the metadata is still being written. */
  persisting: boolean;
}

/**
 * Drives the checkpoints of one job (Flink's CheckpointCoordinator, as an actor's helper):
 * at most one in flight; a new one after `intervalMs` and at least `minPauseMs` after the
 * last; complete when every task acknowledged, then the metadata is written and the tasks
 * are told, so sinks commit. A checkpoint that times out or is declined is reported; more
 * than `tolerableFailures` in a row fail the job.
 */
export class CheckpointCoordinator {
  private pending?: Pending;
  private nextId: number;
  /** No checkpoint yet: the minimum pause does not hold the first one back. */
  private lastCompletedAt = Number.NEGATIVE_INFINITY;
  /** One trigger outstanding at a time, however often the job stops and runs again. */
  private triggerScheduled = false;
  private consecutiveFailures = 0;
  private stopped = true;
  latest?: { pointer: string; metadata: CheckpointMetadata };

  constructor(
    private readonly job: { jobId: string; jobName: string; maxParallelism: number; vertices: { id: string; parallelism: number }[] },
    private readonly settings: CheckpointSettings,
    private readonly host: CoordinatorHost,
    /** Ids continue across restarts and from a restored checkpoint, so a sink never sees an id twice. */
    startAfter = 0,
  ) {
    this.nextId = startAfter + 1;
  }

  get inFlight(): number | undefined {
    return this.pending?.checkpointId;
  }

  /** A checkpoint with every acknowledgement whose metadata is still being written: the job waits for it to end. */
  get persisting(): boolean {
    return this.pending?.persisting ?? false;
  }

  /** Starts periodic checkpoints (when enabled) for a job that now runs. */
  start(): void {
    this.stopped = false;
    this.scheduleTrigger(this.settings.intervalMs);
  }

  /**
   * The job stopped running (failed, cancelled, finished): a checkpoint still waiting for
   * acknowledgements is given up; one that has them all is complete and still gets written
   * (a stop-with-savepoint ends the job right after its savepoint).
   */
  stop(reason: string): void {
    this.stopped = true;
    if (this.pending && !this.pending.persisting) this.abort(reason, false);
  }

  onTrigger(): void {
    this.triggerScheduled = false;
    if (this.stopped || !this.settings.enabled) return;
    const sinceLast = this.host.now() - this.lastCompletedAt;
    if (this.pending || !this.host.canTrigger()) {
      this.scheduleTrigger(this.settings.intervalMs);
    } else if (sinceLast < this.settings.minPauseMs) {
      this.scheduleTrigger(this.settings.minPauseMs - sinceLast);
    } else {
      this.trigger(false, false);
      this.scheduleTrigger(this.settings.intervalMs);
    }
  }

  private scheduleTrigger(ms: number): void {
    if (!this.settings.enabled || this.triggerScheduled) return;
    this.triggerScheduled = true;
    this.host.scheduleTrigger(ms);
  }

  /**
   * Triggers a savepoint now and returns its id; its outcome is a checkpoint event. With
   * `stop`, the sources end their input after it (stop-with-savepoint) and no checkpoint follows.
   */
  savepoint(stop: boolean): number {
    if (this.stopped || !this.host.canTrigger()) {
      throw new CloudflinkError('TASK_FAILED', 'a savepoint needs every task of the job running');
    }
    if (this.pending?.persisting) {
      throw new CloudflinkError('TASK_FAILED', `checkpoint ${this.pending.checkpointId} is being written; ask for the savepoint again in a moment`, { retryable: true });
    }
    if (this.pending) this.abort('a savepoint was requested', false);
    if (stop) this.stopped = true;
    return this.trigger(true, stop).checkpointId;
  }

  ack(checkpointId: number, vertexId: string, subtask: number, handle: StateHandle, alignmentMs: number): void {
    const pending = this.pending;
    if (!pending || pending.checkpointId !== checkpointId || pending.persisting) return;
    const vertex = this.job.vertices.find((v) => v.id === vertexId);
    if (!vertex || !Number.isInteger(subtask) || subtask < 0 || subtask >= vertex.parallelism) {
      this.host.log.warn({ checkpointId, vertexId, subtask }, 'ignored an acknowledgement from a task the job does not have');
      return;
    }
    pending.acks.set(`${vertexId}/${subtask}`, { handle, alignmentMs });
    if (pending.acks.size === this.taskCount()) this.complete(pending);
  }

  /** A task could not take part: `counts` when it is a real failure (its state could not be written), not a task that had just finished. */
  decline(checkpointId: number, reason: string, counts: boolean): void {
    if (this.pending?.checkpointId === checkpointId && !this.pending.persisting) this.abort(`declined: ${reason}`, counts);
  }

  onTimeout(checkpointId: number): void {
    if (this.pending?.checkpointId === checkpointId && !this.pending.persisting) {
      this.abort(`timed out after ${this.settings.timeoutMs} ms with ${this.pending.acks.size} of ${this.taskCount()} tasks acknowledged`, true);
    }
  }

  private trigger(savepoint: boolean, stop: boolean): Pending {
    const pending: Pending = { checkpointId: this.nextId++, savepoint, stop, triggeredAt: this.host.now(), acks: new Map(), persisting: false };
    this.pending = pending;
    this.host.publish({ type: 'checkpoint.triggered', jobId: this.job.jobId, checkpointId: pending.checkpointId, savepoint, at: new Date().toISOString() });
    this.host.scheduleTimeout(pending.checkpointId, this.settings.timeoutMs);
    this.host.triggerSources(pending.checkpointId, stop);
    return pending;
  }

  private complete(pending: Pending): void {
    pending.persisting = true;
    const completedAt = this.host.now();
    const vertices: CheckpointMetadata['vertices'] = {};
    let size = 0;
    let alignmentMs = 0;
    for (const vertex of this.job.vertices) {
      const handles = Array.from({ length: vertex.parallelism }, (_, subtask) => {
        const ack = pending.acks.get(`${vertex.id}/${subtask}`)!;
        size += ack.handle.size;
        alignmentMs = Math.max(alignmentMs, ack.alignmentMs);
        return ack.handle;
      });
      vertices[vertex.id] = { parallelism: vertex.parallelism, handles };
    }
    const metadata: CheckpointMetadata = {
      jobId: this.job.jobId, jobName: this.job.jobName, checkpointId: pending.checkpointId, savepoint: pending.savepoint,
      triggeredAt: new Date(Date.now() - (completedAt - pending.triggeredAt)).toISOString(), completedAt: new Date().toISOString(),
      durationMs: completedAt - pending.triggeredAt, size, maxParallelism: this.job.maxParallelism, vertices,
    };
    // Until the metadata is written the checkpoint is not complete; the next one waits for it.
    const done = (pointer: string): void => {
      if (this.pending !== pending) return;
      this.pending = undefined;
      this.consecutiveFailures = 0;
      this.lastCompletedAt = this.host.now();
      if (!pending.savepoint) this.latest = { pointer, metadata };
      this.host.publish({
        type: 'checkpoint.completed', jobId: this.job.jobId, checkpointId: pending.checkpointId, savepoint: pending.savepoint,
        size, durationMs: metadata.durationMs, alignmentMs, pointer, at: metadata.completedAt,
      });
      this.host.notifyTasks({ type: 'checkpoint-complete', checkpointId: pending.checkpointId });
      this.host.settled();
      if (!pending.savepoint) {
        this.host.storage.retain(this.job.jobId, this.settings.retained)
          .catch((error: unknown) => this.host.log.warn({ err: error }, 'could not discard old checkpoints'));
      }
    };
    this.host.storage.writeMetadata(metadata).then(
      (pointer) => this.host.later(() => done(pointer)),
      (error: unknown) => this.host.later(() => {
        if (this.pending === pending) this.abort(`writing its metadata to ${this.host.storage.description} failed: ${(error as Error).message}`, true);
        this.host.settled();
      }));
  }

  private abort(reason: string, countAsFailure: boolean): void {
    const pending = this.pending!;
    this.pending = undefined;
    this.host.publish({
      type: 'checkpoint.failed', jobId: this.job.jobId, checkpointId: pending.checkpointId, savepoint: pending.savepoint, reason, at: new Date().toISOString(),
    });
    this.host.notifyTasks({ type: 'checkpoint-aborted', checkpointId: pending.checkpointId });
    this.host.storage.discard(this.job.jobId, pending.checkpointId)
      .catch((error: unknown) => this.host.log.warn({ err: error }, 'could not discard a failed checkpoint'));
    if (!countAsFailure || pending.savepoint) return;
    this.consecutiveFailures++;
    if (this.consecutiveFailures > this.settings.tolerableFailures) {
      this.host.failJob(`checkpoint ${pending.checkpointId} failed (${reason}); ${this.consecutiveFailures} in a row, more than the ${this.settings.tolerableFailures} tolerated`);
    }
  }

  private taskCount(): number {
    return this.job.vertices.reduce((n, v) => n + v.parallelism, 0);
  }
}
