import './params.ts';
export { StreamExecutionEnvironment } from './environment.ts';
export type { EnvironmentOptions, OperatorOptions } from './environment.ts';
export { DataStream, SingleOutputStreamOperator, DataStreamSink } from './data-stream.ts';
export { KeyedStream } from './keyed-stream.ts';
export { JobHandle } from './job-handle.ts';
export { captureFunction, functionSource } from './capture.ts';
export type { CapturedFunction, FunctionRef } from './capture.ts';
