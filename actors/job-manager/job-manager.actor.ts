import { randomBytes } from 'node:crypto';
import { validateDescriptor } from '../../lib/descriptor/validate.ts';
import { ClusterFullError, CloudflinkError, DescriptorInvalidError, JobNotFoundError, type WireError } from '../../lib/errors/index.ts';
import type { ActorContext, ActorSystem, Behavior } from '../../lib/actor/index.ts';
import type { TimerHandle } from '../../lib/clock/index.ts';
import type { EventPublisher } from '../../lib/events/publisher.ts';
import type { Subjects } from '../../lib/subjects/index.ts';
import type { SchedulerMessage, SchedulerView, SlotRef } from '../scheduler/protocol.ts';
import type { NetworkSettings } from '../operator/protocol.ts';
import type { TaskManagerMessage } from '../task-manager/protocol.ts';
import { buildDeployments, slotsNeeded } from './execution-graph.ts';
import { JobRun } from './job-run.ts';
import type { ClusterView, JobManagerMessage, RegisterReply, StatusReply, SubmitReply, ListReply } from './protocol.ts';

/** The design card's bound: a cluster has 1 to 10 Task Managers. */
export const MAX_TASK_MANAGERS = 10;

export interface JobManagerSettings {
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  slotWaitMs: number;
  collectLimit: number;
  network: NetworkSettings;
}

interface RegisteredTaskManager {
  tmId: string;
  incarnation: string;
  slots: number;
  usedSlots: number;
  lastHeartbeat: number;
}

/**
 * The master: accepts jobs, drives each job's machine and its subtasks' machines, watches
 * the Task Managers' heartbeats, and turns a failure anywhere into a job transition.
 */
export class JobManager implements Behavior<JobManagerMessage> {
  readonly id = randomBytes(6).toString('hex');
  private readonly jobs = new Map<string, JobRun>();
  private readonly taskManagers = new Map<string, RegisteredTaskManager>();
  private timer?: TimerHandle;

  constructor(
    private readonly system: ActorSystem,
    private readonly subjects: Subjects,
    private readonly events: EventPublisher,
    private readonly settings: JobManagerSettings,
  ) {}

  start(): void {
    this.system.spawn(this.subjects.jobManager, this, { aliases: [this.subjects.heartbeats] });
    this.timer = this.system.clock.setInterval(
      () => this.system.tell(this.subjects.jobManager, { type: 'check-heartbeats' }), this.settings.heartbeatIntervalMs);
  }

  receive(msg: JobManagerMessage, ctx: ActorContext): unknown {
    switch (msg.type) {
      case 'submit': return this.submit(msg.descriptor, ctx);
      case 'list': return [...this.jobs.values()].map((run) => run.summary()) satisfies ListReply;
      case 'status': return this.job(msg.jobId).result() satisfies StatusReply;
      case 'cancel': return this.cancel(msg.jobId, ctx);
      case 'cluster': return this.clusterView(ctx);
      case 'register-tm': return this.register(msg.tmId, msg.incarnation, msg.slots, ctx);
      case 'heartbeat': return this.heartbeat(msg, ctx);
      case 'check-heartbeats': return this.checkHeartbeats(ctx);
      case 'task-status': return this.taskStatus(msg, ctx);
      case 'slots-granted': return this.slotsGranted(msg.requestId, msg.slots, ctx);
      case 'slots-unavailable': {
        const run = this.byRequest(msg.requestId);
        if (!run) return;
        run.slotRequestId = undefined;
        run.send({ type: 'SCHEDULING_FAILED', cause: `not enough slots: needs ${msg.needs}, cluster has ${msg.total}` });
        this.cancelTasks(run, ctx);
        return;
      }
      case 'deployed': {
        const run = this.jobs.get(msg.jobId);
        if (!run || !run.pendingDeploys.delete(msg.tmId) || run.pendingDeploys.size > 0 || run.status !== 'CREATED') return;
        for (const tmId of new Set([...run.tasks.values()].map((t) => t.tmId!))) {
          ctx.tell<TaskManagerMessage>(this.subjects.taskManager(tmId), { type: 'start-job', jobId: run.jobId });
        }
        run.send({ type: 'TASKS_RUNNING' });
        return;
      }
      case 'deploy-failed': {
        const run = this.jobs.get(msg.jobId);
        if (!run) return;
        run.pendingDeploys.delete(msg.tmId);
        this.failJob(run, `deploying to task manager ${msg.tmId} failed: ${msg.error.message}`, ctx);
        return;
      }
      default: {
        const never: never = msg;
        throw new Error(`unexpected message ${JSON.stringify(never)}`);
      }
    }
  }

