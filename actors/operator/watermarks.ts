/**
 * The event-time clock of one operator instance: the watermark of each input channel, and
 * their minimum, as in Flink. A channel that ended no longer holds the minimum back; neither
 * does one whose sender declared itself idle, until it sends again.
 */
export class WatermarkTracker {
  private readonly channels = new Map<string, { watermark: number; idle: boolean; ended: boolean }>();
  /** The instance's watermark: the minimum over its live channels, never going back. */
  current = Number.NEGATIVE_INFINITY;

  constructor(channels: string[]) {
    for (const channel of channels) this.channels.set(channel, { watermark: Number.NEGATIVE_INFINITY, idle: false, ended: false });
  }

  /** A watermark from one channel; returns the instance's new watermark when it advanced. */
  watermark(channel: string, watermark: number): number | undefined {
    const state = this.channels.get(channel);
    if (!state) return undefined;
    state.idle = false;
    if (watermark > state.watermark) state.watermark = watermark;
    return this.advance();
  }

  /** Records came on the channel: it is active again (its watermark counts). */
  active(channel: string): number | undefined {
    const state = this.channels.get(channel);
    if (!state || !state.idle) return undefined;
    state.idle = false;
    return this.advance();
  }

  idle(channel: string): number | undefined {
    const state = this.channels.get(channel);
    if (!state) return undefined;
    state.idle = true;
    return this.advance();
  }

  ended(channel: string): number | undefined {
    const state = this.channels.get(channel);
    if (!state) return undefined;
    state.ended = true;
    return this.advance();
  }

  /** Whether every channel that has not ended is idle: then this instance is idle too. */
  get allIdle(): boolean {
    let live = 0;
    for (const state of this.channels.values()) {
      if (state.ended) continue;
      if (!state.idle) return false;
      live++;
    }
    return live > 0;
  }

  private advance(): number | undefined {
    let minimum = Number.POSITIVE_INFINITY;
    let counted = 0;
    for (const state of this.channels.values()) {
      if (state.ended || state.idle) continue;
      counted++;
      if (state.watermark < minimum) minimum = state.watermark;
    }
    // All ended: end of input fires what remains, not a watermark. All idle: nothing is known.
    if (counted === 0 || minimum <= this.current) return undefined;
    this.current = minimum;
    return minimum;
  }
}

export interface WatermarkStrategySettings {
  /** How far behind the largest timestamp seen the watermark stays: 0 for ascending timestamps. */
  outOfOrdernessMs: number;
  /** A source subtask that emitted nothing for this long declares itself idle; never when absent. */
  idleTimeoutMs?: number;
}

/**
 * Flink's bounded-out-of-orderness watermark generator for one source subtask: the watermark
 * is the largest timestamp seen minus the allowed out-of-orderness, minus 1 ms (a record at
 * exactly the watermark may still come). With an idle timeout, a subtask with nothing to emit
 * says so, so that it does not hold every window downstream back.
 */
export class WatermarkGenerator {
  private maxTimestamp = Number.NEGATIVE_INFINITY;
  private emitted = Number.NEGATIVE_INFINITY;
  private lastRecordAt: number;
  private idle = false;

  constructor(private readonly settings: WatermarkStrategySettings, now: number) {
    this.lastRecordAt = now;
  }

  onRecord(timestamp: number, now: number): void {
    if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp;
    this.lastRecordAt = now;
    this.idle = false;
  }

  /** On each tick: the watermark to send if it advanced, or 'idle' once the subtask went quiet. */
  tick(now: number): number | 'idle' | undefined {
    const { idleTimeoutMs, outOfOrdernessMs } = this.settings;
    if (idleTimeoutMs !== undefined && !this.idle && now - this.lastRecordAt >= idleTimeoutMs) {
      this.idle = true;
      return 'idle';
    }
    if (this.idle) return undefined;
    const watermark = this.maxTimestamp - outOfOrdernessMs - 1;
    if (watermark <= this.emitted) return undefined;
    this.emitted = watermark;
    return watermark;
  }
}
