import './params.ts';
export { StreamExecutionEnvironment } from './environment.ts';
export { CheckpointConfig } from './environment.ts';
export type { EnvironmentOptions, OperatorOptions, GeneratorOptions } from './environment.ts';
export { DataStream, SingleOutputStreamOperator, DataStreamSink, type PlainProcessContext } from './data-stream.ts';
export { KeyedStream, type ProcessContext } from './keyed-stream.ts';
export {
  ConnectedStreams, KeyedConnectedStreams, BroadcastConnectedStream,
  type BroadcastState, type ReadOnlyBroadcastState, type BroadcastProcessContext, type BroadcastSideContext,
} from './connected-streams.ts';
export { JoinedStreams, KeyedJoin, WindowJoin, IntervalJoin, IntervalJoined, type IntervalJoinContext } from './joins.ts';
export {
  WindowedStream, TumblingEventTimeWindows, SlidingEventTimeWindows, EventTimeSessionWindows,
  TumblingProcessingTimeWindows, SlidingProcessingTimeWindows, ProcessingTimeSessionWindows, GlobalWindows,
  CountTrigger, PurgingTrigger, CountEvictor, type TimeWindow, type WindowContext,
} from './windowed-stream.ts';
export { JobHandle } from './job-handle.ts';
export { captureFunction, functionSource } from './capture.ts';
export type { CapturedFunction, FunctionRef } from './capture.ts';
export {
  ExecutionEnvironment, DataSet, Operator, DataSource, AggregateOperator, SortPartitionOperator, PairOperator, DataSink, Grouping,
  JoinOperatorSets, CoGroupOperatorSets, Aggregations, Order,
  type ExecutionEnvironmentOptions, type CsvOptions, type CsvSinkOptions, type JoinOptions, type CoGroupFunction, type Key, type Field,
} from './dataset/index.ts';