  stopped(): void {
    if (this.timer) this.system.clock.clearInterval(this.timer);
    for (const run of this.jobs.values()) run.stop();
  }

  private submit(descriptor: unknown, ctx: ActorContext): SubmitReply {
    const jobId = randomBytes(8).toString('hex');
    const validation = validateDescriptor(descriptor);
    if (!validation.ok) {
      const jobName = typeof (descriptor as { name?: unknown })?.name === 'string' ? (descriptor as { name: string }).name : undefined;
      this.events.publish({ type: 'job.rejected', jobId, jobName, issues: validation.issues, at: new Date().toISOString() });
      throw new DescriptorInvalidError(validation.issues);
    }
    const job = validation.job;
    const log = ctx.log.child({ jobId, job: job.name });
    const run = new JobRun(jobId, job, (event) => this.events.publish(event), log);
    this.jobs.set(jobId, run);
    run.slotRequestId = `${jobId}/slots`;
    ctx.tell<SchedulerMessage>(this.subjects.scheduler, {
      type: 'request-slots', requestId: run.slotRequestId, jobId, count: slotsNeeded(job),
      timeoutMs: this.settings.slotWaitMs, replyTo: this.subjects.jobManager,
    });
    return { jobId };
  }

  private slotsGranted(requestId: string, slots: SlotRef[], ctx: ActorContext): void {
    const run = this.byRequest(requestId);
    if (!run || run.status !== 'CREATED') {
      const jobId = requestId.split('/')[0]!;
      ctx.tell<SchedulerMessage>(this.subjects.scheduler, { type: 'release-slots', jobId });
      return;
    }
    run.slotRequestId = undefined;
    const deployments = buildDeployments(run.jobId, run.job, slots, this.settings.network, this.settings.collectLimit);
    const byTaskManager = new Map<string, typeof deployments>();
    for (const deployment of deployments) {
      const task = run.task(deployment.vertex.id, deployment.subtask)!;
      run.sendTask(task, { type: 'SCHEDULE', tmId: deployment.tmId, slot: deployment.slot });
      byTaskManager.set(deployment.tmId, [...(byTaskManager.get(deployment.tmId) ?? []), deployment]);
    }
    for (const [tmId, tasks] of byTaskManager) {
      run.pendingDeploys.add(tmId);
      for (const deployment of tasks) run.sendTask(run.task(deployment.vertex.id, deployment.subtask)!, { type: 'DEPLOY' });
      // Not awaited: the Job Manager keeps serving heartbeats while Task Managers deploy.
      ctx.ask(this.subjects.taskManager(tmId), { type: 'deploy', jobId: run.jobId, tasks: tasks.map(({ tmId: _, ...task }) => task) }, 30_000)
        .then(() => this.system.tell(this.subjects.jobManager, { type: 'deployed', jobId: run.jobId, tmId }))
        .catch((error: unknown) => this.system.tell(this.subjects.jobManager,
          { type: 'deploy-failed', jobId: run.jobId, tmId, error: CloudflinkError.toWire(error) }));
    }
  }

