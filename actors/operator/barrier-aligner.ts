import type { CheckpointingMode } from '../../lib/descriptor/types.ts';
import type { InputGate } from './input-gate.ts';

export type { CheckpointingMode };

export interface AlignedBarrier {
  checkpointId: number;
  /** How long the first channel waited for the last (0 with one input channel). */
  alignmentMs: number;
}

/**
 * Aligns checkpoint barriers across the input channels of one subtask (Carbone et al. 2015).
 * Exactly-once holds back every channel whose barrier arrived until all live channels have
 * delivered it, so no record after the barrier is processed before the snapshot; at-least-once
 * only counts barriers, so records after it may be processed (and replayed after a restore).
 */
export class BarrierAligner {
  private pending?: { checkpointId: number; arrived: Set<string>; startedAt: number };
  /** The newest checkpoint seen: a late barrier of an older (aborted or done) one is ignored. */
  private latest = 0;

  constructor(private readonly gate: InputGate, private readonly mode: CheckpointingMode, private readonly now: () => number) {}

  get aligning(): number | undefined {
    return this.pending?.checkpointId;
  }

  /** A barrier from one channel; returns the checkpoint once every live channel has delivered it. */
  onBarrier(channel: string, checkpointId: number): AlignedBarrier | undefined {
    if (this.pending ? checkpointId < this.pending.checkpointId : checkpointId <= this.latest) return undefined;
    this.latest = Math.max(this.latest, checkpointId);
    if (this.pending && checkpointId > this.pending.checkpointId) {
      // A newer barrier means the older checkpoint was given up upstream: stop waiting for it.
      this.abort(this.pending.checkpointId);
    }
    this.pending ??= { checkpointId, arrived: new Set(), startedAt: this.now() };
    this.pending.arrived.add(channel);
    if (this.mode === 'exactly-once') this.gate.block(channel);
    return this.check();
  }

  /** A channel ended: barriers from a finished input count as arrived, or alignment would wait forever. */
  onChannelEnded(): AlignedBarrier | undefined {
    return this.check();
  }

  abort(checkpointId: number): void {
    this.latest = Math.max(this.latest, checkpointId);
    if (this.pending?.checkpointId !== checkpointId) return;
    this.pending = undefined;
    this.gate.unblockAll();
  }

  private check(): AlignedBarrier | undefined {
    const pending = this.pending;
    if (!pending || !this.gate.liveChannels.every((c) => pending.arrived.has(c))) return undefined;
    this.pending = undefined;
    this.gate.unblockAll();
    return { checkpointId: pending.checkpointId, alignmentMs: this.now() - pending.startedAt };
  }
}
