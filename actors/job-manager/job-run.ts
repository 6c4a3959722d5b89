import { createActor, type Actor, type Snapshot } from 'xstate';
import type { ResolvedJob } from '../../lib/descriptor/types.ts';
import type { JobResult, JobSummary, VertexMetrics } from '../../lib/client/types.ts';
import type { JobStatus, LifecycleEvent, TaskState } from '../../lib/events/types.ts';
import { TERMINAL_JOB_STATES } from '../../lib/events/types.ts';
import type { Logger } from '../../lib/log/index.ts';
import { jobMachine, jobStatusOf, type JobMachineEvent, type JobMachineSnapshot } from './job.machine.ts';
import { isTerminalTaskState, taskMachine, taskStateOf, type TaskMachineEvent } from '../operator/task.machine.ts';
import type { CheckpointMetadata } from '../../lib/checkpoint/types.ts';
import type { RestoreSpec } from '../operator/protocol.ts';
import { encode } from '../../lib/codec/index.ts';
import { pipelinedRegions, taskKey, type Region, type TaskRef } from './regions.ts';
import type { SlotRef } from '../scheduler/protocol.ts';

/** A page of collected records: well under NATS's default 1 MB message. */
const PAGE_BYTES = 256 * 1024;
import type { CheckpointCoordinator } from './checkpoint-coordinator.ts';
import type { StoredJob } from './job-store.ts';
import type { TaskMetrics } from './protocol.ts';


const SUMMED = ['recordsIn', 'recordsOut', 'framesIn', 'framesLost', 'framesOut', 'busyMs', 'backpressuredMs', 'queuedFrames'] as const;
export interface TaskRun {
  vertexId: string;
  subtask: number;
  /** 0, then one more each time its region re-runs alone within the attempt. */
  execution: number;
  machine: Actor<typeof taskMachine>;
  tmId?: string;
  /** It finished, and its Task Manager holds its sink's final commit: losing that TM loses the output. */
  holdsCommit?: boolean;
}

/**
 * What the Job Manager knows of one job: its machine, one machine per subtask, metrics and
 * results. Every state change of a machine is published as a lifecycle event, in order.
 */
export class JobRun {
  readonly machine: Actor<typeof jobMachine>;
  readonly tasks = new Map<string, TaskRun>();
  readonly metrics = new Map<string, TaskMetrics>();
  /** What each collect sink subtask gathered: a subtask that runs again replaces its own. */
  private readonly collectedByTask = new Map<string, { vertexId: string; subtask: number; records: unknown[] }>();
  /** Each collect sink's records, in subtask order; built when asked for. */
  private readonly collectedByVertex = new Map<string, unknown[]>();
  /** The stored output of the job's stages is deleted (it ended): once. */
  shuffleDiscarded = false;
  readonly submittedAt: string;
  endedAt?: string;
  slotRequestId?: string;
  /** TMs whose deploy reply has not arrived yet. */
  readonly pendingDeploys = new Set<string>();
  slotsReleased = false;
  /** The restart is due but waits for a checkpoint being written to settle. */
  restartWhenSettled = false;
  /** Every task finished: the TMs still running the final commits of the sinks. Undefined before that phase. */
  committing?: Set<string>;
  /** 0 for the first run, one more per restart; messages of other attempts are stale. */
  attempt = 0;
  coordinator!: CheckpointCoordinator;
  /** Timers (checkpoints, restart) that die with the job. */
  readonly timers = new Set<ReturnType<typeof setTimeout> | { readonly id: number }>();
  /**
   * A blocking batch job runs region by region, each on the slot of its subtask index, and a
   * failed region re-runs alone; undefined for a job that runs and restarts as a whole.
   */
  readonly regions?: Region[];
  /** Each task's region, by taskKey: looked up on every report of a blocking batch job. */
  private readonly regionByTask = new Map<string, Region>();
  /** Slot i runs subtask i; a slot lost with its Task Manager is undefined until a new one is granted. */
  slots: (SlotRef | undefined)[] = [];
  /** Slots asked for in place of lost ones, while that request is pending. */
  replacementSlots = 0;
  /** Regions failed and waiting to re-run: `due` once the restart delay passed; they re-run when their tasks are down too. */
  readonly failedRegions = new Map<Region, { due: boolean }>();

