import { isBlocking, isChained } from '../../lib/descriptor/graph.ts';
import type { ResolvedEdge, ResolvedJob } from '../../lib/descriptor/types.ts';

export interface TaskRef {
  vertexId: string;
  subtask: number;
}

/**
 * A pipelined region (Flink's failover region): tasks joined by edges that stream, which run,
 * fail and re-run together. Edges that store their data (`isBlocking`) separate regions: a
 * region starts once every producer it reads finished, and a re-run reads their stored output
 * again instead of running them again.
 */
export interface Region {
  index: number;
  tasks: TaskRef[];
  /** The tasks whose stored output this region reads. */
  producers: TaskRef[];
}

/** The job's regions, in the order of their first vertex's declaration. */
export function pipelinedRegions(job: ResolvedJob): Region[] {
  const parallelism = new Map(job.vertices.map((v) => [v.id, v.parallelism]));
  const roots = new Map<string, string>();
  const root = (key: string): string => {
    let at = key;
    while (roots.get(at) !== at) at = roots.get(at)!;
    roots.set(key, at);
    return at;
  };
  const join = (a: string, b: string): void => { roots.set(root(a), root(b)); };
  for (const vertex of job.vertices) for (let s = 0; s < vertex.parallelism; s++) roots.set(taskKey(vertex.id, s), taskKey(vertex.id, s));
  for (const edge of job.edges) {
    if (isBlocking(job, edge)) continue;
    for (const [from, to] of links(job, edge, parallelism)) join(taskKey(edge.from, from), taskKey(edge.to, to));
  }

  const regions = new Map<string, Region>();
  for (const vertex of job.vertices) {
    for (let subtask = 0; subtask < vertex.parallelism; subtask++) {
      const id = root(taskKey(vertex.id, subtask));
      let region = regions.get(id);
      if (!region) regions.set(id, region = { index: regions.size, tasks: [], producers: [] });
      region.tasks.push({ vertexId: vertex.id, subtask });
    }
  }
  for (const edge of job.edges) {
    if (!isBlocking(job, edge)) continue;
    for (const [from, to] of links(job, edge, parallelism)) {
      const region = regions.get(root(taskKey(edge.to, to)))!;
      if (!region.producers.some((p) => p.vertexId === edge.from && p.subtask === from)) region.producers.push({ vertexId: edge.from, subtask: from });
    }
  }
  return [...regions.values()];
}

/**
 * Which producer subtask reaches which consumer subtask over an edge: one to one when chained;
 * else every pair, a forward edge too, for every channel carries the end of input.
 */
function links(job: ResolvedJob, edge: ResolvedEdge, parallelism: Map<string, number>): [number, number][] {
  const from = parallelism.get(edge.from)!;
  const to = parallelism.get(edge.to)!;
  if (isChained(job, edge)) return Array.from({ length: from }, (_, s) => [s, s]);
  return Array.from({ length: from * to }, (_, i) => [Math.floor(i / to), i % to]);
}

export function taskKey(vertexId: string, subtask: number): string {
  return `${vertexId}/${subtask}`;
}
