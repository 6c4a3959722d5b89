/**
 * A serial mailbox: messages are handled one at a time, in arrival order. A handler may be
 * async; the next message waits for it, so an actor never sees two messages at once.
 */
export class Mailbox<T> {
  private queue: T[] = [];
  private head = 0;
  private running = false;
  private closed = false;

  constructor(private readonly process: (item: T) => void | Promise<void>) {}

  get size(): number {
    return this.queue.length - this.head;
  }

  enqueue(item: T): void {
    if (this.closed) return;
    this.queue.push(item);
    if (!this.running) void this.drain();
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    this.head = 0;
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.head < this.queue.length && !this.closed) {
      const item = this.queue[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      const result = this.process(item);
      if (result instanceof Promise) await result;
    }
    this.running = false;
  }
}
