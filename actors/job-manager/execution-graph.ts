import { isBatchOperator, isBlocking, isChained } from '../../lib/descriptor/graph.ts';
import type { ResolvedJob } from '../../lib/descriptor/types.ts';
import type { JobRun } from './job-run.ts';
import { taskKey } from './regions.ts';
import type { SlotRef } from '../scheduler/protocol.ts';
import type { ChannelSpec, NetworkSettings, TaskDeployment } from '../operator/protocol.ts';

/**
 * The execution graph: every vertex × subtask (or only `only`'s), with its channels and its
 * slot (slot i runs subtask i).
 */
export function buildDeployments(
  run: JobRun, slots: readonly (SlotRef | undefined)[], network: NetworkSettings, collectLimit: number, only?: ReadonlySet<string>,
): (TaskDeployment & { tmId: string })[] {
  const { jobId, job } = run;
  const parallelismOf = new Map(job.vertices.map((v) => [v.id, v.parallelism]));
  // A slot runs a subtask of every vertex (slot sharing): its batch operators share its memory.
  const batchVertices = job.vertices.filter((v) => isBatchOperator(v.operator)).length;
  const memoryBytes = job.batch && batchVertices > 0 ? Math.floor(job.batch.memoryPerSlotBytes / batchVertices) : undefined;
  return job.vertices.flatMap((vertex) => {
    const inputs: ChannelSpec[] = [];
    const outputs: ChannelSpec[] = [];
    job.edges.forEach((edge, edgeIndex) => {
      const chained = {
        ...(isChained(job, edge) ? { chained: true as const } : {}), ...(isBlocking(job, edge) ? { blocking: true as const } : {}), ...(edge.input ? { input: edge.input } : {}), ...(edge.tag ? { tag: edge.tag } : {}),
      };
      if (edge.to === vertex.id) {
        const peerParallelism = parallelismOf.get(edge.from)!;
        const producerExecutions = isBlocking(job, edge) ? Array.from({ length: peerParallelism }, (_, s) => run.task(edge.from, s)!.execution) : undefined;
        inputs.push({ edgeIndex, peerVertexId: edge.from, peerParallelism, partition: edge.partition, key: edge.key, ...chained, ...(producerExecutions ? { producerExecutions } : {}) });
      }
      if (edge.from === vertex.id) {
        outputs.push({ edgeIndex, peerVertexId: edge.to, peerParallelism: parallelismOf.get(edge.to)!, partition: edge.partition, key: edge.key, ...chained });
      }
    });
    const restore = run.restoreSpec(vertex.id);
    const subtasks = Array.from({ length: vertex.parallelism }, (_, subtask) => subtask).filter((subtask) => !only || only.has(taskKey(vertex.id, subtask)));
    return subtasks.map((subtask) => ({
      jobId,
      jobName: job.name,
      attempt: run.attempt,
      execution: run.task(vertex.id, subtask)!.execution,
      checkpointing: { enabled: job.checkpointing.enabled, mode: job.checkpointing.mode },
      restore,
      vertex,
      subtask,
      slot: slots[subtask]!.slot,
      tmId: slots[subtask]!.tmId,
      maxParallelism: job.maxParallelism,
      inputs,
      outputs,
      network,
      collectLimit,
      ...(memoryBytes !== undefined && isBatchOperator(vertex.operator) ? { memoryBytes } : {}),
    }));
  });
}

/** With slot sharing, a job needs as many slots as its widest vertex. */
export function slotsNeeded(job: ResolvedJob): number {
  return Math.max(...job.vertices.map((v) => v.parallelism));
}
