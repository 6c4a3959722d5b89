/**
 * Timers in a binary min-heap by time. A timer whose subject changed since it was set (a
 * window merged or cleaned up, a timer deleted) is found stale when it comes due, which is
 * cheaper than finding and removing it.
 */
export class TimerHeap<T extends { time: number }> {
  private heap: T[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** The earliest time, or undefined when there is no timer. */
  get next(): number | undefined {
    return this.heap[0]?.time;
  }

  add(timer: T): void {
    const heap = this.heap;
    heap.push(timer);
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.time <= heap[i]!.time) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  /** Takes every timer at or before `time`, earliest first. */
  *due(time: number): Generator<T> {
    while (this.heap.length > 0 && this.heap[0]!.time <= time) yield this.pop();
  }

  clear(): void {
    this.heap = [];
  }

  /** Takes the earliest, or undefined when there is none. */
  take(): T | undefined {
    return this.heap.length === 0 ? undefined : this.pop();
  }

  private pop(): T {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && heap[left]!.time < heap[smallest]!.time) smallest = left;
        if (right < heap.length && heap[right]!.time < heap[smallest]!.time) smallest = right;
        if (smallest === i) break;
        [heap[smallest], heap[i]] = [heap[i]!, heap[smallest]!];
        i = smallest;
      }
    }
    return top;
  }
}

/** A clock that calls back: the processing time the instance lends its logic. */
export interface AlarmClock<Out> {
  now(): number;
  at(time: number, callback: (out: Out) => void): void;
}

/**
 * Processing-time timers: one clock callback at a time, set for the heap's earliest timer and
 * set again after each, so a thousand timers cost one pending callback, not a thousand.
 */
export class ProcessingTimeAlarm<T extends { time: number }, Out> {
  private wakeAt?: number;

  constructor(private readonly heap: TimerHeap<T>, private readonly clock: AlarmClock<Out>, private readonly onDue: (now: number, out: Out) => void) {}

  /** Makes sure a callback comes at the earliest timer; call after adding one. */
  arm(): void {
    const next = this.heap.next;
    if (next === undefined || (this.wakeAt !== undefined && this.wakeAt <= next)) return;
    this.wakeAt = next;
    this.clock.at(next, (out) => {
      this.wakeAt = undefined;
      this.onDue(this.clock.now(), out);
      this.arm();
    });
  }
}
