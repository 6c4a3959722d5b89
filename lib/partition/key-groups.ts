/**
 * Keys hash the same on every node: a key is turned into a canonical string and hashed
 * with murmur3, then mapped to a key group (Flink's scheme), and key groups to subtasks
 * in contiguous ranges, so that state can later be redistributed by key group.
 */

/** A canonical text form of a key: equal keys (by value) give equal strings on every node. */
export function canonicalKey(key: unknown): string {
  switch (typeof key) {
    case 'string': return `s${key}`;
    case 'number': return `n${Object.is(key, -0) ? 0 : key}`;
    case 'bigint': return `b${key}`;
    case 'boolean': return key ? 'T' : 'F';
    case 'undefined': return 'u';
    case 'object': {
      if (key === null) return 'z';
      if (key instanceof Date) return `d${key.getTime()}`;
      if (Array.isArray(key)) return `[${key.map(canonicalKey).join(',')}]`;
      if (key instanceof Uint8Array) return `x${Buffer.from(key).toString('hex')}`;
      const entries = Object.keys(key).sort().map((k) => `${JSON.stringify(k)}:${canonicalKey((key as Record<string, unknown>)[k])}`);
      return `{${entries.join(',')}}`;
    }
    default:
      throw new TypeError(`a key must be a value that msgpack can carry, not a ${typeof key}`);
  }
}

/** murmur3 (x86, 32-bit) over the UTF-16 code units of a string. */
export function murmur3(text: string, seed = 0): number {
  let h = seed >>> 0;
  const length = text.length;
  let i = 0;
  for (; i + 1 < length; i += 2) {
    let k = (text.charCodeAt(i) & 0xffff) | ((text.charCodeAt(i + 1) & 0xffff) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < length) {
    let k = text.charCodeAt(i) & 0xffff;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= length * 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function keyGroupOf(canonical: string, maxParallelism: number): number {
  return murmur3(canonical) % maxParallelism;
}

/** Flink's KeyGroupRangeAssignment: key group → operator index, contiguous ranges. */
export function subtaskForKeyGroup(keyGroup: number, maxParallelism: number, parallelism: number): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

export function subtaskForKey(canonical: string, maxParallelism: number, parallelism: number): number {
  return subtaskForKeyGroup(keyGroupOf(canonical, maxParallelism), maxParallelism, parallelism);
}
