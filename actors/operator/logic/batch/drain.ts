import type { Collector } from '../types.ts';

/**
 * What a blocking operator emits after its input ends, pulled lazily from `source` and handed
 * out `max` records at a time (OperatorLogic.drain). One record is read ahead, so that the call
 * that emits the last record already says it is done.
 */
export class Drainer {
  private iterator: Iterator<unknown> | undefined;
  private ahead: IteratorResult<unknown> | undefined;

  constructor(private readonly source: () => Iterator<unknown>) {}

  drain(out: Collector, max: number): boolean {
    this.iterator ??= this.source();
    this.ahead ??= this.iterator.next();
    for (let emitted = 0; !this.ahead.done; emitted++) {
      if (emitted >= max) return false;
      out.emit(this.ahead.value);
      this.ahead = this.iterator.next();
    }
    return true;
  }

  /** Ends a generator left half-read (its finally blocks run). */
  close(): void {
    this.iterator?.return?.();
    this.iterator = undefined;
  }
}
