import { expect } from 'chai';
import { FrameParser, framed } from '../../../lib/shuffle/frames.ts';

const concat = (parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));

describe('shuffle frame format', () => {
  const frames = [Uint8Array.of(1, 2, 3), new Uint8Array(0), Uint8Array.of(9), new Uint8Array(0), Uint8Array.from({ length: 300 }, (_, i) => i & 0xff)];
  const bytes = concat(frames.map(framed));

  it('parses a stream cut at every point into two chunks', () => {
    for (let cut = 0; cut <= bytes.byteLength; cut++) {
      const parser = new FrameParser();
      const parsed = [...parser.push(bytes.subarray(0, cut)), ...parser.push(bytes.subarray(cut))];
      expect(parsed, `cut at ${cut}`).to.deep.equal(frames);
      expect(parser.midFrame).to.equal(false);
    }
  });

  it('parses a stream fed one byte at a time', () => {
    const parser = new FrameParser();
    const parsed = [...bytes].flatMap((b) => [...parser.push(Uint8Array.of(b))]);
    expect(parsed).to.deep.equal(frames);
  });

  it('copies frames out of the chunk, so the chunk may be reused', () => {
    const chunk = framed(Uint8Array.of(5, 6));
    const [parsed] = [...new FrameParser().push(chunk)];
    chunk.fill(0);
    expect([...parsed!]).to.deep.equal([5, 6]);
  });

  it('knows when the bytes stop inside a header or a frame', () => {
    const parser = new FrameParser();
    [...parser.push(bytes.subarray(0, 2))];
    expect(parser.midFrame).to.equal(true);
    [...parser.push(bytes.subarray(2, 5))];
    expect(parser.midFrame).to.equal(true);
    [...parser.push(bytes.subarray(5, 7))];
    expect(parser.midFrame).to.equal(false);
  });
});
