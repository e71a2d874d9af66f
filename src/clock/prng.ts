/**
 * Seeded pseudo-random numbers: the only source of randomness in the model (STYLE.md). xoshiro128**
 * seeded through splitmix32, so the same seed gives the same stream on every host.
 */
export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(readonly seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /**
   * Fills `out` with the next `out.length` values of {@link nextUint32}, in order (the state kept in
   * locals for the loop: a frame's noise takes one word per 4 pixels).
   */
  fillUint32(out: Uint32Array): Uint32Array {
    if (out.length > 0) this.fillLoop(out, this.s0, this.s1, this.s2, this.s3);
    return out;
  }

  // The loop stores the state back on its last word: V8 compiles a long loop on-stack, and code after
  // it that never ran before would send the compiled loop back to the interpreter on every call.
  private fillLoop(out: Uint32Array, s0: number, s1: number, s2: number, s3: number): void {
    const last = out.length - 1;
    for (let i = 0; i <= last; i++) {
      const m = Math.imul(s1, 5);
      out[i] = Math.imul((m << 7) | (m >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      if (i === last) {
        this.s0 = s0 >>> 0;
        this.s1 = s1 >>> 0;
        this.s2 = s2 >>> 0;
        this.s3 = s3 >>> 0;
      }
    }
  }

  /** Uniform float in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, bound). */
  nextInt(bound: number): number {
    if (!Number.isInteger(bound) || bound <= 0)
      throw new Error(`Prng.nextInt: bound must be a positive integer, got ${bound}`);
    return Math.floor(this.nextFloat() * bound);
  }

  /**
   * Fills `out` with random bytes and returns it: each {@link nextUint32} value gives 4 bytes, least
   * significant first (on a little-endian host the whole words are written by {@link fillUint32}, the
   * same bytes: crash states fill torn and trashed writes with this).
   */
  fill(out: Uint8Array): Uint8Array {
    const words = out.length >>> 2;
    let i = 0;
    if (LITTLE_ENDIAN && (out.byteOffset & 3) === 0 && words > 0) {
      this.fillUint32(new Uint32Array(out.buffer, out.byteOffset, words));
      i = words * 4;
    }
    for (; i < out.length; i += 4) {
      const v = this.nextUint32();
      out[i] = v & 0xff;
      if (i + 1 < out.length) out[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < out.length) out[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < out.length) out[i + 3] = v >>> 24;
    }
    return out;
  }

  /** A derived, independent generator (for sub-components that must not perturb each other's streams). */
  fork(label: string): Prng {
    let h = this.seed >>> 0;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
    return new Prng(h);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
