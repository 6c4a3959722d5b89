import { CloudflinkError, AskTimeoutError, type WireError } from '../errors/index.ts';
import { decode, decodeJson, encode, encodeJson, looksLikeJson } from '../codec/index.ts';
import { systemClock, type Clock } from '../clock/index.ts';
import type { Logger } from '../log/index.ts';
import type { IncomingMessage, Subscription, Transport } from '../transport/index.ts';
import { Mailbox } from './mailbox.ts';
import {
  PROTOCOL_VERSION, type OutgoingMessage, type ActorContext, type Behavior, type ChildFailed, type Envelope, type Message, type Reply,
} from './types.ts';

interface Delivery {
  envelope: Envelope;
  /** Settles an ask; absent for a tell. */
  respond?: (reply: Reply) => void;
}

interface ActorCell {
  address: string;
  behavior: Behavior;
  mailbox: Mailbox<Delivery>;
  subscriptions: Subscription[];
  parent?: string;
  log: Logger;
  stopped: boolean;
}

export interface SpawnOptions {
  /** Told `actor.child-failed` when this actor's `receive` throws on a tell; the child is stopped. */
  parent?: string;
  /** More subjects (wildcards allowed) whose messages go to this actor's mailbox. */
  aliases?: string[];
  /** Only in this process: no NATS subscription (for actors reached by in-memory hand-off alone). */
  localOnly?: boolean;
}

export interface ActorSystemOptions {
  transport: Transport;
  logger: Logger;
  clock?: Clock;
  defaultAskTimeoutMs?: number;
}

/**
 * The actors of one node process. Addresses are NATS subjects; a message to an actor in
 * this process is handed over in memory, anything else goes through the transport.
 */
export class ActorSystem {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly log: Logger;
  private readonly cells = new Map<string, ActorCell>();
  private readonly defaultAskTimeoutMs: number;
  private terminated = false;
  private readonly localRoutes = new Map<string, (payload: unknown) => void>();
  private readonly shared = new Map<string, unknown>();

  constructor(options: ActorSystemOptions) {
    this.transport = options.transport;
    this.clock = options.clock ?? systemClock;
    this.log = options.logger;
    this.defaultAskTimeoutMs = options.defaultAskTimeoutMs ?? 5000;
  }

  spawn<M extends Message>(address: string, behavior: Behavior<M>, options: SpawnOptions = {}): string {
    if (this.cells.has(address)) throw new CloudflinkError('INTERNAL', `an actor already lives at ${address}`);
    const cell: ActorCell = {
      address,
      behavior: behavior as Behavior,
      parent: options.parent,
      log: this.log.child({ actor: address }),
      subscriptions: [],
      stopped: false,
      mailbox: new Mailbox<Delivery>((delivery) => this.handle(cell, delivery)),
    };
    this.cells.set(address, cell);
    if (!options.localOnly) {
      for (const subject of [address, ...(options.aliases ?? [])]) {
        cell.subscriptions.push(this.transport.subscribe(subject, (incoming) => this.arrive(cell, incoming)));
      }
    }
    return address;
  }

  has(address: string): boolean {
    return this.cells.has(address);
  }

  /**
   * Receives objects sent to `subject` from this process without encoding (see `localRoute`);
   * senders elsewhere still reach the subject through the transport.
   */
  routeLocally(subject: string, handler: (payload: unknown) => void): Subscription {
    this.localRoutes.set(subject, handler);
    return { unsubscribe: () => { if (this.localRoutes.get(subject) === handler) this.localRoutes.delete(subject); } };
  }

  /** The in-process receiver of a subject, if one lives here: the sender hands the object over directly. */
  localRoute(subject: string): ((payload: unknown) => void) | undefined {
    return this.localRoutes.get(subject);
  }

  /** Makes an object reachable by name from this process only (a chained operator for its upstream). */
  share(name: string, value: unknown): Subscription {
    this.shared.set(name, value);
    return { unsubscribe: () => { if (this.shared.get(name) === value) this.shared.delete(name); } };
  }

  lookupShared<T>(name: string): T | undefined {
    return this.shared.get(name) as T | undefined;
  }

  async stop(address: string): Promise<void> {
    const cell = this.cells.get(address);
    if (!cell || cell.stopped) return;
    cell.stopped = true;
    this.cells.delete(address);
    for (const sub of cell.subscriptions) sub.unsubscribe();
    cell.mailbox.close();
    try {
      await cell.behavior.stopped?.(this.contextFor(cell));
    } catch (error) {
      cell.log.error({ err: error }, 'actor failed while stopping');
    }
  }

  async shutdown(): Promise<void> {
    this.terminated = true;
    for (const address of [...this.cells.keys()].reverse()) await this.stop(address);
  }

