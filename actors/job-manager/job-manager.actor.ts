import { randomBytes } from 'node:crypto';
import { validateDescriptor } from '../../lib/descriptor/validate.ts';
import { ClusterFullError, CloudflinkError, DescriptorInvalidError, JobNotFoundError, type WireError } from '../../lib/errors/index.ts';
import type { ActorContext, ActorSystem, Behavior } from '../../lib/actor/index.ts';
import type { TimerHandle } from '../../lib/clock/index.ts';
import type { EventPublisher } from '../../lib/events/publisher.ts';
import type { Subjects } from '../../lib/subjects/index.ts';
import type { CheckpointMetadata, CheckpointStorage } from '../../lib/checkpoint/types.ts';
import type { ShuffleStorage } from '../../lib/shuffle/types.ts';
import type { SchedulerMessage, SchedulerView, SlotRef } from '../scheduler/protocol.ts';
import type { NetworkSettings, OperatorMessage } from '../operator/protocol.ts';
import { CheckpointCoordinator } from './checkpoint-coordinator.ts';
import type { TaskManagerMessage } from '../task-manager/protocol.ts';
import { buildDeployments, slotsNeeded } from './execution-graph.ts';
import { JobRun, type TaskRun } from './job-run.ts';
import { taskKey } from './regions.ts';
import type { JobStore } from './job-store.ts';
import { TERMINAL_JOB_STATES } from '../../lib/events/types.ts';
import { restartDecision, restartDeadline, restoreJobSnapshot } from './job.machine.ts';
import { isTerminalTaskState } from '../operator/task.machine.ts';
import type { ClusterView, CollectedReply, JobManagerMessage, RegisterReply, SavepointReply, StatusReply, SubmitReply, ListReply } from './protocol.ts';

/** The design card's bound: a cluster has 1 to 10 Task Managers. */
export const MAX_TASK_MANAGERS = 10;

export interface JobManagerSettings {
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  slotWaitMs: number;
  collectLimit: number;
  network: NetworkSettings;
  /** Completed checkpoints kept per job. */
  retainedCheckpoints: number;
  storage: CheckpointStorage;
  /** Where blocking batch jobs keep the data their stages exchange; dropped when the job ends. */
  shuffle?: ShuffleStorage;
  /** Reads a checkpoint's or savepoint's metadata from a pointer of any storage. */
  readMetadata(pointer: string): Promise<CheckpointMetadata>;
  /** Where jobs are kept so that a restarted Job Manager resumes them. */
  store?: JobStore;
}

