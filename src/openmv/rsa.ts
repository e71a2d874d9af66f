/**
 * RSA PKCS#1 v1.5 encryption (RFC 8017 §7.2) as the board's `rsa/` package does it: encryption on
 * native bigints, decryption through OpenSSL or node-forge's BigInteger (see {@link rsaDecrypt}).
 *
 * Two decryption modes:
 * - `lax`: the board's library, derived from Adafruit_CircuitPython_RSA `adafruit_rsa/pkcs1.py`
 *   `decrypt()`: `cleartext = int2bytes(c^d mod n, blocksize)` (left-padded with zero bytes to the key
 *   length), then `sep_idx = cleartext.index(b"\x00", 2)`; `DecryptionError("Decryption failed")` only
 *   when there is no zero byte from index 2 on; otherwise `cleartext[sep_idx + 1:]` is returned, with
 *   NO check of the `00 02` prefix nor of the padding length, so a damaged block usually yields garbage
 *   of a random length. `bytes2int` is `int(hexlify(crypto), 16)`, so an empty block raises
 *   `ValueError("invalid syntax for integer with base 16")`.
 * - `strict`: upstream python-rsa 4.x `rsa/pkcs1.py` `decrypt()`: a block longer than the key fails
 *   (CVE-2020-13757 fix), the cleartext must start with `00 02`, and the zero separator must sit at
 *   index ≥ 10 (at least 8 padding bytes). Any failure is `DecryptionError("Decryption failed")`.
 *
 * Encryption pads `00 02 PS 00 M` with PS drawn from the seeded {@link Prng} (nonzero bytes), so the
 * same seed gives the same ciphertext; any PKCS#1 v1.5 decryptor (openssl pkeyutl) accepts it.
 */
import { constants, createPrivateKey, privateDecrypt, type KeyObject } from "node:crypto";
import forge from "node-forge";
import type { Prng } from "../clock/index.ts";
import { OverflowError, PyException, ValueError } from "./py-errors.ts";

type BigInteger = forge.jsbn.BigInteger;
const BigInt_ = forge.jsbn.BigInteger;

/** `rsa.pkcs1.DecryptionError` (a `CryptoError`); `str(e)` is `Decryption failed`. */
export class DecryptionError extends PyException {
  readonly pyType = "DecryptionError";
  constructor(message = "Decryption failed") {
    super([message]);
    this.name = "DecryptionError";
  }
}

export { OverflowError };

/** Decryption behaviour: the board's lax Adafruit-derived library or strict python-rsa. */
export type RsaDecryptMode = "lax" | "strict";

/** An RSA public key (n, e). */
export class RsaPublicKey {
  /** Modulus length in bytes (`common.byte_size(n)`): 128 for 1024-bit, 256 for 2048-bit keys. */
  readonly byteLength: number;
  /** @internal */ readonly nBI: BigInteger;
  /** @internal */ readonly eBI: BigInteger;

  constructor(
    /** Modulus. */
    readonly n: bigint,
    /** Public exponent (65537 for the board's keys). */
    readonly e: bigint = 65537n,
  ) {
    if (n <= 0n) throw new RangeError(`RSA modulus must be positive, got ${n}`);
    this.byteLength = Math.ceil(n.toString(2).length / 8);
    this.nBI = toBI(n);
    this.eBI = toBI(e);
  }
}

/** An RSA private key with CRT parameters (what `rsa.PrivateKey(n, e, d, p, q)` computes). */
export class RsaPrivateKey extends RsaPublicKey {
  /** @internal */ readonly dBI: BigInteger;
  /** @internal */ readonly pBI: BigInteger;
  /** @internal */ readonly qBI: BigInteger;
  /** @internal */ readonly dpBI: BigInteger;
  /** @internal */ readonly dqBI: BigInteger;
  /** @internal */ readonly qInvBI: BigInteger;

  constructor(
    n: bigint,
    e: bigint,
    /** Private exponent. */
    readonly d: bigint,
    /** First prime. */
    readonly p: bigint,
    /** Second prime. */
    readonly q: bigint,
  ) {
    super(n, e);
    if (p * q !== n) throw new RangeError("RSA private key: p * q != n");
    this.dBI = toBI(d);
    this.pBI = toBI(p);
    this.qBI = toBI(q);
    this.dpBI = toBI(d % (p - 1n));
    this.dqBI = toBI(d % (q - 1n));
    this.qInvBI = this.qBI.modInverse(this.pBI);
  }

  private native: KeyObject | undefined;

  /** The same key as a node:crypto KeyObject (built once), for OpenSSL's raw RSA. */
  nodeKey(): KeyObject {
    const b64 = (x: BigInteger): string => {
      const h = x.toString(16);
      return Buffer.from(h.length % 2 ? `0${h}` : h, "hex").toString("base64url");
    };
    this.native ??= createPrivateKey({
      format: "jwk",
      key: {
        kty: "RSA",
        n: b64(this.nBI),
        e: b64(this.eBI),
        d: b64(this.dBI),
        p: b64(this.pBI),
        q: b64(this.qBI),
        dp: b64(this.dpBI),
        dq: b64(this.dqBI),
        qi: b64(this.qInvBI),
      },
    });
    return this.native;
  }

  /** The public half. */
  publicKey(): RsaPublicKey {
    return new RsaPublicKey(this.n, this.e);
  }
}

/**
 * PKCS#1 v1.5 encryption (`rsa.encrypt(message, pub_key)`), padding bytes from `prng`.
 * @throws OverflowError when `message` is longer than `k - 11` bytes (python-rsa's text).
 */
