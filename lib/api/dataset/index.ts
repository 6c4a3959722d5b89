import '../params.ts';
export { ExecutionEnvironment, SEQUENCE_FROM_PARAM } from './environment.ts';
export type { ExecutionEnvironmentOptions, CsvOptions } from './environment.ts';
export {
  DataSet, Operator, DataSource, AggregateOperator, SortPartitionOperator, PairOperator, DataSink, PROJECT_FIELDS_PARAM,
  type CsvSinkOptions, type MapFunction,
} from './data-set.ts';
export { Grouping, SortedGrouping } from './grouping.ts';
export { JoinOperatorSets, CoGroupOperatorSets, type JoinOptions, type CoGroupFunction } from './joins.ts';
export { Aggregations, Order, type Key, type Field } from './keys.ts';
export { SMALL_INPUT_RECORDS } from './plan.ts';
