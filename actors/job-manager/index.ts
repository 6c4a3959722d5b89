export { JobManager, MAX_TASK_MANAGERS, type JobManagerSettings } from './job-manager.actor.ts';
export { startJobManager, type JobManagerNode, type SubmitAnswer } from './node.ts';
export { jobMachine, jobStatusOf, type JobMachineEvent } from './job.machine.ts';
export type { JobManagerMessage, ClusterView, TaskManagerView, TaskMetrics } from './protocol.ts';
