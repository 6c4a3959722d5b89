import { randomBytes } from 'node:crypto';
import { CloudflinkError } from '../../lib/errors/index.ts';
import type { ActorContext, ActorSystem, Behavior } from '../../lib/actor/index.ts';
import type { TimerHandle } from '../../lib/clock/index.ts';
import type { CheckpointStorage } from '../../lib/checkpoint/types.ts';
import type { ShuffleStorage } from '../../lib/shuffle/types.ts';
import type { Subjects } from '../../lib/subjects/index.ts';
import type { JobManagerMessage, RegisterReply, TaskMetrics } from '../job-manager/protocol.ts';
import { OperatorInstance } from '../operator/operator.actor.ts';
import { removeOrphanedSpills } from '../../lib/batch/spill.ts';
import type { TaskDeployment } from '../operator/protocol.ts';
import type { DeployReply, TaskManagerMessage } from './protocol.ts';

const SPILL_SWEEP_MS = 5000;

export interface TaskManagerSettings {
  tmId: string;
  slots: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /** Where the operator instances write their checkpoints and read what they restore. */
  storage?: CheckpointStorage;
  /** Where the operator instances of blocking batch jobs write and read what their stages exchange. */
  shuffle?: ShuffleStorage;
}

interface RunningTask {
  instance: OperatorInstance;
  task: TaskDeployment;
}

export type RegistrationOutcome = { ok: true } | { ok: false; error: CloudflinkError };

/**
 * A worker: offers slots to the Job Manager, runs operator instances as child actors, and
 * reports their states. It heartbeats to the JM and watches the JM's heartbeats; when the JM
 * goes quiet or does not know it, it registers again.
 */
export class TaskManager implements Behavior<TaskManagerMessage> {
  readonly address: string;
  readonly incarnation = randomBytes(6).toString('hex');
  private jobManagerId?: string;
  private previousJobManagerId?: string;
  private lastJobManagerHeartbeat = 0;
  private registering = false;
  /** Refused for good (for example an 11th TM): it stops asking. */
  private refused = false;
  private waitingLogged = false;
  private readonly tasks = new Map<string, RunningTask>();
  /** Final commits of finished sinks, per job, until the Job Manager says the job FINISHED. */
  private readonly finalCommits = new Map<string, Map<string, () => void>>();
  private timer?: TimerHandle;
  private lastSpillSweep = Number.NEGATIVE_INFINITY;
  private firstOutcome?: (outcome: RegistrationOutcome) => void;
  /** Settles on the first registration: registered, or refused (for example an 11th TM). */
  readonly registration: Promise<RegistrationOutcome>;

  constructor(private readonly system: ActorSystem, private readonly subjects: Subjects, private readonly settings: TaskManagerSettings) {
    this.address = subjects.taskManager(settings.tmId);
    this.registration = new Promise((resolve) => { this.firstOutcome = resolve; });
  }

  start(): void {
    this.system.spawn(this.address, this);
    this.timer = this.system.clock.setInterval(() => this.system.tell(this.address, { type: 'tick' }), this.settings.heartbeatIntervalMs);
    this.system.tell(this.address, { type: 'tick' });
  }

  get runningTasks(): number {
    return this.tasks.size;
  }

