import { createActor, type Actor } from 'xstate';
import type { ResolvedJob } from '../../lib/descriptor/types.ts';
import type { JobResult, JobSummary, VertexMetrics } from '../../lib/client/types.ts';
import type { JobStatus, LifecycleEvent, TaskState } from '../../lib/events/types.ts';
import { TERMINAL_JOB_STATES } from '../../lib/events/types.ts';
import type { Logger } from '../../lib/log/index.ts';
import { jobMachine, jobStatusOf, type JobMachineEvent } from './job.machine.ts';
import { isTerminalTaskState, taskMachine, taskStateOf, type TaskMachineEvent } from '../operator/task.machine.ts';
import type { TaskMetrics } from './protocol.ts';

export interface TaskRun {
  vertexId: string;
  subtask: number;
  machine: Actor<typeof taskMachine>;
  tmId?: string;
}

/**
 * What the Job Manager knows of one job: its machine, one machine per subtask, metrics and
 * results. Every state change of a machine is published as a lifecycle event, in order.
 */
export class JobRun {
  readonly machine: Actor<typeof jobMachine>;
  readonly tasks = new Map<string, TaskRun>();
  readonly metrics = new Map<string, TaskMetrics>();
  readonly collected: Record<string, unknown[]> = {};
  readonly submittedAt: string;
  endedAt?: string;
  slotRequestId?: string;
  /** TMs whose deploy reply has not arrived yet. */
  readonly pendingDeploys = new Set<string>();
  slotsReleased = false;

  constructor(readonly jobId: string, readonly job: ResolvedJob, private readonly publish: (event: LifecycleEvent) => void, log: Logger) {
    this.submittedAt = new Date().toISOString();
    this.machine = createActor(jobMachine, { input: { jobId, jobName: job.name } });
    this.watchJob(log);
    for (const vertex of job.vertices) {
      for (let subtask = 0; subtask < vertex.parallelism; subtask++) {
        const machine = createActor(taskMachine, { input: { jobId, vertexId: vertex.id, subtask } });
        const task: TaskRun = { vertexId: vertex.id, subtask, machine };
        this.watchTask(task, vertex.name, vertex.parallelism, log);
        this.tasks.set(taskKey(vertex.id, subtask), task);
      }
    }
  }

  get status(): JobStatus {
    return jobStatusOf(this.machine.getSnapshot());
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

  summary(): JobSummary {
    return { jobId: this.jobId, name: this.job.name, state: this.status, submittedAt: this.submittedAt, endedAt: this.endedAt, cause: this.cause };
  }

  result(): JobResult {
    const vertices: VertexMetrics[] = this.job.vertices.map((v) => {
      let recordsIn = 0;
      let recordsOut = 0;
      for (let subtask = 0; subtask < v.parallelism; subtask++) {
        const m = this.metrics.get(taskKey(v.id, subtask));
        recordsIn += m?.recordsIn ?? 0;
        recordsOut += m?.recordsOut ?? 0;
      }
      return { vertexId: v.id, name: v.name, parallelism: v.parallelism, recordsIn, recordsOut };
    });
    const durationMs = this.endedAt ? Date.parse(this.endedAt) - Date.parse(this.submittedAt) : undefined;
    return { ...this.summary(), durationMs, vertices, collected: this.collected };
  }

  stop(): void {
    this.machine.stop();
    for (const task of this.tasks.values()) task.machine.stop();
  }

  private watchJob(log: Logger): void {
    let previous: JobStatus | null = null;
    this.machine.subscribe({
      next: (snapshot) => {
        const to = jobStatusOf(snapshot);
        if (to === previous) return;
        if (TERMINAL_JOB_STATES.includes(to)) this.endedAt = new Date().toISOString();
        this.publish({ type: 'job.state', jobId: this.jobId, jobName: this.job.name, from: previous, to, cause: snapshot.context.cause, at: new Date().toISOString() });
        log.info({ jobId: this.jobId, from: previous, to, cause: snapshot.context.cause }, `job ${to}`);
        previous = to;
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

export function taskKey(vertexId: string, subtask: number): string {
  return `${vertexId}/${subtask}`;
}
