/**
 * What `cloudflink run --wait` prints each second while a job runs. A batch job runs in
 * stages: a blocking operator (a sort, a grouping, a join) emits only once its input ended, so
 * what follows it is the next stage. The line says which stage runs, how many records the
 * sources read, and how far through them that is when their size is known.
 */
import type { JobResult } from '../client/index.ts';
import { isBatchOperator, isSource } from '../descriptor/graph.ts';
import type { JobDescriptor, VertexDescriptor } from '../descriptor/types.ts';
import type { LifecycleEvent } from '../events/types.ts';

export class Progress {
  private readonly stageOf = new Map<string, number>();
  private readonly stages: number;
  /** Per vertex, the subtasks that finished (in this attempt: a restart starts them again). */
  private readonly finished = new Map<string, Set<number>>();

  constructor(private readonly descriptor: JobDescriptor) {
    const vertices = new Map(descriptor.vertices.map((v) => [v.id, v]));
    const stage = (id: string, seen = new Set<string>()): number => {
      const known = this.stageOf.get(id);
      if (known !== undefined) return known;
      // A cycle is refused at submission; `seen` only keeps a bad descriptor from looping here.
      if (seen.has(id)) return 1;
      seen.add(id);
      const inputs = descriptor.edges.filter((e) => e.to === id).map((e) => vertices.get(e.from)).filter((v): v is VertexDescriptor => v !== undefined);
      const value = Math.max(1, ...inputs.map((input) => stage(input.id, seen) + (blocks(input) ? 1 : 0)));
      this.stageOf.set(id, value);
      return value;
    };
    for (const v of descriptor.vertices) stage(v.id);
    this.stages = Math.max(1, ...this.stageOf.values());
  }

  /** Follows the tasks' lifecycle events. */
  onEvent(event: LifecycleEvent): void {
    if (event.type === 'job.state' && event.to === 'RESTARTING') this.finished.clear();
    // A region that fails over runs again, finished subtasks of it too.
    if (event.type === 'job.failover') for (const task of event.tasks) this.finished.get(task.vertexId)?.delete(task.subtask);
    if (event.type !== 'task.state' || event.to !== 'FINISHED') return;
    const done = this.finished.get(event.vertexId) ?? new Set<number>();
    done.add(event.subtask);
    this.finished.set(event.vertexId, done);
  }

  line(status: JobResult): string {
    const perVertex = status.vertices.map((v) => `${v.name} in ${v.recordsIn} out ${v.recordsOut}`).join(' | ');
    if (this.descriptor.mode !== 'batch') return `[${status.state}] ${perVertex}`;
    const running = this.currentStage(status);
    const names = status.vertices.filter((v) => this.stageOf.get(v.vertexId) === running).map((v) => v.name).join(', ');
    const read = status.vertices.filter((v) => this.isSource(v.vertexId)).reduce((sum, v) => sum + v.recordsOut, 0);
    const total = this.sourceRecords();
    const percent = total === undefined || total === 0 ? '' : ` (${Math.min(100, Math.floor((100 * read) / total))} %)`;
    return `[${status.state}] stage ${running} of ${this.stages}: ${names} · read ${read.toLocaleString('en-US')} records${percent} · ${perVertex}`;
  }

  /** The first stage with a vertex not finished on every subtask. */
  private currentStage(status: JobResult): number {
    for (let stage = 1; stage <= this.stages; stage++) {
      const open = status.vertices.some((v) => this.stageOf.get(v.vertexId) === stage && (this.finished.get(v.vertexId)?.size ?? 0) < v.parallelism);
      if (open) return stage;
    }
    return this.stages;
  }

  private isSource(vertexId: string): boolean {
    const vertex = this.descriptor.vertices.find((v) => v.id === vertexId);
    return vertex !== undefined && isSource(vertex.operator);
  }

  /** How many records the sources hold, when every one of them says: not for files, whose size is in bytes. */
  private sourceRecords(): number | undefined {
    let total = 0;
    for (const v of this.descriptor.vertices) {
      if (v.operator === 'source.elements') total += v.elements.length;
      else if (v.operator === 'source.generator') total += v.count;
      else if (v.operator === 'source.nexmark') total += v.events;
      else if (isSource(v.operator)) return undefined;
    }
    return total;
  }
}

/** Whether what follows a vertex waits for all of its input: a batch operator other than the combiner. */
function blocks(vertex: VertexDescriptor): boolean {
  return isBatchOperator(vertex.operator) && vertex.operator !== 'batch.combine';
}