  async receive(msg: TaskManagerMessage, ctx: ActorContext): Promise<unknown> {
    switch (msg.type) {
      case 'tick': return this.tick(ctx);
      case 'registered': return this.registered(msg.jobManagerId, ctx);
      case 'registration-failed': {
        const error = CloudflinkError.fromWire(msg.error);
        this.refused = true;
        ctx.log.error({ code: error.code }, error.message);
        this.firstOutcome?.({ ok: false, error });
        this.firstOutcome = undefined;
        return;
      }
      case 'jm-heartbeat':
        if (msg.jobManagerId === this.jobManagerId) this.lastJobManagerHeartbeat = ctx.clock.now();
        else if (this.jobManagerId) this.jobManagerGone(`a new job manager (${msg.jobManagerId}) is running`, ctx);
        return;
      case 'reregister':
        this.jobManagerGone('the job manager does not know this task manager', ctx);
        return;
      case 'deploy': return this.deploy(msg.jobId, msg.tasks, ctx);
      case 'start-job':
        for (const [address, { task }] of this.tasks) {
          if (task.jobId !== msg.jobId) continue;
          ctx.tell(address, { type: 'start' });
          this.report(ctx, task, 'RUNNING');
        }
        return;
      case 'commit-job': {
        const commits = [...this.finalCommits.get(msg.jobId)?.values() ?? []];
        this.finalCommits.delete(msg.jobId);
        // A commit that throws fails the ask, and with it the job: FINISHED means committed.
        for (const commit of commits) commit();
        return { committed: commits.length };
      }
      case 'cancel-job':
        // What a sink left for the final commit is given up with the job's run: a restart replays it.
        this.finalCommits.delete(msg.jobId);
        for (const [address, { task }] of [...this.tasks]) {
          if (task.jobId !== msg.jobId) continue;
          await this.remove(address);
          this.report(ctx, task, 'CANCELED');
        }
        return;
      case 'cancel-tasks':
        for (const { vertexId, subtask, execution } of msg.tasks) {
          const address = this.subjects.task(msg.jobId, vertexId, subtask);
          const running = this.tasks.get(address);
          if (running && running.task.attempt === msg.attempt && running.task.execution === execution) await this.remove(address);
          // A finished sink of the region re-runs too: what it left to commit is given up.
          this.finalCommits.get(msg.jobId)?.delete(address);
          // Reported even when it is not here (it ended meanwhile): the Job Manager waits for every one it cancels.
          ctx.tell<JobManagerMessage>(this.subjects.jobManager,
            { type: 'task-status', jobId: msg.jobId, attempt: msg.attempt, execution, vertexId, subtask, state: 'CANCELED' });
        }
        return;
      case 'task-finished': {
        const running = this.tasks.get(msg.address);
        if (!running) return;
        await this.remove(msg.address);
        if (msg.commit) {
          const commits = this.finalCommits.get(running.task.jobId) ?? new Map<string, () => void>();
          this.finalCommits.set(running.task.jobId, commits.set(msg.address, msg.commit));
        }
        ctx.tell<JobManagerMessage>(this.subjects.jobManager, {
          type: 'task-status', jobId: running.task.jobId, attempt: running.task.attempt, execution: running.task.execution, vertexId: running.task.vertex.id,
          subtask: running.task.subtask, state: 'FINISHED', metrics: msg.metrics, collected: msg.collected, holdsCommit: msg.commit !== undefined,
        });
        return;
      }
      case 'actor.child-failed': {
        const running = this.tasks.get(msg.child);
        if (!running) return;
        this.tasks.delete(msg.child);
        this.report(ctx, running.task, 'FAILED', msg.error, running.instance.metrics());
        return;
      }
      default: {
        const never: never = msg;
        throw new Error(`unexpected message ${JSON.stringify(never)}`);
      }
    }
  }

  async stopped(): Promise<void> {
    if (this.timer) this.system.clock.clearInterval(this.timer);
    for (const address of [...this.tasks.keys()]) await this.remove(address);
  }

  private tick(ctx: ActorContext): void {
    if (this.jobManagerId) {
      if (ctx.clock.now() - this.lastJobManagerHeartbeat > this.settings.heartbeatTimeoutMs) {
        this.jobManagerGone(`no heartbeat from the job manager for ${this.settings.heartbeatTimeoutMs} ms`, ctx);
        return;
      }
      ctx.tell<JobManagerMessage>(this.subjects.heartbeat(this.settings.tmId), {
        type: 'heartbeat', tmId: this.settings.tmId, incarnation: this.incarnation, slots: this.settings.slots,
        usedSlots: this.usedSlots(), tasks: [...this.tasks.values()].map((t) => t.instance.metrics()),
      });
      return;
    }
    if (!this.registering && !this.refused) this.register(ctx);
  }

