export {
  DESCRIPTOR_API_VERSION, OPERATORS,
  type DescriptorIssue, type EdgeDescriptor, type FilterVertex, type FlatMapVertex, type JobDescriptor, type KeySelector,
  type MapVertex, type OperatorName, type OperatorSpec, type Partitioning, type ReduceVertex, type ResolvedEdge,
  type ResolvedJob, type ResolvedVertex, type SinkCollect, type SinkPrint, type SinkTextFile, type SourceFromElements,
  type SourceGenerator, type SourceTextFile, type SumVertex, type UserFunction, type VertexDescriptor,
} from './types.ts';
export {
  DEFAULT_MAX_PARALLELISM, DEFAULT_MODE, DEFAULT_PARALLELISM, validateDescriptor, type DescriptorValidation,
} from './validate.ts';
export { checkUserFunctionSource, instantiateUserFunction } from './udf.ts';
export { decodeDescriptor } from './decode.ts';
export { inputsOf, isKeyed, isSink, isSource, outputsOf, topologicalOrder } from './graph.ts';
