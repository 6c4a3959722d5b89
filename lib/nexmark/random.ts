/**
 * java.util.Random, bit for bit: the 48-bit linear congruential generator of the Java
 * specification (seed' = seed · 0x5DEECE66D + 0xB mod 2^48), with Java's nextInt, nextInt(bound),
 * nextLong and nextDouble. Nexmark seeds one of these per event, so matching Java exactly is
 * what makes our events the reference's events.
 *
 * The state is two 24-bit halves held in doubles: every product below stays under 2^53, so the
 * arithmetic is exact without BigInt (only nextLong, which is off the generator's hot path,
 * returns a bigint).
 */

const MULTIPLIER_HIGH = 0x5de; // 0x5DEECE66D >>> 24
const MULTIPLIER_LOW = 0xece66d; // 0x5DEECE66D & 0xFFFFFF
const ADDEND = 0xb;
const TWO_POW_24 = 0x1000000;
const LOW_24_BITS = 0xffffff;
const TWO_POW_31 = 0x80000000;
const TWO_POW_27 = 0x8000000;
const TWO_POW_53 = 2 ** 53;
const INT_MAX = 0x7fffffff;

export class JavaRandom {
  private high = 0;
  private low = 0;

  /** `seed` is a Java long: a safe integer (negative allowed) or any bigint, of which the low 48 bits count. */
  constructor(seed: number | bigint) {
    this.setSeed(seed);
  }

  /** As Java's setSeed: the seed is scrambled with the multiplier before use. */
  setSeed(seed: number | bigint): void {
    let low: number;
    let high: number;
    if (typeof seed === 'bigint') {
      const bits = BigInt.asUintN(48, seed);
      low = Number(bits & 0xffffffn);
      high = Number(bits >> 24n);
    } else {
      if (!Number.isSafeInteger(seed)) throw new RangeError(`JavaRandom seed must be a safe integer or a bigint, got ${seed}`);
      // Floor division and a non-negative remainder give the two's complement bits of a negative seed.
      low = ((seed % TWO_POW_24) + TWO_POW_24) % TWO_POW_24;
      high = ((Math.floor(seed / TWO_POW_24) % TWO_POW_24) + TWO_POW_24) % TWO_POW_24;
    }
    this.low = low ^ MULTIPLIER_LOW;
    this.high = high ^ MULTIPLIER_HIGH;
  }

  /** Java's protected next(bits), for 1 <= bits <= 32: the top `bits` of the new state, as an int. */
  next(bits: number): number {
    this.advance();
    return bits <= 24 ? this.high >>> (24 - bits) : (this.high << (bits - 24)) | (this.low >>> (48 - bits));
  }

  /** A uniformly distributed int in [-2^31, 2^31), or, given a bound, in [0, bound). */
  nextInt(bound?: number): number {
    if (bound === undefined) {
      this.advance();
      return (this.high << 8) | (this.low >>> 16);
    }
    if (!(bound > 0 && bound <= INT_MAX && Number.isInteger(bound))) {
      throw new RangeError(`JavaRandom.nextInt bound must be an int in [1, 2^31 - 1], got ${bound}`);
    }
    let r = this.next31();
    const max = bound - 1;
    if ((bound & max) === 0) return Math.floor((bound * r) / TWO_POW_31);
    // Java rejects the top sliver of values, detected by int overflow, so every result is equally likely.
    for (let u = r; ((u - (r = u % bound) + max) | 0) < 0; u = this.next31());
    return r;
  }

  /** Java's nextLong, as a bigint (a long does not fit a double). */
  nextLong(): bigint {
    const high = BigInt(this.nextInt());
    const low = BigInt(this.nextInt());
    return BigInt.asIntN(64, (high << 32n) + low);
  }

  /** A double in [0, 1) with 53 random bits, as Java 8+ computes it. */
  nextDouble(): number {
    const high = this.next(26);
    const low = this.next(27);
    return (high * TWO_POW_27 + low) / TWO_POW_53;
  }

  private next31(): number {
    this.advance();
    return (this.high << 7) | (this.low >>> 17);
  }

  private advance(): void {
    const high = this.high;
    const low = this.low;
    const lowProduct = low * MULTIPLIER_LOW + ADDEND; // < 2^48: exact
    const carry = Math.floor(lowProduct / TWO_POW_24);
    this.low = lowProduct - carry * TWO_POW_24;
    // Only the low 24 bits of the high half survive mod 2^48, and imul keeps the low 32 exactly.
    this.high = (Math.imul(high, MULTIPLIER_LOW) + Math.imul(low, MULTIPLIER_HIGH) + carry) & LOW_24_BITS;
  }
}