  private register(ctx: ActorContext): void {
    this.registering = true;
    ctx.ask<RegisterReply>(this.subjects.jobManager,
      { type: 'register-tm', tmId: this.settings.tmId, incarnation: this.incarnation, slots: this.settings.slots },
      Math.max(1000, this.settings.heartbeatTimeoutMs))
      .then((reply) => this.system.tell(this.address, { type: 'registered', jobManagerId: reply.jobManagerId }))
      .catch((error: unknown) => {
        if (error instanceof CloudflinkError && error.retryable) {
          if (!this.waitingLogged) ctx.log.info({ jobManager: this.subjects.jobManager }, 'waiting for the job manager');
          this.waitingLogged = true;
        } else {
          this.system.tell(this.address, { type: 'registration-failed', error: CloudflinkError.toWire(error) });
        }
      })
      .finally(() => { this.registering = false; });
  }

  private async registered(jobManagerId: string, ctx: ActorContext): Promise<void> {
    // Tasks from before this registration belong to a job manager that has written them off.
    for (const address of [...this.tasks.keys()]) await this.remove(address);
    // A Job Manager takes a TM that registers again for lost, with what it held: it restarts
    // those jobs, or re-runs their sinks elsewhere, so commits kept here would duplicate output.
    this.finalCommits.clear();
    this.previousJobManagerId = jobManagerId;
    this.jobManagerId = jobManagerId;
    this.lastJobManagerHeartbeat = ctx.clock.now();
    this.waitingLogged = false;
    ctx.log.info({ jobManagerId, slots: this.settings.slots }, 'registered with the job manager');
    this.firstOutcome?.({ ok: true });
    this.firstOutcome = undefined;
  }

  private jobManagerGone(reason: string, ctx: ActorContext): void {
    ctx.log.warn({ reason }, 'registering again with the job manager');
    this.jobManagerId = undefined;
    if (!this.registering) this.register(ctx);
  }

  private async deploy(jobId: string, tasks: TaskDeployment[], ctx: ActorContext): Promise<DeployReply> {
    this.removeOrphanedSpills(ctx);
    let deployed = 0;
    for (const task of tasks) {
      this.report(ctx, task, 'INITIALIZING');
      const instance = new OperatorInstance({ system: this.system, subjects: this.subjects, task, parent: this.address, storage: this.settings.storage, shuffle: this.settings.shuffle });
      try {
        await instance.initialize();
        this.system.spawn(instance.address, instance, { parent: this.address });
        this.tasks.set(instance.address, { instance, task });
        deployed++;
      } catch (error) {
        instance.stopped();
        this.report(ctx, task, 'FAILED', CloudflinkError.toWire(error));
      }
    }
    // After the flush the server knows every data subscription, so no early frame is lost.
    await this.system.transport.flush();
    ctx.log.info({ jobId, deployed }, 'deployed tasks');
    return { deployed };
  }

  /**
   * A Task Manager killed mid-job leaves its spill directories behind: the next one to deploy on
   * this host removes them, in the background (at most every few seconds).
   */
  private removeOrphanedSpills(ctx: ActorContext): void {
    const now = ctx.clock.now();
    if (now - this.lastSpillSweep < SPILL_SWEEP_MS) return;
    this.lastSpillSweep = now;
    removeOrphanedSpills().then(
      (removed) => { if (removed.length > 0) ctx.log.info({ removed }, 'removed the spill directories of task managers that are gone'); },
      (error: unknown) => ctx.log.warn({ err: error }, 'cannot remove the spill directories of task managers that are gone'));
  }

  /** Stops a task; done once what it stored is whole or gone, so that nothing of it lands after a re-run's. */
  private async remove(address: string): Promise<void> {
    const running = this.tasks.get(address);
    if (!running) return;
    this.tasks.delete(address);
    await this.system.stop(address);
    await running.instance.outputsSettled;
  }

  private usedSlots(): number {
    return new Set([...this.tasks.values()].map((t) => `${t.task.jobId}/${t.task.slot}`)).size;
  }

  private report(ctx: ActorContext, task: TaskDeployment, state: 'INITIALIZING' | 'RUNNING' | 'FINISHED' | 'FAILED' | 'CANCELED',
    error?: ReturnType<typeof CloudflinkError.toWire>, metrics?: TaskMetrics): void {
    ctx.tell<JobManagerMessage>(this.subjects.jobManager,
      { type: 'task-status', jobId: task.jobId, attempt: task.attempt, execution: task.execution, vertexId: task.vertex.id, subtask: task.subtask, state, error, metrics });
  }
}