  constructor(
    readonly jobId: string,
    readonly job: ResolvedJob,
    private readonly publish: (event: LifecycleEvent) => void,
    private readonly log: Logger,
    /** The savepoint (or checkpoint) the job was submitted to start from. */
    readonly restoreFrom?: { pointer: string; metadata: CheckpointMetadata },
    /** A job a restarted Job Manager takes over: its machine as recorded, and the state it was in. */
    resumed?: { snapshot: JobMachineSnapshot; previous: JobStatus; submittedAt: string; endedAt?: string },
  ) {
    this.submittedAt = resumed?.submittedAt ?? new Date().toISOString();
    if (job.batch?.shuffle === 'blocking') {
      this.regions = pipelinedRegions(job);
      for (const region of this.regions) for (const t of region.tasks) this.regionByTask.set(taskKey(t.vertexId, t.subtask), region);
    }
    this.endedAt = resumed?.endedAt;
    const input = { jobId, jobName: job.name, restartStrategy: job.restartStrategy };
    this.machine = createActor(jobMachine, resumed ? { snapshot: resumed.snapshot as Snapshot<unknown>, input } : { input });
    this.watchJob(log, resumed?.previous ?? null);
    // A resumed job gets its tasks when it restarts; an ended one keeps only its record.
    if (!resumed) this.createTasks();
  }

  /** Called after every change worth keeping (state, checkpoint): the Job Manager persists the job. */
  onChange: (run: JobRun) => void = () => undefined;

  /** A restart: fresh task machines (they start again at CREATED), counters from zero. */
  newAttempt(): void {
    for (const task of this.tasks.values()) task.machine.stop();
    this.tasks.clear();
    this.metrics.clear();
    this.collectedByTask.clear();
    this.collectedByVertex.clear();
    this.pendingDeploys.clear();
    this.committing = undefined;
    this.failedRegions.clear();
    this.slots = [];
    this.replacementSlots = 0;
    this.attempt++;
    this.createTasks();
  }

  /** Where a vertex's subtasks restore from: the latest completed checkpoint, else the savepoint the job started from. */
  restoreSpec(vertexId: string): RestoreSpec | undefined {
    const from = this.coordinator?.latest ?? this.restoreFrom;
    const vertex = from?.metadata.vertices[vertexId];
    if (!from || !vertex) return undefined;
    return { jobId: from.metadata.jobId, checkpointId: from.metadata.checkpointId, handles: vertex.handles };
  }

  private createTasks(): void {
    for (const vertex of this.job.vertices) {
      for (let subtask = 0; subtask < vertex.parallelism; subtask++) this.createTask(vertex.id, subtask, 0);
    }
  }

  private createTask(vertexId: string, subtask: number, execution: number): void {
    const vertex = this.job.vertices.find((v) => v.id === vertexId)!;
    const machine = createActor(taskMachine, { input: { jobId: this.jobId, vertexId, subtask } });
    const task: TaskRun = { vertexId, subtask, execution, machine };
    this.watchTask(task, vertex.name, vertex.parallelism, this.log);
    this.tasks.set(taskKey(vertexId, subtask), task);
  }

  regionOf(task: TaskRef): Region | undefined {
    return this.regionByTask.get(taskKey(task.vertexId, task.subtask));
  }

  /**
   * Regions that can be deployed now: not started, every slot there, and every region they read
   * from finished as a whole (a region that re-ran would rewrite what they read).
   */
  startableRegions(): Region[] {
    const finished = (region: Region): boolean => region.tasks.every((t) => this.stateOf(this.task(t.vertexId, t.subtask)!) === 'FINISHED');
    return (this.regions ?? []).filter((region) => !this.failedRegions.has(region) &&
      region.tasks.every((t) => this.stateOf(this.task(t.vertexId, t.subtask)!) === 'CREATED' && this.slots[t.subtask] !== undefined) &&
      region.producers.every((p) => finished(this.regionOf(p)!)));
  }

