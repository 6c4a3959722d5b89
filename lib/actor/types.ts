import type { Logger } from '../log/index.ts';
import type { Clock } from '../clock/index.ts';
import type { WireError } from '../errors/index.ts';

/** Every wire message is `{ type: … }`; the union per actor lives in its protocol.ts. */
export interface Message { type: string }

/** A message as a sender writes it: any `{ type, … }` object (replies are typed by `ask<R>`). */
export type OutgoingMessage = Message & { [field: string]: unknown };

export const PROTOCOL_VERSION = 1;

/** What travels on an actor's subject: the message with the protocol version and the sender. */
export interface Envelope<M extends Message = Message> {
  v: number;
  from?: string;
  msg: M;
}

export type Reply<R = unknown> = { v: number; ok: true; value: R } | { v: number; ok: false; error: WireError };

export interface ActorContext {
  readonly self: string;
  readonly log: Logger;
  readonly clock: Clock;
  /** The address that sent the message being handled, when it said. */
  readonly sender?: string;
  tell<M extends Message>(address: string, msg: M): void;
  ask<R>(address: string, msg: OutgoingMessage, timeoutMs?: number): Promise<R>;
}

/**
 * An actor's behaviour. `receive` handles one message at a time; for an `ask`, what it
 * returns is the reply, and what it throws is replied as an error.
 */
export interface Behavior<M extends Message = Message> {
  receive(msg: M, ctx: ActorContext): unknown;
  /** Called once when the actor stops (cleanup of subscriptions, timers, files). */
  stopped?(ctx: ActorContext): void | Promise<void>;
}

/** What a parent receives when a child's `receive` throws; the child is stopped first. */
export interface ChildFailed extends Message {
  type: 'actor.child-failed';
  child: string;
  error: WireError;
}