interface RegisteredTaskManager {
  tmId: string;
  incarnation: string;
  slots: number;
  usedSlots: number;
  lastHeartbeat: number;
  /**
   * Its slots are offered to the Scheduler on its first heartbeat after registering: a TM
   * heartbeats only once it has taken in the registration and dropped tasks of an earlier Job
   * Manager, so nothing is deployed to it before that.
   */
  offered: boolean;
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
    this.system.tell(this.subjects.jobManager, { type: 'resume-jobs' });
    this.timer = this.system.clock.setInterval(
      () => this.system.tell(this.subjects.jobManager, { type: 'check-heartbeats' }), this.settings.heartbeatIntervalMs);
  }

  receive(msg: JobManagerMessage, ctx: ActorContext): unknown {
    switch (msg.type) {
      case 'submit': return this.submit(msg.descriptor, msg.restoreFrom, ctx);
      case 'savepoint': return this.savepoint(msg.jobId, msg.stop ?? false);
      case 'list': return [...this.jobs.values()].map((run) => run.summary()) satisfies ListReply;
      case 'status': return this.job(msg.jobId).result() satisfies StatusReply;
      case 'collected': return this.job(msg.jobId).collectedPage(msg.vertexId, msg.offset) satisfies CollectedReply;
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
        const cause = `not enough slots: needs ${msg.needs}, cluster has ${msg.total}`;
        // Slots to replace those of a lost Task Manager: without them the job cannot go on.
        if (run.status === 'RUNNING') this.failJob(run, cause, ctx);
        else {
          run.send({ type: 'SCHEDULING_FAILED', cause });
          this.cancelTasks(run, ctx);
        }
        return;
      }
      case 'deployed': {
        const run = this.jobs.get(msg.jobId);
        if (run?.regions) return this.regionDeployed(run, msg.attempt, msg.tmId, ctx);
        if (!run || !run.pendingDeploys.delete(msg.tmId) || run.pendingDeploys.size > 0 || !isStarting(run)) return;
        for (const tmId of new Set([...run.tasks.values()].map((t) => t.tmId!))) {
          ctx.tell<TaskManagerMessage>(this.subjects.taskManager(tmId), { type: 'start-job', jobId: run.jobId });
        }
        run.send({ type: 'TASKS_RUNNING' });
        run.coordinator.start();
        return;
      }
      case 'deploy-failed': {
        const run = this.jobs.get(msg.jobId);
        if (!run || run.attempt !== msg.attempt) return;
        run.pendingDeploys.delete(msg.tmId);
        const cause = `deploying to task manager ${msg.tmId} failed: ${msg.error.message}`;
        if (!run.regions) {
          this.failJob(run, cause, ctx);
          return;
        }
        // Only the tasks of that deploy that still wait for it: a lost TM may have failed them already.
        const failed = msg.tasks.flatMap(({ vertexId, subtask, execution }) => {
          const task = run.task(vertexId, subtask);
          return task && task.execution === execution && run.stateOf(task) === 'DEPLOYING' ? [task] : [];
        });
        for (const task of failed) run.sendTask(task, { type: 'FAIL', cause });
        // The TM may be alive and slow: what it deployed after all must not run beside the re-run.
        ctx.tell<TaskManagerMessage>(this.subjects.taskManager(msg.tmId), { type: 'cancel-tasks', jobId: run.jobId, attempt: run.attempt, tasks: msg.tasks });
        if (failed.length > 0) this.regionsFailed(run, failed, cause, ctx);
        return;
      }
      case 'checkpoint-ack': {
        const run = this.jobs.get(msg.jobId);
        if (run?.attempt === msg.attempt) run.coordinator.ack(msg.checkpointId, msg.vertexId, msg.subtask, msg.handle, msg.alignmentMs);
        return;
      }
      case 'checkpoint-declined': {
        const run = this.jobs.get(msg.jobId);
        if (run?.attempt === msg.attempt) run.coordinator.decline(msg.checkpointId, msg.reason, msg.counts);
        return;
      }
      case 'checkpoint-trigger':
        this.jobs.get(msg.jobId)?.coordinator.onTrigger();
        return;
      case 'checkpoint-timeout':
        this.jobs.get(msg.jobId)?.coordinator.onTimeout(msg.checkpointId);
        return;
      case 'restart-due': return this.restart(msg.jobId, msg.attempt, ctx);
      case 'regions-due': {
        const run = this.jobs.get(msg.jobId);
        if (!run || run.attempt !== msg.attempt) return;
        for (const [region, pending] of run.failedRegions) if (msg.regions.includes(region.index)) pending.due = true;
        this.settle(run, ctx);
        return;
      }
      case 'resume-jobs': return this.resumeJobs(ctx);
      case 'job-committed': {
        const run = this.jobs.get(msg.jobId);
        if (!run || run.attempt !== msg.attempt) return;
        // Its sinks' output is committed: losing the TM now loses nothing (a region failover meanwhile may have started a new round).
        for (const task of run.tasks.values()) if (task.tmId === msg.tmId) task.holdsCommit = false;
        if (run.committing?.delete(msg.tmId)) this.settle(run, ctx);
        return;
      }
      case 'commit-failed': {
        const run = this.jobs.get(msg.jobId);
        // Whatever round it was of: the TM gave up the commits it held, so their output is lost.
        if (!run || run.attempt !== msg.attempt) return;
        this.commitLost(run, msg.tmId, msg.error.message, ctx);
        return;
      }
      case 'continue':
        msg.step();
        return;
      default: {
        const never: never = msg;
        throw new Error(`unexpected message ${JSON.stringify(never)}`);
      }
    }
  }

  stopped(): void {
    if (this.timer) this.system.clock.clearInterval(this.timer);
    for (const run of this.jobs.values()) this.endJob(run);
  }

  private async submit(descriptor: unknown, restorePointer: string | undefined, ctx: ActorContext): Promise<SubmitReply> {
    const jobId = randomBytes(8).toString('hex');
    const validation = validateDescriptor(descriptor);
    const jobName = typeof (descriptor as { name?: unknown })?.name === 'string' ? (descriptor as { name: string }).name : undefined;
    const reject = (issues: { path: string; message: string }[]): never => {
      this.events.publish({ type: 'job.rejected', jobId, jobName, issues, at: new Date().toISOString() });
      throw new DescriptorInvalidError(issues);
    };
    if (!validation.ok) return reject(validation.issues);
    const job = validation.job;
    let restoreFrom: { pointer: string; metadata: CheckpointMetadata } | undefined;
    if (restorePointer) {
      const metadata = await this.settings.readMetadata(restorePointer)
        .catch((error: unknown) => reject([{ path: '', message: `cannot restore from ${restorePointer}: ${(error as Error).message}` }]));
      if (metadata.maxParallelism !== job.maxParallelism) {
        reject([{ path: '/maxParallelism', message: `the savepoint was taken with maxParallelism ${metadata.maxParallelism}; state can only move between jobs with the same` }]);
      }
      restoreFrom = { pointer: restorePointer, metadata };
    }
    const log = ctx.log.child({ jobId, job: job.name });
    const run = new JobRun(jobId, job, (event) => this.events.publish(event), log, restoreFrom);
    this.adopt(run, ctx);
    this.requestSlots(run, ctx);
    return { jobId };
  }

  /** Wires a job run to its coordinator and to the job store. */
  private adopt(run: JobRun, ctx: ActorContext): void {
    run.coordinator = this.coordinatorFor(run, ctx);
    run.onChange = (changed) => this.settings.store?.put(changed.stored());
    this.jobs.set(run.jobId, run);
    run.onChange(run);
  }

  /**
   * A restarted Job Manager takes over its cluster's jobs: ended ones as history, live ones
   * RESTARTING from their latest completed checkpoint, once Task Managers offer slots again.
   */
  private async resumeJobs(ctx: ActorContext): Promise<void> {
    for (const stored of await this.settings.store?.all() ?? []) {
      if (this.jobs.has(stored.jobId)) continue;
      const ended = TERMINAL_JOB_STATES.includes(stored.status);
      const pointer = stored.latestCheckpoint ?? stored.restoreFrom;
      const metadata = !ended && pointer
        ? await this.settings.readMetadata(pointer).catch((error: unknown) => {
          ctx.log.error({ err: error, jobId: stored.jobId, pointer }, 'cannot read the checkpoint to resume from; the job restarts without state');
          return undefined;
        })
        : undefined;
      const cause = ended ? stored.cause : 'the job manager restarted';
      const snapshot = restoreJobSnapshot(ended ? stored.status : 'RESTARTING', {
        jobId: stored.jobId, jobName: stored.job.name, cause, causes: [...stored.causes, ...(ended ? [] : [cause!])],
        restartStrategy: stored.job.restartStrategy, restartHistory: stored.restartHistory ?? { attempts: 0, failureTimes: [] },
        restartAt: ended ? undefined : ctx.clock.now(),
      });
      const log = ctx.log.child({ jobId: stored.jobId, job: stored.job.name });
      const run = new JobRun(stored.jobId, stored.job, (event) => this.events.publish(event), log,
        metadata && pointer ? { pointer, metadata } : undefined,
        { snapshot, previous: stored.status, submittedAt: stored.submittedAt, endedAt: stored.endedAt });
      run.slotsReleased = true;
      run.attempt = stored.attempt ?? 0;
      this.adopt(run, ctx);
      if (!ended) {
        ctx.log.info({ jobId: run.jobId, from: pointer ?? 'nothing' }, 'resuming a job after a job manager restart');
        this.system.tell(this.subjects.jobManager, { type: 'restart-due', jobId: run.jobId, attempt: run.attempt });
      }
    }
  }

  private requestSlots(run: JobRun, ctx: ActorContext): void {
    run.slotRequestId = `${run.jobId}/slots/${run.attempt}`;
    ctx.tell<SchedulerMessage>(this.subjects.scheduler, {
      type: 'request-slots', requestId: run.slotRequestId, jobId: run.jobId, count: slotsNeeded(run.job),
      timeoutMs: this.settings.slotWaitMs, replyTo: this.subjects.jobManager,
    });
  }

  private coordinatorFor(run: JobRun, ctx: ActorContext): CheckpointCoordinator {
    const { checkpointing } = run.job;
    const later = (ms: number, msg: JobManagerMessage): void => {
      const timer = ctx.clock.setTimeout(() => {
        run.timers.delete(timer);
        this.system.tell(this.subjects.jobManager, msg);
      }, ms);
      run.timers.add(timer);
    };
    const tellTasks = (msg: OperatorMessage, only?: (vertexId: string) => boolean): void => {
      for (const task of run.tasks.values()) {
        if (!only || only(task.vertexId)) this.system.tell(this.subjects.task(run.jobId, task.vertexId, task.subtask), msg);
      }
    };
    const sources = new Set(run.job.vertices.filter((v) => !run.job.edges.some((e) => e.to === v.id)).map((v) => v.id));
    return new CheckpointCoordinator(
      { jobId: run.jobId, jobName: run.job.name, maxParallelism: run.job.maxParallelism, vertices: run.job.vertices },
      { ...checkpointing, retained: this.settings.retainedCheckpoints },
      {
        now: () => ctx.clock.now(),
        scheduleTrigger: (ms) => later(ms, { type: 'checkpoint-trigger', jobId: run.jobId }),
        scheduleTimeout: (checkpointId, ms) => later(ms, { type: 'checkpoint-timeout', jobId: run.jobId, checkpointId }),
        canTrigger: () => run.status === 'RUNNING' && run.every((s) => s === 'RUNNING'),
        triggerSources: (checkpointId, stop) => tellTasks({ type: 'trigger-checkpoint', checkpointId, stop }, (v) => sources.has(v)),
        notifyTasks: (msg) => tellTasks(msg),
        publish: (event) => {
          this.events.publish(event);
          if (event.type === 'checkpoint.completed' && !event.savepoint) run.onChange(run);
        },
        later: (step) => this.system.tell(this.subjects.jobManager, { type: 'continue', step }),
        failJob: (cause) => this.failJob(run, cause, ctx),
        settled: () => {
          if (run.restartWhenSettled) {
            run.restartWhenSettled = false;
            this.restart(run.jobId, run.attempt, ctx);
          }
          this.settle(run, ctx);
        },
        storage: this.settings.storage,
        log: ctx.log.child({ jobId: run.jobId }),
      },
      run.restoreFrom?.metadata.checkpointId ?? 0,
    );
  }

  private savepoint(jobId: string, stop: boolean): SavepointReply {
    return { checkpointId: this.job(jobId).coordinator.savepoint(stop) };
  }

  /** The restart strategy's delay has passed: a new attempt, restored from the latest checkpoint. */
  private restart(jobId: string, attempt: number, ctx: ActorContext): void {
    const run = this.jobs.get(jobId);
    if (!run || run.status !== 'RESTARTING' || run.attempt !== attempt) return;
    if (run.coordinator.persisting) {
      // A checkpoint acknowledged before the failure is still being written: restore from it, not from the one before.
      run.restartWhenSettled = true;
      return;
    }
    run.newAttempt();
    run.slotsReleased = false;
    if (run.regions) this.discardShuffle(run, ctx);
    ctx.log.info({ jobId, attempt: run.attempt, from: run.coordinator.latest?.pointer ?? run.restoreFrom?.pointer ?? 'nothing' }, 'restarting the job');
    this.requestSlots(run, ctx);
  }

  private slotsGranted(requestId: string, slots: SlotRef[], ctx: ActorContext): void {
    const run = this.byRequest(requestId);
    const replacing = run?.regions !== undefined && run.status === 'RUNNING';
    if (!run || !(isStarting(run) || replacing)) {
      const jobId = requestId.split('/')[0]!;
      ctx.tell<SchedulerMessage>(this.subjects.scheduler, { type: 'release-slots', jobId, slots });
      return;
    }
    run.slotRequestId = undefined;
    if (run.regions) {
      if (replacing) {
        // In the place of lost slots that still have work; a slot of a TM lost meanwhile, or not needed any more, goes back.
        run.replacementSlots = 0;
        const granted = slots.filter((slot) => this.taskManagers.has(slot.tmId));
        run.slots = run.slots.map((slot, index) => slot ?? (run.needsSlot(index) ? granted.shift() : undefined));
        const unused = [...slots.filter((slot) => !this.taskManagers.has(slot.tmId)), ...granted];
        if (unused.length > 0) ctx.tell<SchedulerMessage>(this.subjects.scheduler, { type: 'release-slots', jobId: run.jobId, slots: unused });
        this.replaceSlots(run, ctx);
      } else run.slots = slots;
      this.deployStartable(run, ctx);
      return;
    }
    this.deploy(run, buildDeployments(run, slots, this.settings.network, this.settings.collectLimit), ctx);
  }

  private deploy(run: JobRun, deployments: ReturnType<typeof buildDeployments>, ctx: ActorContext): void {
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
      const { jobId, attempt } = run;
      const deployed = tasks.map((t) => ({ vertexId: t.vertex.id, subtask: t.subtask, execution: t.execution }));
      ctx.ask(this.subjects.taskManager(tmId), { type: 'deploy', jobId, tasks: tasks.map(({ tmId: _, ...task }) => task) }, 30_000)
        .then(() => this.system.tell(this.subjects.jobManager, { type: 'deployed', jobId, attempt, tmId }))
        .catch((error: unknown) => this.system.tell(this.subjects.jobManager,
          { type: 'deploy-failed', jobId, attempt, tmId, tasks: deployed, error: CloudflinkError.toWire(error) }));
    }
  }

  // ---- a blocking batch job: region by region, a failed region re-run alone ----

  /** Deploys every region whose producers all finished, on the slots of its subtasks. */
  private deployStartable(run: JobRun, ctx: ActorContext): void {
    const regions = run.startableRegions();
    if (regions.length === 0) return;
    const only = new Set(regions.flatMap((r) => r.tasks.map((t) => taskKey(t.vertexId, t.subtask))));
    this.deploy(run, buildDeployments(run, run.slots, this.settings.network, this.settings.collectLimit, only), ctx);
  }

  private regionDeployed(run: JobRun, attempt: number, tmId: string, ctx: ActorContext): void {
    if (run.attempt !== attempt || run.isTerminal || run.status === 'FAILING' || run.status === 'CANCELLING') return;
    ctx.tell<TaskManagerMessage>(this.subjects.taskManager(tmId), { type: 'start-job', jobId: run.jobId });
    if (isStarting(run)) {
      run.send({ type: 'TASKS_RUNNING' });
      run.coordinator.start();
    }
  }

  /**
   * Tasks failed in a job whose regions fail over alone: their regions' other tasks are
   * cancelled and, once all are down and the restart strategy's delay has passed, re-run from
   * the stored output of their producers. When the strategy gives up, the job fails.
   */
  private regionsFailed(run: JobRun, failed: TaskRun[], cause: string, ctx: ActorContext): void {
    if (run.status !== 'RUNNING') {
      this.failJob(run, cause, ctx);
      return;
    }
    const now = ctx.clock.now();
    const random = Math.random();
    const decision = restartDecision(run.machine.getSnapshot(), now, random);
    run.send({ type: 'REGION_FAILED', cause, now, random });
    if (run.status !== 'RUNNING') {
      run.coordinator.stop(`the job is failing: ${cause}`);
      this.cancelTasks(run, ctx);
      return;
    }
    const delayMs = decision.restart ? decision.delayMs : 0;
    const failing = new Set(failed.map((task) => run.regionOf(task)!));
    // A region already reading what a failing one wrote would read it rewritten: it runs again after it.
    for (const region of [...failing]) {
      for (const consumer of run.consumersOf(region)) {
        const states = consumer.tasks.map((t) => run.stateOf(run.task(t.vertexId, t.subtask)!));
        if (states.some((state) => state !== 'CREATED') && states.some((state) => state !== 'FINISHED')) failing.add(consumer);
      }
    }
    const regions = [...failing].filter((r) => !run.failedRegions.has(r));
    // A sink's final commit lives on its Task Manager until the job finishes: it is redone with the region.
    run.committing = undefined;
    const hosts = new Map<string, { vertexId: string; subtask: number; execution: number }[]>();
    for (const region of regions) {
      run.failedRegions.set(region, { due: false });
      for (const { vertexId, subtask } of region.tasks) {
        const task = run.task(vertexId, subtask)!;
        const before = run.stateOf(task);
        run.sendTask(task, { type: 'CANCEL' });
        // A finished sink's TM drops the final commit it holds for it.
        const cancelled = (run.stateOf(task) === 'CANCELING' && before !== 'CANCELING') || (before === 'FINISHED' && task.holdsCommit);
        if (cancelled && task.tmId) hosts.set(task.tmId, [...hosts.get(task.tmId) ?? [], { vertexId, subtask, execution: task.execution }]);
      }
    }
    for (const [tmId, tasks] of hosts) {
      ctx.tell<TaskManagerMessage>(this.subjects.taskManager(tmId), { type: 'cancel-tasks', jobId: run.jobId, attempt: run.attempt, tasks });
    }
    const tasks = regions.flatMap((r) => r.tasks.map(({ vertexId, subtask }) => {
      const vertex = run.job.vertices.find((v) => v.id === vertexId)!;
      return { vertexId, vertexName: vertex.name, subtask, parallelism: vertex.parallelism };
    }));
    ctx.log.warn({ jobId: run.jobId, tasks, delayMs, cause }, 're-running failed tasks from their stored inputs');
    this.events.publish({ type: 'job.failover', jobId: run.jobId, jobName: run.job.name, cause, tasks, delayMs, at: new Date().toISOString() });
    const attempt = run.attempt;
    const timer = ctx.clock.setTimeout(() => {
      run.timers.delete(timer);
      this.system.tell(this.subjects.jobManager, { type: 'regions-due', jobId: run.jobId, attempt, regions: regions.map((r) => r.index) });
    }, delayMs);
    run.timers.add(timer);
    this.settle(run, ctx);
  }

  /**
   * A Task Manager of a blocking batch job was lost: what ran there fails over by region, a
   * finished sink whose final commit it held re-runs, and its slots are replaced. The stored
   * output of finished tasks is not on the TM, so nothing upstream re-runs.
   */
  private regionsLost(run: JobRun, tmId: string, cause: string, ctx: ActorContext): void {
    const failed: TaskRun[] = [];
    for (const task of run.tasks.values()) {
      if (task.tmId !== tmId) continue;
      const before = run.stateOf(task);
      run.sendTask(task, { type: 'TM_LOST', cause });
      if (run.stateOf(task) !== before || (before === 'FINISHED' && task.holdsCommit)) failed.push(task);
    }
    run.slots = run.slots.map((slot) => (slot?.tmId === tmId ? undefined : slot));
    const live = failed.filter((task) => !run.failedRegions.has(run.regionOf(task)!));
    if (live.length > 0) this.regionsFailed(run, live, cause, ctx);
    this.replaceSlots(run, ctx);
    this.settle(run, ctx);
  }

  /** Asks for as many slots as lost ones that still have work; one pending request at a time, replaced when the need changes. */
  private replaceSlots(run: JobRun, ctx: ActorContext): void {
    const missing = run.status === 'RUNNING' ? run.slots.filter((slot, index) => slot === undefined && run.needsSlot(index)).length : 0;
    if (missing === run.replacementSlots) return;
    if (run.slotRequestId) ctx.tell<SchedulerMessage>(this.subjects.scheduler, { type: 'cancel-request', requestId: run.slotRequestId });
    run.slotRequestId = undefined;
    run.replacementSlots = missing;
    if (missing === 0) return;
    run.slotRequestId = `${run.jobId}/slots/${run.attempt}/${randomBytes(3).toString('hex')}`;
    ctx.tell<SchedulerMessage>(this.subjects.scheduler, {
      type: 'request-slots', requestId: run.slotRequestId, jobId: run.jobId, count: missing,
      timeoutMs: this.settings.slotWaitMs, replyTo: this.subjects.jobManager,
    });
  }

  /** Failed regions whose delay passed and whose tasks are all down: fresh tasks, deployed where their producers' output is readable. */
  private restartRegions(run: JobRun, ctx: ActorContext): void {
    let reset = false;
    for (const [region, { due }] of [...run.failedRegions]) {
      if (!due || !region.tasks.every((t) => isTerminalTaskState(run.stateOf(run.task(t.vertexId, t.subtask)!)))) continue;
      run.failedRegions.delete(region);
      run.resetRegion(region);
      reset = true;
    }
    if (reset) this.deployStartable(run, ctx);
    this.replaceSlots(run, ctx);
  }

  private taskStatus(msg: Extract<JobManagerMessage, { type: 'task-status' }>, ctx: ActorContext): void {
    const run = this.jobs.get(msg.jobId);
    const task = run?.task(msg.vertexId, msg.subtask);
    if (!run || !task || msg.attempt !== run.attempt || (msg.execution ?? 0) !== task.execution) return;
    if (msg.metrics) run.recordMetrics(msg.metrics);
    switch (msg.state) {
      case 'INITIALIZING': run.sendTask(task, { type: 'INITIALIZE' }); break;
      case 'RUNNING': run.sendTask(task, { type: 'RUN' }); break;
      case 'FINISHED':
        run.sendTask(task, { type: 'FINISH' });
        if (msg.collected) run.recordCollected(msg.vertexId, msg.subtask, msg.collected);
        task.holdsCommit = msg.holdsCommit;
        if (run.regions && run.status === 'RUNNING') this.deployStartable(run, ctx);
        break;
      case 'CANCELED': run.sendTask(task, { type: 'CANCELED' }); break;
      case 'FAILED': {
        const cause = msg.error?.message ?? 'the task failed';
        const before = run.stateOf(task);
        run.sendTask(task, { type: 'FAIL', cause });
        if (!run.regions) this.failJob(run, cause, ctx);
        // A task failing while its region is being cancelled is the cancellation's doing.
        else if (before !== 'CANCELING' && !run.failedRegions.has(run.regionOf(task)!)) this.regionsFailed(run, [task], cause, ctx);
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
    run.coordinator.stop('the job is being cancelled');
    if (run.status === 'CANCELLING' || run.status === 'CANCELED') this.cancelTasks(run, ctx);
    return { state: run.status };
  }

  /** A final commit that cannot happen: the job restarts from its checkpoint, so nothing is lost (FINISHED means committed). */
  private commitLost(run: JobRun, tmId: string, reason: string, ctx: ActorContext): void {
    run.committing = undefined;
    this.failJob(run, `the final commit on task manager ${tmId} failed: ${reason}`, ctx);
  }

  /** Fails a job that is still alive, then cancels whatever of it still runs. */
  private failJob(run: JobRun, cause: string, ctx: ActorContext): void {
    if (run.status !== 'CREATED' && run.status !== 'RUNNING' && run.status !== 'RESTARTING') return;
    run.send({ type: 'TASK_FAILED', cause });
    run.coordinator.stop(`the job is failing: ${cause}`);
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
    if (run.regions && run.status === 'RUNNING') this.restartRegions(run, ctx);
    // A savepoint being written when the last task finishes (stop-with-savepoint) completes first;
    // then the sinks' final commits run, and only once every TM has committed is the job FINISHED.
    if (run.status === 'RUNNING' && run.every((s) => s === 'FINISHED') && !run.coordinator.persisting) {
      if (!run.committing) this.commitJob(run, ctx);
      else if (run.committing.size === 0) {
        run.coordinator.stop('the job finished');
        run.send({ type: 'ALL_TASKS_FINISHED' });
      }
    }
    if ((run.status === 'FAILING' || run.status === 'CANCELLING') && run.allTasksTerminal) {
      run.send({ type: 'ALL_TASKS_TERMINATED', now: ctx.clock.now(), random: Math.random() });
      if (run.isRestarting) {
        this.releaseSlots(run, ctx);
        const at = restartDeadline(run.machine.getSnapshot()) ?? ctx.clock.now();
        const attempt = run.attempt;
        const timer = ctx.clock.setTimeout(() => {
          run.timers.delete(timer);
          this.system.tell(this.subjects.jobManager, { type: 'restart-due', jobId: run.jobId, attempt });
        }, Math.max(0, at - ctx.clock.now()));
        run.timers.add(timer);
      }
    }
    if (run.isTerminal) this.endJob(run, ctx);
  }

  /** Asks the TMs that hold final commits of finished sinks to run them. */
  private commitJob(run: JobRun, ctx: ActorContext): void {
    const hosts = new Set([...run.tasks.values()].flatMap((t) => (t.holdsCommit && t.tmId ? [t.tmId] : [])));
    run.committing = new Set(hosts);
    const { jobId, attempt } = run;
    for (const tmId of hosts) {
      ctx.ask(this.subjects.taskManager(tmId), { type: 'commit-job', jobId }, 30_000)
        .then(() => this.system.tell(this.subjects.jobManager, { type: 'job-committed', jobId, attempt, tmId }))
        .catch((error: unknown) => this.system.tell(this.subjects.jobManager,
          { type: 'commit-failed', jobId, attempt, tmId, error: CloudflinkError.toWire(error) }));
    }
    this.settle(run, ctx);
  }

  private releaseSlots(run: JobRun, ctx: ActorContext): void {
    if (run.slotsReleased) return;
    run.slotsReleased = true;
    ctx.tell<SchedulerMessage>(this.subjects.scheduler, { type: 'release-slots', jobId: run.jobId });
  }

  /** A job that ended: its slots back, its timers gone, its coordinator stopped. */
  private endJob(run: JobRun, ctx?: ActorContext): void {
    run.coordinator?.stop('the job ended');
    for (const timer of run.timers) this.system.clock.clearTimeout(timer);
    run.timers.clear();
    if (ctx && run.regions && run.isTerminal && !run.shuffleDiscarded) {
      run.shuffleDiscarded = true;
      this.discardShuffle(run, ctx);
    }
    if (ctx && run.slotRequestId) {
      // Slots asked for to replace lost ones, which the job no longer needs.
      ctx.tell<SchedulerMessage>(this.subjects.scheduler, { type: 'cancel-request', requestId: run.slotRequestId });
      run.slotRequestId = undefined;
    }
    if (ctx) this.releaseSlots(run, ctx);
  }

  /** What the stages of a blocking batch job exchanged: of every attempt once it ended, else of the attempts before this one. */
  private discardShuffle(run: JobRun, ctx: ActorContext): void {
    const before = run.isTerminal ? undefined : run.attempt;
    this.settings.shuffle?.discard(run.jobId, before)
      .catch((error: unknown) => ctx.log.warn({ err: error, jobId: run.jobId }, 'cannot delete the stored output of the job\'s stages'));
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
    this.taskManagers.set(tmId, { tmId, incarnation, slots, usedSlots: 0, lastHeartbeat: ctx.clock.now(), offered: false });
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
    if (!tm.offered) {
      tm.offered = true;
      ctx.tell<SchedulerMessage>(this.subjects.scheduler, { type: 'tm-added', tmId: tm.tmId, slots: tm.slots });
    }
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
      if (run.regions) {
        this.regionsLost(run, tmId, cause, ctx);
        continue;
      }
      let hit = false;
      for (const task of run.tasks.values()) {
        if (task.tmId === tmId) {
          const before = run.stateOf(task);
          run.sendTask(task, { type: 'TM_LOST', cause });
          hit ||= run.stateOf(task) !== before;
        }
      }
      if (hit) this.failJob(run, cause, ctx);
      else if (run.committing?.has(tmId)) this.commitLost(run, tmId, cause, ctx);
      this.settle(run, ctx);
    }
  }

  private async clusterView(ctx: ActorContext): Promise<ClusterView> {
    const view = await ctx.ask<SchedulerView>(this.subjects.scheduler, { type: 'view' });
    const now = ctx.clock.now();
    const taskManagers = [...this.taskManagers.values()].map((tm) => {
      const used = view.taskManagers.find((t) => t.tmId === tm.tmId)?.used.length ?? 0;
      return { tmId: tm.tmId, slots: tm.slots, freeSlots: tm.offered ? tm.slots - used : 0, lastHeartbeatMsAgo: now - tm.lastHeartbeat };
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

/** A job whose tasks are being placed and deployed: its first run, or a restart. */
function isStarting(run: JobRun): boolean {
  return run.status === 'CREATED' || run.status === 'RESTARTING';
}
