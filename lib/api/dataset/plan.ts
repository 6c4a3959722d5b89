/**
 * The plan choices of the DataSet API: the combiner before a shuffle, the local stage before a
 * global one, and which strategy a join gets when the user gives none.
 */
import type { AggregationKind, JoinStrategy, JoinType, KeySelector, UserFunction } from '../../descriptor/types.ts';
import { CloudflinkError } from '../../errors/index.ts';
import type { StreamInput, StreamNode } from '../environment.ts';
import type { DataSet } from './data-set.ts';
import type { ExecutionEnvironment } from './environment.ts';

/** The most records a fromElements/fromCollection source may hold for a join to broadcast it unasked. */
export const SMALL_INPUT_RECORDS = 10_000;

export const JOIN_STRATEGIES: readonly JoinStrategy[] = ['broadcast-hash', 'repartition-hash', 'sort-merge'];
export const JOIN_TYPES: readonly JoinType[] = ['inner', 'left', 'right', 'full'];

export type Aggregation = { kind: AggregationKind; field: string | number };

/**
 * Flink's combiner: each subtask pre-reduces its records per key before they cross the network,
 * at its input's parallelism on a forward edge, so the shuffle carries a record per key and subtask.
 */
export function combiner<T>(environment: ExecutionEnvironment, input: DataSet<T>, key: KeySelector, body: { fn: UserFunction } | { aggregations: Aggregation[] }): StreamNode {
  const node = environment.addNode({ operator: 'batch.combine', key, ...body }, 'combine', input.asInput());
  environment.mirrorParallelism(input.node, node);
  return node;
}

/**
 * The strategy of a join: the hint when given; else broadcast-hash when input 2 is known small
 * and the join keeps no unmatched record of it (inner, left), else sort-merge, as Flink's optimizer
 * would without statistics.
 */
export function joinStrategy(second: StreamNode, type: JoinType, hint: JoinStrategy | undefined, role: string): JoinStrategy {
  if (hint !== undefined && !JOIN_STRATEGIES.includes(hint)) {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: unknown join strategy ${JSON.stringify(hint)}; use one of: ${JOIN_STRATEGIES.join(', ')}`);
  }
  if (hint === 'broadcast-hash' && (type === 'right' || type === 'full')) {
    throw new CloudflinkError('DESCRIPTOR_INVALID',
      `${role}: a ${type} outer join cannot broadcast its second input (each subtask would emit that input's unmatched records once): use 'sort-merge' or 'repartition-hash'`);
  }
  if (hint !== undefined) return hint;
  return (type === 'inner' || type === 'left') && isKnownSmall(second) ? 'broadcast-hash' : 'sort-merge';
}

/** A fromElements/fromCollection source of at most SMALL_INPUT_RECORDS, through maps and filters on forward edges. */
export function isKnownSmall(node: StreamNode): boolean {
  let current = node;
  for (;;) {
    const spec = current.spec;
    const input: StreamInput | undefined = current.input;
    if (spec.operator === 'source.elements') return spec.elements.length <= SMALL_INPUT_RECORDS;
    if ((spec.operator !== 'map' && spec.operator !== 'filter') || input === undefined || input.partition !== undefined) return false;
    current = input.node;
  }
}
