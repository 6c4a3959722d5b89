/**
 * The partition format, the same in every storage: each frame prefixed by its length as a
 * 4-byte big-endian uint32. No trailer: the storage's own "whole or nothing" (rename, a
 * completed put) says the partition ended where its writer closed it.
 */

export const FRAME_HEADER_BYTES = 4;
const MAX_FRAME_BYTES = 0xffff_ffff;

/** The length prefix of a frame. */
export function frameHeader(length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > MAX_FRAME_BYTES) {
    throw new RangeError(`a shuffle frame holds 0..${MAX_FRAME_BYTES} bytes, got ${length}`);
  }
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(header.buffer).setUint32(0, length);
  return header;
}

/** Header and frame in one new buffer, so a caller may reuse its frame once handed over. */
export function framed(frame: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(FRAME_HEADER_BYTES + frame.byteLength);
  bytes.set(frameHeader(frame.byteLength), 0);
  bytes.set(frame, FRAME_HEADER_BYTES);
  return bytes;
}

/**
 * Cuts a byte stream arriving in arbitrary chunks back into frames. Every frame is a copy:
 * chunks may be reused buffers (a file read) or slices of a socket buffer (NATS).
 */
export class FrameParser {
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private headerFill = 0;
  private frame: Uint8Array | undefined;
  private frameFill = 0;

  /** The frames that `chunk` completes, in order; consume them all before the next push. */
  *push(chunk: Uint8Array): Generator<Uint8Array> {
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.frame === undefined) {
        const take = Math.min(FRAME_HEADER_BYTES - this.headerFill, chunk.byteLength - offset);
        this.header.set(chunk.subarray(offset, offset + take), this.headerFill);
        this.headerFill += take;
        offset += take;
        if (this.headerFill < FRAME_HEADER_BYTES) return;
        this.frame = new Uint8Array(new DataView(this.header.buffer).getUint32(0));
        this.frameFill = 0;
        this.headerFill = 0;
      }
      // Falls through even at the chunk's end, so a zero-length frame completes with its header.
      const take = Math.min(this.frame.byteLength - this.frameFill, chunk.byteLength - offset);
      this.frame.set(chunk.subarray(offset, offset + take), this.frameFill);
      this.frameFill += take;
      offset += take;
      if (this.frameFill === this.frame.byteLength) {
        const done = this.frame;
        this.frame = undefined;
        yield done;
      }
    }
  }

  /** True when the bytes so far stop inside a header or a frame: the data was cut short. */
  get midFrame(): boolean {
    return this.headerFill > 0 || this.frame !== undefined;
  }
}
