export { ClusterClient } from './cluster-client.ts';
export type { JobClient, JobResult, JobSummary, VertexMetrics } from './types.ts';
