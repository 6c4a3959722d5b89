/** What actors need from a message bus. NATS plugs in behind it; actors never import the client. */
export interface Transport {
  readonly name: string;
  publish(subject: string, data: Uint8Array, reply?: string): void;
  /** Callback subscriptions only: async iterators buffer without bound (DESIGN §10). */
  subscribe(subject: string, handler: (msg: IncomingMessage) => void, options?: { queue?: string }): Subscription;
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** Round trip to the server: after it, every earlier subscription is known to the server. */
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Resolves when the connection is closed for good (an error if it was lost). */
  readonly closed: Promise<Error | void>;
}

export interface IncomingMessage {
  subject: string;
  data: Uint8Array;
  reply?: string;
}

export interface Subscription {
  unsubscribe(): void;
}
