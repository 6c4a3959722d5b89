export type {
  ValueState, ListState, MapState, ReducingState, KeyedStateStore, StateKind, KeyGroupRange, KeyedStateSnapshot,
} from './types.ts';
export { keyGroupRangeFor, contains } from './key-group-range.ts';
export { KeyedStateBackend } from './keyed-backend.ts';
export { splitsFor, restoreSplits, type SplitPositions } from './operator-state.ts';