  private taskStatus(msg: Extract<JobManagerMessage, { type: 'task-status' }>, ctx: ActorContext): void {
    const run = this.jobs.get(msg.jobId);
    const task = run?.task(msg.vertexId, msg.subtask);
    if (!run || !task) return;
    if (msg.metrics) run.recordMetrics(msg.metrics);
    switch (msg.state) {
      case 'INITIALIZING': run.sendTask(task, { type: 'INITIALIZE' }); break;
      case 'RUNNING': run.sendTask(task, { type: 'RUN' }); break;
      case 'FINISHED':
        run.sendTask(task, { type: 'FINISH' });
        if (msg.collected) (run.collected[msg.vertexId] ??= []).push(...msg.collected);
        break;
      case 'CANCELED': run.sendTask(task, { type: 'CANCELED' }); break;
      case 'FAILED': {
        const cause = msg.error?.message ?? 'the task failed';
        run.sendTask(task, { type: 'FAIL', cause });
        this.failJob(run, cause, ctx);
        break;
      }
      default: {
        const never: never = msg.state;
        throw new Error(`unexpected task state ${String(never)}`);
      }
    }
    this.settle(run, ctx);
  }

  private cancel(jobId: string, ctx: ActorContext): { state: string } {
    const run = this.job(jobId);
    run.send({ type: 'CANCEL' });
    if (run.status === 'CANCELLING') this.cancelTasks(run, ctx);
    return { state: run.status };
  }

  /** Fails a job that is still alive, then cancels whatever of it still runs. */
  private failJob(run: JobRun, cause: string, ctx: ActorContext): void {
    if (run.status !== 'CREATED' && run.status !== 'RUNNING') return;
    run.send({ type: 'TASK_FAILED', cause });
    this.cancelTasks(run, ctx);
  }

  private cancelTasks(run: JobRun, ctx: ActorContext): void {
    if (run.slotRequestId) {
      ctx.tell<SchedulerMessage>(this.subjects.scheduler, { type: 'cancel-request', requestId: run.slotRequestId });
      run.slotRequestId = undefined;
    }
    const hosts = new Set<string>();
    for (const task of run.tasks.values()) {
      const before = run.stateOf(task);
      run.sendTask(task, { type: 'CANCEL' });
      if (run.stateOf(task) === 'CANCELING' && before !== 'CANCELING' && task.tmId) hosts.add(task.tmId);
    }
    for (const tmId of hosts) ctx.tell<TaskManagerMessage>(this.subjects.taskManager(tmId), { type: 'cancel-job', jobId: run.jobId });
    this.settle(run, ctx);
  }

  /** Moves the job on once its tasks allow it, and frees its slots when it ends. */
  private settle(run: JobRun, ctx: ActorContext): void {
    if (run.status === 'RUNNING' && run.every((s) => s === 'FINISHED')) run.send({ type: 'ALL_TASKS_FINISHED' });
    if ((run.status === 'FAILING' || run.status === 'CANCELLING') && run.allTasksTerminal) run.send({ type: 'ALL_TASKS_TERMINATED' });
    if (run.isTerminal && !run.slotsReleased) {
      run.slotsReleased = true;
      ctx.tell<SchedulerMessage>(this.subjects.scheduler, { type: 'release-slots', jobId: run.jobId });
    }
  }

  private register(tmId: string, incarnation: string, slots: number, ctx: ActorContext): RegisterReply {
    if (this.taskManagers.has(tmId)) {
      // It registers again: whatever it ran is gone (it cancels its tasks on registering).
      this.taskManagerLost(tmId, 'it registered again', ctx, false);
    } else if (this.taskManagers.size >= MAX_TASK_MANAGERS) {
      const error = new ClusterFullError(MAX_TASK_MANAGERS);
      this.events.publish({ type: 'tm.refused', tmId, slots, cause: error.message, at: new Date().toISOString() });
      ctx.log.warn({ tmId }, error.message);
      throw error;
    }
    this.taskManagers.set(tmId, { tmId, incarnation, slots, usedSlots: 0, lastHeartbeat: ctx.clock.now() });
    ctx.tell<SchedulerMessage>(this.subjects.scheduler, { type: 'tm-added', tmId, slots });
    this.events.publish({ type: 'tm.registered', tmId, slots, at: new Date().toISOString() });
    ctx.log.info({ tmId, slots }, 'task manager registered');
    return { jobManagerId: this.id, heartbeatIntervalMs: this.settings.heartbeatIntervalMs, heartbeatTimeoutMs: this.settings.heartbeatTimeoutMs };
  }

