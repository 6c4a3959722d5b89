import { Packr } from 'msgpackr';

/**
 * Control messages use plain MessagePack maps so any client in any language can read
 * them; data frames use msgpackr's record extension, defined inside each frame, which is
 * faster for many records of one shape and still safe with no shared structure state.
 */
const control = new Packr({ useRecords: false, int64AsType: 'bigint', mapsAsObjects: true });
const frames = new Packr({ useRecords: true, int64AsType: 'bigint', moreTypes: true, mapsAsObjects: true });

export function encode(value: unknown): Uint8Array {
  return control.pack(value);
}

export function decode<T = unknown>(bytes: Uint8Array): T {
  return control.unpack(bytes) as T;
}

export function encodeFrame(value: unknown): Uint8Array {
  return frames.pack(value);
}

export function decodeFrame<T = unknown>(bytes: Uint8Array): T {
  return frames.unpack(bytes) as T;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return utf8.encode(JSON.stringify(value, jsonReplacer));
}

export function decodeJson<T = unknown>(bytes: Uint8Array): T {
  // TextDecoder drops a leading BOM.
  return JSON.parse(fromUtf8.decode(bytes)) as T;
}

/** JSON has no BigInt; write it as a decimal string rather than throw. */
function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * True when the bytes look like JSON text (`{`, `[` or `"` first, or a UTF-8 BOM): JSON and
 * msgpack are both accepted on public subjects. As msgpack those bytes would be a bare
 * small integer, which no message is.
 */
export function looksLikeJson(bytes: Uint8Array): boolean {
  for (const byte of bytes) {
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue;
    return byte === 0x7b || byte === 0x5b || byte === 0x22 || byte === 0xef;
  }
  return false;
}