  /** Regions reading the stored output of `region`. */
  consumersOf(region: Region): Region[] {
    return (this.regions ?? []).filter((r) => r.producers.some((p) => region.tasks.some((t) => t.vertexId === p.vertexId && t.subtask === p.subtask)));
  }

  /** Whether the slot of subtask index `index` still has work: a task there not finished, or one to run again. */
  needsSlot(index: number): boolean {
    return (this.regions ?? []).some((region) => region.tasks.some((t) => t.subtask === index) &&
      (this.failedRegions.has(region) || region.tasks.some((t) => this.stateOf(this.task(t.vertexId, t.subtask)!) !== 'FINISHED')));
  }

  /** A region about to re-run: fresh task machines (CREATED again), one execution later. */
  resetRegion(region: Region): void {
    for (const { vertexId, subtask } of region.tasks) {
      const old = this.task(vertexId, subtask)!;
      old.machine.stop();
      this.metrics.delete(taskKey(vertexId, subtask));
      this.forgetCollected(vertexId, subtask);
      this.createTask(vertexId, subtask, old.execution + 1);
    }
  }

  get status(): JobStatus {
    return jobStatusOf(this.machine.getSnapshot());
  }

  get isRestarting(): boolean {
    return this.status === 'RESTARTING';
  }

  get isTerminal(): boolean {
    return TERMINAL_JOB_STATES.includes(this.status);
  }

  get cause(): string | undefined {
    return this.machine.getSnapshot().context.cause;
  }

  send(event: JobMachineEvent): void {
    this.machine.send(event);
  }

  task(vertexId: string, subtask: number): TaskRun | undefined {
    return this.tasks.get(taskKey(vertexId, subtask));
  }

  sendTask(task: TaskRun, event: TaskMachineEvent): void {
    task.machine.send(event);
  }

  stateOf(task: TaskRun): TaskState {
    return taskStateOf(task.machine.getSnapshot());
  }

  every(predicate: (state: TaskState) => boolean): boolean {
    for (const task of this.tasks.values()) if (!predicate(this.stateOf(task))) return false;
    return true;
  }

  get allTasksTerminal(): boolean {
    return this.every(isTerminalTaskState);
  }

  recordMetrics(metrics: TaskMetrics): void {
    this.metrics.set(taskKey(metrics.vertexId, metrics.subtask), metrics);
  }

  /** The record a restarted Job Manager resumes this job from. */
  stored(): StoredJob {
    const { context } = this.machine.getSnapshot();
    return {
      jobId: this.jobId, job: this.job, submittedAt: this.submittedAt, endedAt: this.endedAt, status: this.status, attempt: this.attempt,
      cause: context.cause, causes: context.causes, restartHistory: context.restartHistory,
      restoreFrom: this.restoreFrom?.pointer, latestCheckpoint: this.coordinator?.latest?.pointer,
    };
  }

  summary(): JobSummary {
    return { jobId: this.jobId, name: this.job.name, state: this.status, submittedAt: this.submittedAt, endedAt: this.endedAt, cause: this.cause };
  }