  private heartbeat(msg: Extract<JobManagerMessage, { type: 'heartbeat' }>, ctx: ActorContext): void {
    const tm = this.taskManagers.get(msg.tmId);
    if (!tm || tm.incarnation !== msg.incarnation) {
      ctx.tell<TaskManagerMessage>(this.subjects.taskManager(msg.tmId), { type: 'reregister' });
      return;
    }
    tm.lastHeartbeat = ctx.clock.now();
    tm.usedSlots = msg.usedSlots;
    for (const metrics of msg.tasks) this.jobs.get(metrics.jobId)?.recordMetrics(metrics);
  }

  private checkHeartbeats(ctx: ActorContext): void {
    const now = ctx.clock.now();
    for (const tm of [...this.taskManagers.values()]) {
      if (now - tm.lastHeartbeat > this.settings.heartbeatTimeoutMs) {
        this.taskManagerLost(tm.tmId, `no heartbeat for ${this.settings.heartbeatTimeoutMs} ms`, ctx, true);
      } else {
        ctx.tell<TaskManagerMessage>(this.subjects.taskManager(tm.tmId), { type: 'jm-heartbeat', jobManagerId: this.id });
      }
    }
  }

  private taskManagerLost(tmId: string, reason: string, ctx: ActorContext, announce: boolean): void {
    const tm = this.taskManagers.get(tmId);
    if (!tm) return;
    this.taskManagers.delete(tmId);
    ctx.tell<SchedulerMessage>(this.subjects.scheduler, { type: 'tm-removed', tmId });
    const cause = `task manager ${tmId} lost: ${reason}`;
    if (announce) {
      this.events.publish({ type: 'tm.lost', tmId, slots: tm.slots, cause, at: new Date().toISOString() });
      ctx.log.warn({ tmId }, cause);
    }
    for (const run of this.jobs.values()) {
      if (run.isTerminal) continue;
      let hit = false;
      for (const task of run.tasks.values()) {
        if (task.tmId === tmId) {
          const before = run.stateOf(task);
          run.sendTask(task, { type: 'TM_LOST', cause });
          hit ||= run.stateOf(task) !== before;
        }
      }
      if (hit) this.failJob(run, cause, ctx);
      this.settle(run, ctx);
    }
  }

  private async clusterView(ctx: ActorContext): Promise<ClusterView> {
    const view = await ctx.ask<SchedulerView>(this.subjects.scheduler, { type: 'view' });
    const now = ctx.clock.now();
    const taskManagers = [...this.taskManagers.values()].map((tm) => {
      const used = view.taskManagers.find((t) => t.tmId === tm.tmId)?.used.length ?? 0;
      return { tmId: tm.tmId, slots: tm.slots, freeSlots: tm.slots - used, lastHeartbeatMsAgo: now - tm.lastHeartbeat };
    });
    return {
      jobManagerId: this.id,
      taskManagers,
      totalSlots: taskManagers.reduce((n, tm) => n + tm.slots, 0),
      freeSlots: taskManagers.reduce((n, tm) => n + tm.freeSlots, 0),
    };
  }

  private job(jobId: string): JobRun {
    const run = this.jobs.get(jobId);
    if (!run) throw new JobNotFoundError(jobId);
    return run;
  }

  private byRequest(requestId: string): JobRun | undefined {
    for (const run of this.jobs.values()) if (run.slotRequestId === requestId) return run;
    return undefined;
  }
}

export type { WireError };
