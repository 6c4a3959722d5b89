import './params.ts';
export { StreamExecutionEnvironment } from './environment.ts';
export { CheckpointConfig } from './environment.ts';
export type { EnvironmentOptions, OperatorOptions, GeneratorOptions } from './environment.ts';
export { DataStream, SingleOutputStreamOperator, DataStreamSink } from './data-stream.ts';
export { KeyedStream, type ProcessContext } from './keyed-stream.ts';
export { JobHandle } from './job-handle.ts';
export { captureFunction, functionSource } from './capture.ts';
export type { CapturedFunction, FunctionRef } from './capture.ts';
