export { TaskManager, type TaskManagerSettings, type RegistrationOutcome } from './task-manager.actor.ts';
export { startTaskManager, defaultTaskManagerId, type TaskManagerNode } from './node.ts';
export type { TaskManagerMessage } from './protocol.ts';
