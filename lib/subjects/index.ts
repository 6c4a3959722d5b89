/**
 * The public wire contract: every subject the cluster uses, in one place (the README's
 * subject table is this file). All start with `<prefix>.<clusterId>`, `cf.default` by default.
 */
export class Subjects {
  readonly base: string;

  constructor(base = 'cf.default') {
    this.base = base;
  }

  get submit(): string { return `${this.base}.jobs.submit`; }
  get jobManager(): string { return `${this.base}.jm`; }
  get scheduler(): string { return `${this.base}.sched`; }
  taskManager(tmId: string): string { return `${this.base}.tm.${tmId}`; }
  heartbeat(tmId: string): string { return `${this.base}.hb.${tmId}`; }
  get heartbeats(): string { return `${this.base}.hb.*`; }
  task(jobId: string, vertexId: string, subtask: number): string { return `${this.base}.task.${jobId}.${vertexId}.${subtask}`; }
  data(jobId: string, edgeIndex: number, subtask: number): string { return `${this.base}.data.${jobId}.e${edgeIndex}.${subtask}`; }
  jobEvents(jobId: string): string { return `${this.base}.events.job.${jobId}`; }
  taskEvents(jobId: string, vertexId: string, subtask: number): string { return `${this.base}.events.task.${jobId}.${vertexId}.${subtask}`; }
  tmEvents(tmId: string): string { return `${this.base}.events.tm.${tmId}`; }
  checkpointEvents(jobId: string): string { return `${this.base}.events.checkpoint.${jobId}`; }
  get allEvents(): string { return `${this.base}.events.>`; }

  /** The JetStream stream that retains lifecycle events for late monitors. */
  get eventStream(): string { return `CF_EVENTS_${this.base.replace(/[^A-Za-z0-9_-]/g, '_')}`; }
}
