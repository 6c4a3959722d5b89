export { ActorSystem, type ActorSystemOptions, type SpawnOptions } from './system.ts';
export { Mailbox } from './mailbox.ts';
export {
  PROTOCOL_VERSION, type OutgoingMessage, type ActorContext, type Behavior, type ChildFailed, type Envelope, type Message, type Reply,
} from './types.ts';
