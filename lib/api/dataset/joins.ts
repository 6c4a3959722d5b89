/**
 * Joins and coGroups of two DataSets, as Flink's: `a.join(b).where(ka).equalTo(kb)[.with(fn)]`
 * and `a.coGroup(b).where(ka).equalTo(kb).with(fn)`. Each is one vertex with its keys on it and
 * two input edges, `a`'s marked input 1: both `hash` by the keys, or for a broadcast-hash join
 * input 2 `broadcast` and input 1 as it comes.
 */
import type { BatchJoinVertex, JoinStrategy, JoinType, KeySelector } from '../../descriptor/types.ts';
import { CloudflinkError } from '../../errors/index.ts';
import { captureFunction, type FunctionRef } from '../capture.ts';
import type { StreamInput } from '../environment.ts';
import { Operator, PairOperator, type DataSet } from './data-set.ts';
import { describe, keySelector, type Key } from './keys.ts';
import { JOIN_TYPES, joinStrategy } from './plan.ts';

/** A join's type ('inner' by default), or its type and strategy hint. */
export type JoinOptions = JoinType | { type?: JoinType; strategy?: JoinStrategy };

/** Two DataSets to join, when the join only lacks its keys. */
export class JoinOperatorSets<A, B, L = A, R = B> {
  private readonly type: JoinType;
  private readonly strategy?: JoinStrategy;

  constructor(private readonly first: DataSet<A>, private readonly second: DataSet<B>, options: JoinOptions | undefined, private readonly role: string) {
    first.sameEnvironment(second, role);
    const { type = 'inner', strategy } = typeof options === 'string' ? { type: options } : options ?? {};
    if (!JOIN_TYPES.includes(type)) throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: unknown join type ${describe(type)}; use one of: ${JOIN_TYPES.join(', ')}`);
    this.type = type;
    // Checked now, so that a broadcast right or full outer join fails where it is written.
    joinStrategy(second.node, type, strategy, role);
    this.strategy = strategy;
  }

  /** The key of the first DataSet. */
  where(key: Key<A>): { equalTo(key: Key<B>): PairOperator<L, R, BatchJoinVertex> } {
    const key1 = keySelector(key, `${this.role}.where()`);
    return { equalTo: (other) => this.build(key1, keySelector(other, `${this.role}.equalTo()`)) };
  }

  private build(key1: KeySelector, key2: KeySelector): PairOperator<L, R, BatchJoinVertex> {
    const strategy = joinStrategy(this.second.node, this.type, this.strategy, this.role);
    const spec: BatchJoinVertex = { operator: 'batch.join', key1, key2, type: this.type, strategy };
    const [input1, input2]: StreamInput[] = strategy === 'broadcast-hash'
      ? [{ ...this.first.asInput(), input: 1 }, { node: this.second.node, partition: 'broadcast', input: 2 }]
      : [{ node: this.first.node, partition: 'hash', key: key1, input: 1 }, { node: this.second.node, partition: 'hash', key: key2, input: 2 }];
    const node = this.first.getExecutionEnvironment().addNode(spec, 'join', input1);
    node.moreInputs = [input2];
    return new PairOperator<L, R, BatchJoinVertex>(this.first.getExecutionEnvironment(), node, this.role);
  }
}

/** Flink's CoGroupFunction: per key of either input, its records of each side (one side may be empty). */
export type CoGroupFunction<A, B, K, R> = ((lefts: A[], rights: B[], key: K) => Iterable<R>) | FunctionRef;

/** Two DataSets to coGroup, when it only lacks its keys and function. */
export class CoGroupOperatorSets<A, B> {
  constructor(private readonly first: DataSet<A>, private readonly second: DataSet<B>) {
    first.sameEnvironment(second, 'coGroup()');
  }

  where(key: Key<A>): { equalTo(key: Key<B>): { with<R, K = unknown>(fn: CoGroupFunction<A, B, K, R>): Operator<R> } } {
    const key1 = keySelector(key, 'coGroup().where()');
    return {
      equalTo: (other) => {
        const key2 = keySelector(other, 'coGroup().equalTo()');
        return { with: (fn) => this.build(key1, key2, fn) };
      },
    };
  }

  private build<R>(key1: KeySelector, key2: KeySelector, fn: unknown): Operator<R> {
    const captured = captureFunction(fn, 'coGroup().with()');
    const environment = this.first.getExecutionEnvironment();
    const node = environment.addNode({ operator: 'batch.coGroup', key1, key2, fn: captured.fn }, captured.name ?? 'coGroup',
      { node: this.first.node, partition: 'hash', key: key1, input: 1 });
    node.moreInputs = [{ node: this.second.node, partition: 'hash', key: key2, input: 2 }];
    return new Operator<R>(environment, node);
  }
}