  result(): JobResult {
    const vertices: VertexMetrics[] = this.job.vertices.map((v) => {
      const sum: VertexMetrics = {
        vertexId: v.id, name: v.name, parallelism: v.parallelism, recordsIn: 0, recordsOut: 0, framesIn: 0, framesLost: 0, framesOut: 0,
        busyMs: 0, backpressuredMs: 0, queuedFrames: 0, peakQueuedFrames: 0, peakWaitingFrames: 0,
      };
      for (let subtask = 0; subtask < v.parallelism; subtask++) {
        const m = this.metrics.get(taskKey(v.id, subtask));
        if (!m) continue;
        for (const counter of SUMMED) sum[counter] += m[counter] ?? 0;
        sum.peakQueuedFrames = Math.max(sum.peakQueuedFrames, m.peakQueuedFrames ?? 0);
        sum.peakWaitingFrames = Math.max(sum.peakWaitingFrames, m.peakWaitingFrames ?? 0);
      }
      return sum;
    });
    const durationMs = this.endedAt ? Date.parse(this.endedAt) - Date.parse(this.submittedAt) : undefined;
    // The records themselves come by pages (collectedPage): all of them could pass NATS's message size.
    const collectedCounts: Record<string, number> = {};
    for (const { vertexId, records } of this.collectedByTask.values()) collectedCounts[vertexId] = (collectedCounts[vertexId] ?? 0) + records.length;
    return { ...this.summary(), durationMs, vertices, collected: {}, collectedCounts };
  }

  /** The records a collect sink gathered from `offset`, as many as fit in about PAGE_BYTES (at least one). */
  recordCollected(vertexId: string, subtask: number, records: unknown[]): void {
    this.collectedByTask.set(taskKey(vertexId, subtask), { vertexId, subtask, records });
    this.collectedByVertex.delete(vertexId);
  }

  private forgetCollected(vertexId: string, subtask: number): void {
    if (this.collectedByTask.delete(taskKey(vertexId, subtask))) this.collectedByVertex.delete(vertexId);
  }

  private collectedOf(vertexId: string): unknown[] {
    let all = this.collectedByVertex.get(vertexId);
    if (!all) {
      const parts = [...this.collectedByTask.values()].filter((c) => c.vertexId === vertexId).sort((a, b) => a.subtask - b.subtask);
      this.collectedByVertex.set(vertexId, all = parts.flatMap((c) => c.records));
    }
    return all;
  }

  collectedPage(vertexId: string, offset: number): { records: unknown[]; total: number } {
    const all = this.collectedOf(vertexId);
    const records: unknown[] = [];
    let bytes = 0;
    for (let i = offset; i < all.length; i++) {
      bytes += encode(all[i]).length;
      if (bytes > PAGE_BYTES && records.length > 0) break;
      records.push(all[i]);
    }
    return { records, total: all.length };
  }

  stop(): void {
    this.machine.stop();
    for (const task of this.tasks.values()) task.machine.stop();
  }

  private watchJob(log: Logger, initial: JobStatus | null): void {
    let previous: JobStatus | null = initial;
    this.machine.subscribe({
      next: (snapshot) => {
        const to = jobStatusOf(snapshot);
        if (to === previous) return;
        if (TERMINAL_JOB_STATES.includes(to)) this.endedAt ??= new Date().toISOString();
        this.publish({ type: 'job.state', jobId: this.jobId, jobName: this.job.name, from: previous, to, cause: snapshot.context.cause, at: new Date().toISOString() });
        log.info({ jobId: this.jobId, from: previous, to, cause: snapshot.context.cause }, `job ${to}`);
        previous = to;
        this.onChange(this);
      },
      error: (error) => log.error({ err: error, jobId: this.jobId }, 'job machine failed'),
    });
    this.machine.start();
  }

  private watchTask(task: TaskRun, vertexName: string, parallelism: number, log: Logger): void {
    let previous: TaskState | null = null;
    task.machine.subscribe({
      next: (snapshot) => {
        const to = taskStateOf(snapshot);
        if (to === previous) return;
        task.tmId = snapshot.context.tmId;
        this.publish({
          type: 'task.state', jobId: this.jobId, vertexId: task.vertexId, vertexName, subtask: task.subtask, parallelism,
          from: previous, to, tmId: snapshot.context.tmId, cause: snapshot.context.cause, at: new Date().toISOString(),
        });
        previous = to;
      },
      error: (error) => log.error({ err: error, jobId: this.jobId, vertexId: task.vertexId }, 'task machine failed'),
    });
    task.machine.start();
  }
}

export { taskKey };