  /** Sends and forgets. After shutdown, or with the connection closed, the message is dropped: a tell promises nothing. */
  tell<M extends Message>(address: string, msg: M, from?: string): void {
    if (this.terminated) return;
    const envelope: Envelope = { v: PROTOCOL_VERSION, from, msg };
    const local = this.cells.get(address);
    if (local) {
      local.mailbox.enqueue({ envelope });
      return;
    }
    try {
      this.transport.publish(address, encode(envelope));
    } catch (error) {
      this.log.debug({ err: error, address, type: msg.type }, 'dropped a tell: the connection is closed');
    }
  }

  async ask<R>(address: string, msg: OutgoingMessage, timeoutMs = this.defaultAskTimeoutMs, from?: string): Promise<R> {
    if (this.terminated) throw new CloudflinkError('INTERNAL', `cannot ask ${address}: this node is shutting down`);
    const envelope: Envelope = { v: PROTOCOL_VERSION, from, msg };
    const local = this.cells.get(address);
    const reply = local
      ? await this.askLocal(local, envelope, timeoutMs)
      : decode<Reply<R>>(await this.transport.request(address, encode(envelope), timeoutMs).catch((error: unknown) => {
        throw error instanceof AskTimeoutError ? new AskTimeoutError(address, msg.type, timeoutMs) : error;
      }));
    if (reply.ok) return reply.value as R;
    throw CloudflinkError.fromWire(reply.error);
  }

  private askLocal(cell: ActorCell, envelope: Envelope, timeoutMs: number): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => reject(new AskTimeoutError(cell.address, envelope.msg.type, timeoutMs)), timeoutMs);
      cell.mailbox.enqueue({
        envelope,
        respond: (reply) => {
          this.clock.clearTimeout(timer);
          resolve(reply);
        },
      });
    });
  }

  private arrive(cell: ActorCell, incoming: IncomingMessage): void {
    // JSON is accepted too, and answered in JSON, so that any NATS client can talk to an actor.
    const json = looksLikeJson(incoming.data);
    let envelope: Envelope;
    try {
      envelope = json ? decodeJson<Envelope>(incoming.data) : decode<Envelope>(incoming.data);
    } catch (error) {
      cell.log.warn({ subject: incoming.subject, err: error }, 'dropped a message that is neither msgpack nor JSON');
      return;
    }
    const reply = incoming.reply;
    const respond = reply ? (r: Reply) => this.transport.publish(reply, json ? encodeJson(r) : encode(r)) : undefined;
    if (!envelope || typeof envelope !== 'object' || typeof envelope.msg?.type !== 'string') {
      respond?.(errorReply(new CloudflinkError('PROTOCOL_MISMATCH', `expected { v, msg: { type } } on ${incoming.subject}`)));
      return;
    }
    if (envelope.v !== PROTOCOL_VERSION) {
      const error = new CloudflinkError('PROTOCOL_MISMATCH',
        `${envelope.from ?? 'a sender'} speaks protocol v${envelope.v}, ${cell.address} speaks v${PROTOCOL_VERSION}; run the same cloudflink version on every node`);
      cell.log.warn({ from: envelope.from }, error.message);
      respond?.(errorReply(error));
      return;
    }
    cell.mailbox.enqueue({ envelope, respond });
  }

  private async handle(cell: ActorCell, delivery: Delivery): Promise<void> {
    if (cell.stopped) return;
    const { envelope, respond } = delivery;
    try {
      let value = cell.behavior.receive(envelope.msg, this.contextFor(cell, envelope.from));
      if (value instanceof Promise) value = await value;
      respond?.({ v: PROTOCOL_VERSION, ok: true, value: value ?? null });
    } catch (error) {
      if (respond) {
        // The asker hears of the failure; the actor keeps serving.
        respond(errorReply(error));
        return;
      }
      cell.log.error({ err: error, msg: envelope.msg.type }, 'actor failed handling a message');
      if (cell.parent) {
        await this.stop(cell.address);
        const failed: ChildFailed = { type: 'actor.child-failed', child: cell.address, error: CloudflinkError.toWire(error) };
        this.tell(cell.parent, failed, cell.address);
      }
    }
  }

  private contextFor(cell: ActorCell, sender?: string): ActorContext {
    return {
      self: cell.address,
      log: cell.log,
      clock: this.clock,
      sender,
      tell: <M extends Message>(address: string, msg: M) => this.tell(address, msg, cell.address),
      ask: <R>(address: string, msg: OutgoingMessage, timeoutMs?: number) => this.ask<R>(address, msg, timeoutMs, cell.address),
    };
  }
}

function errorReply(error: unknown): Reply {
  const wire: WireError = CloudflinkError.toWire(error);
  return { v: PROTOCOL_VERSION, ok: false, error: wire };
}
