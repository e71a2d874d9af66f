/**
 * `ucryptolib` / `cryptolib` as built into OpenMV's MicroPython (extmod/modcryptolib.c), on node:crypto
 * (OpenSSL's AES without padding: the same bytes as node-forge's, which this model used before, at a
 * fraction of the cost; test/openmv/ucryptolib.test.ts checks both and `openssl enc`).
 *
 * Behaviour copied from modcryptolib.c:
 * - `aes(key, mode[, IV])`: mode checked first (`ValueError("mode")`), then the key length (16 or 32
 *   bytes, else `ValueError("key")`), then the IV (16 bytes, required for CBC, else `ValueError("IV")`).
 * - Only ECB (1) and CBC (2): CTR (6) exists only with `MICROPY_PY_CRYPTOLIB_CTR`, which the mimxrt
 *   port does not enable, so mode 6 raises `ValueError("mode")` here as on the board.
 * - `encrypt(in[, out])` / `decrypt(in[, out])`: input length must be a multiple of 16
 *   (`ValueError("blksize % 16")`); `out` shorter than `in` → `ValueError("output too small")`;
 *   no padding is added or removed. The first call fixes the direction; calling the other one later
 *   raises `ValueError("can't encrypt & decrypt")`. In CBC the chaining value carries over between
 *   calls (mbedtls updates the IV in place), so several calls equal one call on the concatenation.
 */
import { createCipheriv, createDecipheriv, type Cipher, type Decipher } from "node:crypto";
import { ValueError } from "./py-errors.ts";

/** PEP 272 mode numbers accepted by `cryptolib.aes`. */
export const MODE_ECB = 1;
/** Cipher-block chaining. */
export const MODE_CBC = 2;
/** Counter mode: only with `MICROPY_PY_CRYPTOLIB_CTR`, off on OpenMV RT1062 (see {@link AesOptions}). */
export const MODE_CTR = 6;

/** Build options that a firmware profile may change. */
export interface AesOptions {
  /** `MICROPY_PY_CRYPTOLIB_CTR`; false on the OpenMV RT1062 builds (default false). CTR is not modelled. */
  readonly ctrEnabled?: boolean;
}

type Direction = "none" | "enc" | "dec";

/** A `cryptolib.aes` object: one direction per object, state kept across calls. */
export class Aes {
  private direction: Direction = "none";
  private cipher: Cipher | Decipher | undefined;
  private readonly key: Uint8Array;
  private readonly iv: Uint8Array | null;

  /** @internal use {@link aes}. */
  constructor(
    key: Uint8Array,
    readonly mode: number,
    iv: Uint8Array | undefined,
  ) {
    this.key = key.slice();
    this.iv = iv === undefined || mode === MODE_ECB ? null : iv.slice();
  }

  /** `aes.encrypt(in[, out])`: returns new bytes, or `out` when given (filled from index 0). */
  encrypt(input: Uint8Array, out?: Uint8Array): Uint8Array {
    return this.process(input, out, "enc");
  }

  /** `aes.decrypt(in[, out])`: returns new bytes, or `out` when given (filled from index 0). */
  decrypt(input: Uint8Array, out?: Uint8Array): Uint8Array {
    return this.process(input, out, "dec");
  }

  private process(input: Uint8Array, out: Uint8Array | undefined, dir: "enc" | "dec"): Uint8Array {
    // modcryptolib.c aes_process: length check, then output size, then key direction.
    if (input.length % 16 !== 0) throw new ValueError("blksize % 16");
    if (out !== undefined && out.length < input.length) throw new ValueError("output too small");
    if (this.direction === "none") {
      this.direction = dir;
      const name = `aes-${this.key.length * 8}-${this.mode === MODE_ECB ? "ecb" : "cbc"}`;
      this.cipher =
        dir === "enc" ? createCipheriv(name, this.key, this.iv) : createDecipheriv(name, this.key, this.iv);
      this.cipher.setAutoPadding(false);
    } else if (this.direction !== dir) {
      throw new ValueError("can't encrypt & decrypt");
    }
    // Without padding OpenSSL returns every whole block at once, and the CBC chain carries over.
    const r = this.cipher!.update(input);
    const result = new Uint8Array(r.buffer, r.byteOffset, r.length);
    if (result.length !== input.length) {
      throw new Error(`ucryptolib: OpenSSL produced ${result.length} bytes for ${input.length}`);
    }
    if (out === undefined) return result;
    out.set(result, 0);
    return out;
  }
}

/**
 * `ucryptolib.aes(key, mode, IV=None)` with the firmware's argument checks and messages.
 * @param key 16 (AES-128) or 32 (AES-256) bytes
 * @param mode 1 = ECB, 2 = CBC
 * @param iv 16 bytes; required for CBC, optional (ignored) for ECB
 */
export function aes(key: Uint8Array, mode: number, iv?: Uint8Array | null, options: AesOptions = {}): Aes {
  const ctr = options.ctrEnabled === true && mode === MODE_CTR;
  if (ctr) throw new Error("ucryptolib: CTR mode is not modelled (MICROPY_PY_CRYPTOLIB_CTR)");
  if (mode !== MODE_ECB && mode !== MODE_CBC) throw new ValueError("mode");
  if (key.length !== 16 && key.length !== 32) throw new ValueError("key");
  if (iv !== undefined && iv !== null) {
    if (iv.length !== 16) throw new ValueError("IV");
  } else if (mode === MODE_CBC) {
    throw new ValueError("IV");
  }
  return new Aes(key, mode, iv ?? undefined);
}

/** Bytes → forge binary string (one char per byte). */
export function toBinary(bytes: Uint8Array): string {
  let s = "";
  const CHUNK = 0x2000;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    s += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return s;
}

/** Forge binary string → bytes. */
export function fromBinary(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}