export function rsaEncrypt(message: Uint8Array, key: RsaPublicKey, prng: Prng): Uint8Array {
  const k = key.byteLength;
  const maxLength = k - 11;
  if (message.length > maxLength) {
    throw new OverflowError(
      `${message.length} bytes needed for message, but there is only space for ${maxLength}`,
    );
  }
  const padded = new Uint8Array(k);
  padded[1] = 0x02;
  for (let i = 2; i < k - message.length - 1; i++) {
    let b = 0;
    while (b === 0) b = prng.nextUint32() & 0xff;
    padded[i] = b;
  }
  padded.set(message, k - message.length);
  // padded < n (its first byte is 0): c = padded^e mod n on native bigints, square-and-multiply
  // (17 squarings for e = 65537): 61 µs per 1024-bit block where forge's BigInteger took 310
  return bigintToBytes(modPowBigint(bytesToBigint(padded), key.e, key.n), k);
}

/** base^exp mod m for exp ≥ 0, m > 0: right-to-left binary exponentiation. */
function modPowBigint(base: bigint, exp: bigint, m: bigint): bigint {
  let result = 1n % m;
  let b = base % m;
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
  }
  return result;
}

/** Big-endian unsigned bytes → bigint (empty → 0). */
function bytesToBigint(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString("hex")}`);
}

/** Non-negative bigint → big-endian bytes left-padded to `size` (as {@link biToBytes}). */
function bigintToBytes(x: bigint, size: number): Uint8Array {
  const hex = x.toString(16);
  const raw = Buffer.from(hex.length % 2 ? `0${hex}` : hex, "hex");
  if (raw.length > size)
    throw new RangeError(`Need ${raw.length} bytes for number, but fill size is ${size}`);
  const out = new Uint8Array(size);
  out.set(raw, size - raw.length);
  return out;
}

/** Raw RSA decryption primitive m = c^d mod n (via CRT); `c` may exceed n (it is reduced first). */
export function rsaDecryptRaw(c: BigInteger, key: RsaPrivateKey): BigInteger {
  const m1 = c.mod(key.pBI).modPow(key.dpBI, key.pBI);
  const m2 = c.mod(key.qBI).modPow(key.dqBI, key.qBI);
  const h = key.qInvBI.multiply(m1.subtract(m2)).mod(key.pBI);
  return m2.add(h.multiply(key.qBI));
}

/**
 * c^d mod n as `blocksize` big-endian bytes (`int2bytes(pow(c, d, n), blocksize)`). OpenSSL's raw
 * RSA (node:crypto, RSA_NO_PADDING: some 60x faster than forge) when c < n; it refuses c >= n, which
 * python-rsa's blinding reduces mod n first, so those take {@link rsaDecryptRaw}. Same value.
 */
function decryptToBlock(crypto: Uint8Array, key: RsaPrivateKey): Uint8Array {
  const k = key.byteLength;
  if (crypto.length <= k) {
    const c = new Uint8Array(k);
    c.set(crypto, k - crypto.length);
    try {
      return new Uint8Array(privateDecrypt({ key: key.nodeKey(), padding: constants.RSA_NO_PADDING }, c));
    } catch {
      // "data too large for modulus": c >= n, reduced below.
    }
  }
  return biToBytes(rsaDecryptRaw(bytesToBI(crypto), key), k);
}

/**
 * PKCS#1 v1.5 decryption in the chosen mode (see the module comment).
 * @throws DecryptionError when the mode's checks fail
 * @throws ValueError (`lax` only) for an empty block, as `int(b"", 16)` does on the board
 */
export function rsaDecrypt(crypto: Uint8Array, key: RsaPrivateKey, mode: RsaDecryptMode): Uint8Array {
  const blocksize = key.byteLength;
  if (mode === "lax") {
    // adafruit_rsa/transform.py bytes2int: int(binascii.hexlify(raw_bytes), 16)
    if (crypto.length === 0) throw new ValueError("invalid syntax for integer with base 16");
    const cleartext = decryptToBlock(crypto, key);
    const sep = cleartext.indexOf(0, 2);
    if (sep < 0) throw new DecryptionError();
    return cleartext.slice(sep + 1);
  }
  // python-rsa rsa/pkcs1.py decrypt()
  const cleartext = decryptToBlock(crypto, key);
  if (crypto.length > blocksize) throw new DecryptionError();
  const markerBad = cleartext[0] !== 0x00 || cleartext[1] !== 0x02;
  const sep = cleartext.indexOf(0, 2);
  if (markerBad || sep < 10) throw new DecryptionError();
  return cleartext.slice(sep + 1);
}

/** Big-endian unsigned bytes → BigInteger (empty → 0). */
export function bytesToBI(bytes: Uint8Array): BigInteger {
  if (bytes.length === 0) return BigInt_.ZERO;
  return new BigInt_(Buffer.from(bytes).toString("hex"), 16);
}

/** BigInteger → big-endian bytes left-padded with zeros to `size` (`int2bytes(number, fill_size)`). */
export function biToBytes(x: BigInteger, size: number): Uint8Array {
  let hex = x.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  const raw = Buffer.from(hex, "hex");
  const start = raw.length > 1 && raw[0] === 0 ? 1 : 0;
  const len = raw.length - start;
  if (len > size) throw new RangeError(`Need ${len} bytes for number, but fill size is ${size}`);
  const out = new Uint8Array(size);
  out.set(raw.subarray(start), size - len);
  return out;
}

function toBI(x: bigint): BigInteger {
  return new BigInt_(x.toString(16), 16);
}
