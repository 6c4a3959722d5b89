export {
  DESCRIPTOR_API_VERSION, OPERATORS,
  type DescriptorIssue, type EdgeDescriptor, type FilterVertex, type FlatMapVertex, type JobDescriptor, type KeySelector,
  type MapVertex, type OperatorName, type OperatorSpec, type Partitioning, type ReduceVertex, type ResolvedEdge,
  type ResolvedJob, type ResolvedVertex, type SinkCollect, type SinkPrint, type SinkTextFile, type SourceFromElements,
  type SourceGenerator, type SourceTextFile, type SumVertex, type UserFunction, type VertexDescriptor,
  type ProcessVertex, type SinkFile, type CheckpointingDescriptor, type CheckpointingMode, type ResolvedCheckpointing,
  type RestartStrategy,
} from './types.ts';
export {
  DEFAULT_MAX_PARALLELISM, DEFAULT_MODE, DEFAULT_PARALLELISM, validateDescriptor, type DescriptorValidation,
  DEFAULT_CHECKPOINT_TIMEOUT_MS, DEFAULT_CHECKPOINT_MIN_PAUSE_MS, DEFAULT_CHECKPOINTING_MODE, DEFAULT_TOLERABLE_CHECKPOINT_FAILURES,
} from './validate.ts';
export { checkUserFunctionSource, instantiateUserFunction } from './udf.ts';
export { decodeDescriptor } from './decode.ts';
export { inputsOf, isKeyed, isSink, isSource, outputsOf, topologicalOrder } from './graph.ts';
