import { InputGate } from '../../actors/operator/input-gate.ts';
import type { Frame } from '../../actors/operator/protocol.ts';

/** An InputGate that numbers each frame it is given per channel, as a sender would, so that specs need not. */
export class NumberingInputGate extends InputGate {
  private readonly sequences = new Map<string, number>();

  override arrive(edgeIndex: number, frame: Frame): void {
    const channel = `${edgeIndex}:${frame.s}`;
    frame.n = this.sequences.get(channel) ?? 0;
    this.sequences.set(channel, frame.n + 1);
    super.arrive(edgeIndex, frame);
  }
}

/** For gates of specs where no frame may go missing. */
export const noFrameLost = (edgeIndex: number, from: number, missing: number): never => {
  throw new Error(`${missing} frame(s) lost on ${edgeIndex}:${from}`);
};
