import type { OperatorName, ResolvedEdge, ResolvedJob } from './types.ts';

interface GraphShape {
  vertices: { id: string }[];
  edges: { from: string; to: string }[];
}

/**
 * Vertex ids with every vertex after all its upstream vertices (ties in declaration order),
 * or one cycle, listed in edge direction. Edges to unknown vertices are ignored.
 */
export function topologicalOrder(job: GraphShape): string[] | { cycle: string[] } {
  const ids = job.vertices.map((v) => v.id);
  const known = new Set(ids);
  const edges = job.edges.filter((e) => known.has(e.from) && known.has(e.to));
  const inDegree = new Map(ids.map((id) => [id, 0]));
  for (const e of edges) inDegree.set(e.to, inDegree.get(e.to)! + 1);

  const position = new Map(ids.map((id, i) => [id, i]));
  const order: string[] = [];
  const ready = ids.filter((id) => inDegree.get(id) === 0);
  while (ready.length > 0) {
    const id = ready.shift()!;
    order.push(id);
    for (const e of edges) {
      if (e.from !== id) continue;
      const left = inDegree.get(e.to)! - 1;
      inDegree.set(e.to, left);
      if (left === 0) ready.push(e.to);
    }
    ready.sort((a, b) => position.get(a)! - position.get(b)!);
  }
  if (order.length === known.size) return order;
  return { cycle: findCycle(ids.filter((id) => inDegree.get(id)! > 0), edges) };
}

// Every vertex left after Kahn's algorithm has an upstream vertex also left, so walking
// upstream from any of them must revisit one: the walk from that point is a cycle.
function findCycle(left: string[], edges: { from: string; to: string }[]): string[] {
  const remaining = new Set(left);
  const walk: string[] = [];
  let at = left[0]!;
  while (!walk.includes(at)) {
    walk.push(at);
    at = edges.find((e) => e.to === at && remaining.has(e.from))!.from;
  }
  const cycle = walk.slice(walk.indexOf(at)).reverse();
  // Start at the first-declared vertex so that the message is stable.
  const start = cycle.indexOf(left.find((id) => cycle.includes(id))!);
  return [...cycle.slice(start), ...cycle.slice(0, start)];
}

export function inputsOf(job: ResolvedJob, vertexId: string): ResolvedEdge[] {
  return job.edges.filter((e) => e.to === vertexId);
}

export function outputsOf(job: ResolvedJob, vertexId: string): ResolvedEdge[] {
  return job.edges.filter((e) => e.from === vertexId);
}

/**
 * Whether both ends of an edge run in one pass (Flink's chaining rule): a forward edge
 * between vertices of equal parallelism, into a vertex with no other input, unless the job
 * or either vertex turns chaining off. Slot sharing puts both ends in one slot. Between two
 * single-subtask vertices every partitioning is forward (there is one channel), so a keyBy
 * at parallelism 1 chains too; the keyed operator still keys each record itself.
 */
export function isChained(job: ResolvedJob, edge: ResolvedEdge): boolean {
  if (!job.operatorChaining) return false;
  const from = job.vertices.find((v) => v.id === edge.from)!;
  const to = job.vertices.find((v) => v.id === edge.to)!;
  const forward = edge.partition === 'forward' || (from.parallelism === 1 && to.parallelism === 1);
  return forward && from.parallelism === to.parallelism && !from.disableChaining && !to.disableChaining && !to.startNewChain &&
    inputsOf(job, to.id).length === 1;
}

/**
 * Whether an edge's data goes through storage rather than straight to a running consumer: in
 * a batch job with a blocking shuffle, every edge but a chained one. Its consumer starts once
 * the producer finished, and a failed consumer re-reads it instead of re-running the producer.
 */
export function isBlocking(job: ResolvedJob, edge: ResolvedEdge): boolean {
  return job.batch?.shuffle === 'blocking' && !isChained(job, edge);
}

export function isSource(operator: OperatorName): boolean {
  return operator.startsWith('source.');
}

export function isSink(operator: OperatorName): boolean {
  return operator.startsWith('sink.');
}

/** Operators with two inputs told apart by the edges' `input`: 1 and 2. */
export function isTwoInput(operator: OperatorName): boolean {
  return TWO_INPUT.has(operator);
}

const TWO_INPUT: ReadonlySet<OperatorName> = new Set([
  'coMap', 'coFlatMap', 'coProcess', 'windowJoin', 'intervalJoin', 'broadcastProcess', 'batch.join', 'batch.coGroup', 'batch.cross', 'batch.rangePartition',
]);

/** Operators whose functions may emit to side outputs (`ctx.output(tag, value)`, or late data). */
export function hasSideOutputs(operator: OperatorName): boolean {
  return SIDE_OUTPUTS.has(operator);
}

const SIDE_OUTPUTS: ReadonlySet<OperatorName> = new Set(['process', 'coProcess', 'window', 'intervalJoin', 'broadcastProcess', 'eventTimeSort']);

const KEYED: ReadonlySet<OperatorName> = new Set(['reduce', 'sum', 'min', 'max', 'minBy', 'maxBy', 'coProcess', 'windowJoin', 'intervalJoin']);

/** Operators that keep state per key, so their every input must be partitioned by key. */
export function isKeyed(operator: OperatorName): boolean {
  return KEYED.has(operator);
}

/**
 * Operators keyed when their (first) input is a `hash` edge, as Flink's process functions and
 * windows on a keyed or a plain stream: a process function then gets keyed state and timers, a
 * window runs per key (else it sees the whole stream, at parallelism 1).
 */
export function isOptionallyKeyed(operator: OperatorName): boolean {
  return operator === 'process' || operator === 'window' || operator === 'broadcastProcess' || GROUPING.has(operator);
}

/** Batch operators that group by the key of their `hash` input, or take each subtask's whole partition as one group. */
const GROUPING: ReadonlySet<OperatorName> = new Set([
  'batch.reduce', 'batch.reduceGroup', 'batch.aggregate', 'batch.minBy', 'batch.maxBy', 'batch.first', 'batch.distinct', 'batch.sortPartition', 'batch.mapPartition',
]);

/**
 * Batch operators, which run in mode batch only. All but the combiner are blocking: they see
 * their whole input before they emit, within their share of the slot's memory.
 */
export function isBatchOperator(operator: OperatorName): boolean {
  return operator.startsWith('batch.');
}
