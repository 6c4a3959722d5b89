import { decode as decodeMsgpack } from '../codec/index.ts';
import { CloudflinkError } from '../errors/index.ts';

const OPEN_BRACE = 0x7b;
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const UTF8_BOM = [0xef, 0xbb, 0xbf];
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A submitted descriptor, as sent: JSON when its first non-whitespace byte is '{', else
 * msgpack (decoded as the control codec does, so both ends agree on integers and maps).
 * Returns the raw value; validateDescriptor says whether it is a descriptor.
 */
export function decodeDescriptor(bytes: Uint8Array): unknown {
  const start = firstSignificantByte(bytes);
  if (start === bytes.length) {
    throw new CloudflinkError('DESCRIPTOR_INVALID', 'the job descriptor is empty; send a JSON object or a msgpack map');
  }
  return bytes[start] === OPEN_BRACE ? parseJson(bytes) : parseMsgpack(bytes, start);
}

function firstSignificantByte(bytes: Uint8Array): number {
  let i = UTF8_BOM.every((b, j) => bytes[j] === b) ? UTF8_BOM.length : 0;
  while (i < bytes.length && WHITESPACE.has(bytes[i]!)) i++;
  return i;
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(bytes));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CloudflinkError('DESCRIPTOR_INVALID', `the job descriptor starts with '{' but is not valid JSON: ${reason}`, { cause: error });
  }
}

function parseMsgpack(bytes: Uint8Array, start: number): unknown {
  try {
    return decodeMsgpack(bytes);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const first = `0x${bytes[start]!.toString(16).padStart(2, '0')}`;
    throw new CloudflinkError('DESCRIPTOR_INVALID',
      `the job descriptor is neither JSON (it does not start with '{', its first byte is ${first}) nor valid msgpack: ${reason}`,
      { cause: error });
  }
}
