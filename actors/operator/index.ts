export { OperatorInstance } from './operator.actor.ts';
export { taskMachine, taskStateOf, isTerminalTaskState, type TaskMachineEvent } from './task.machine.ts';
export type { OperatorMessage, TaskDeployment, ChannelSpec, Frame, NetworkSettings } from './protocol.ts';
