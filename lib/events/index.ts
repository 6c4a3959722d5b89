export type {
  JobStatus, TaskState, JobStateEvent, TaskStateEvent, TaskManagerEvent, JobRejectedEvent, CheckpointEvent, LifecycleEvent,
} from './types.ts';
export { TERMINAL_JOB_STATES } from './types.ts';
export { EventPublisher, ensureEventStream } from './publisher.ts';
export { readEvents, eventJobId, type ReadEventsOptions } from './reader.ts';
export { formatEvent } from './format.ts';
