/**
 * The `.enc` hybrid-encryption container of the reporter's pipeline (seed 000, DEVICE-FACTS.md), and
 * the hardened v2 container the simulator recommends.
 *
 * ## v1 (as on the board)
 * With a k-byte RSA key (k = 128 for 1024-bit, 256 for 2048-bit):
 *
 * | offset  | size | content                                                      |
 * |---------|------|--------------------------------------------------------------|
 * | 0       | k    | RSA PKCS#1 v1.5 encryption of the 32-byte AES key            |
 * | k       | k    | RSA PKCS#1 v1.5 encryption of the 16-byte IV                 |
 * | 2k      | rest | AES-256-CBC of the PKCS#7-padded JPEG: 16·(⌊len/16⌋ + 1) bytes |
 *
 * There is no magic, length or checksum. {@link decryptEnc} replays the board script's steps, so a
 * damaged file raises exactly what the board raises:
 * `rsa.decrypt(data[0:k])` → `rsa.decrypt(data[k:2k])` → `ucryptolib.aes(key, 2, iv)` →
 * `.decrypt(data[2k:])` → unpad. The unpadding code of the script is not in seed 000; we assume the
 * usual unchecked idiom `plain[:-plain[-1]]` (no validation of the pad bytes), so an empty body raises
 * `IndexError("bytes index out of range")` and a bad pad byte silently cuts the JPEG.
 * The RSA block size is taken from the private key (the script slices at fixed 128/256 offsets that
 * match its key).
 *
 * ## v2 (hardened; the simulator's recommendation)
 *
 * | offset   | size | field                                                            |
 * |----------|------|------------------------------------------------------------------|
 * | 0        | 4    | magic `CENC` (43 45 4E 43)                                       |
 * | 4        | 1    | version = 2                                                      |
 * | 5        | 1    | flags = 0                                                        |
 * | 6        | 2    | k, RSA block length in bytes, big-endian                         |
 * | 8        | 4    | plaintext length in bytes, big-endian                           |
 * | 12       | 4    | ciphertext length in bytes, big-endian (= 16·(⌊plain/16⌋ + 1))  |
 * | 16       | k    | RSA PKCS#1 v1.5 of AES key (32) ‖ IV (16), decrypted strictly    |
 * | 16+k     | c    | AES-256-CBC of the PKCS#7-padded plaintext                       |
 * | 16+k+c   | 32   | HMAC-SHA256 over bytes [0, 16+k+c) under SHA-256("cardsim-enc-v2 mac" ‖ AES key) |
 *
 * Reading checks the header, the exact total size, strict RSA, the tag (before any decryption) and
 * the padding; every failure is a typed {@link EncError} naming the offset and what was expected.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { Prng } from "../clock/index.ts";
import { aes, MODE_CBC } from "../openmv/ucryptolib.ts";
import { IndexError, PyException } from "../openmv/py-errors.ts";
import {
  DecryptionError,
  rsaDecrypt,
  rsaEncrypt,
  type RsaDecryptMode,
  type RsaPrivateKey,
  type RsaPublicKey,
} from "../openmv/rsa.ts";

/** AES-256 key length used by the pipeline, in bytes. */
export const ENC_AES_KEY_BYTES = 32;
/** AES-CBC IV length, in bytes. */
export const ENC_IV_BYTES = 16;
/** v2 magic, "CENC". */
export const ENC_V2_MAGIC = Uint8Array.of(0x43, 0x45, 0x4e, 0x43);
/** v2 header length in bytes. */
export const ENC_V2_HEADER_BYTES = 16;
/** v2 tag length in bytes (HMAC-SHA256). */
export const ENC_V2_TAG_BYTES = 32;

/** A `.enc` file that cannot be decrypted, for the CLI and the hardened pipeline. */
export class EncError extends Error {
  constructor(
    /** Byte offset in the file where the problem was found. */
    readonly offset: number,
    /** What was expected at that offset. */
    readonly expected: string,
    /** What was found. */
    readonly found: string,
    /** Underlying exception (e.g. the board's `DecryptionError`). */
    options?: { cause?: unknown },
  ) {
    super(`.enc offset ${offset}: expected ${expected}, found ${found}`, options);
    this.name = new.target.name;
  }
}
/** The file ends before a field that must be there. */
export class EncTruncatedError extends EncError {}
/** A header field has a wrong value (magic, version, key size, lengths). */
export class EncFormatError extends EncError {}
/** The RSA block does not decrypt with this private key (damaged block or wrong key). */
export class EncKeyError extends EncError {}
/** The integrity tag does not match: the file was altered or the key is wrong. */
export class EncIntegrityError extends EncError {}

/** Size of a v1 `.enc` for a plaintext of `plainLength` bytes and a `keyBytes`-byte RSA key. */
export function encV1Size(plainLength: number, keyBytes: number): number {
  return 2 * keyBytes + paddedLength(plainLength);
}

/** Size of a v2 `.enc`. */
export function encV2Size(plainLength: number, keyBytes: number): number {
  return ENC_V2_HEADER_BYTES + keyBytes + paddedLength(plainLength) + ENC_V2_TAG_BYTES;
}

function paddedLength(n: number): number {
  return 16 * (Math.floor(n / 16) + 1);
}

/** PKCS#7 padding to a 16-byte multiple (always adds 1..16 bytes). */
export function pkcs7Pad(data: Uint8Array): Uint8Array {
  const padLen = 16 - (data.length % 16);
  const out = new Uint8Array(data.length + padLen);
  out.set(data);
  out.fill(padLen, data.length);
  return out;
}

/**
 * The board script's hybrid encryption (test1.py / main.py): AES key and IV from `prng`
 * (`os.urandom` on the board), PKCS#7, AES-256-CBC, then RSA of key and IV.
 */
export function encryptEnc(plain: Uint8Array, pub: RsaPublicKey, prng: Prng): Uint8Array {
  const key = prng.fill(new Uint8Array(ENC_AES_KEY_BYTES));
  const iv = prng.fill(new Uint8Array(ENC_IV_BYTES));
  const body = aes(key, MODE_CBC, iv).encrypt(pkcs7Pad(plain));
  const encKey = rsaEncrypt(key, pub, prng);
  const encIv = rsaEncrypt(iv, pub, prng);
  const out = new Uint8Array(encKey.length + encIv.length + body.length);
  out.set(encKey, 0);
  out.set(encIv, encKey.length);
  out.set(body, encKey.length + encIv.length);
  return out;
}

/**
 * Board-faithful decryption of a v1 `.enc` (test2.py): same steps, same exceptions
 * (`DecryptionError("Decryption failed")`, `ValueError("key")`, `ValueError("IV")`,
 * `ValueError("blksize % 16")`, `IndexError`, `ValueError("invalid syntax for integer with base 16")`
 * for an empty RSA slice). With `lax` RSA a damaged file may also decrypt to garbage without error.
 */
export function decryptEnc(data: Uint8Array, priv: RsaPrivateKey, mode: RsaDecryptMode): Uint8Array {
  const k = priv.byteLength;
  // Python slicing never fails: short files give short (or empty) slices.
  const key = rsaDecrypt(data.subarray(0, k), priv, mode);
  const iv = rsaDecrypt(data.subarray(k, 2 * k), priv, mode);
  const plain = aes(key, MODE_CBC, iv).decrypt(data.subarray(2 * k));
  if (plain.length === 0) throw new IndexError("bytes index out of range");
  const pad = plain[plain.length - 1];
  // plain[:-pad]: pad 0 gives plain[:0] (empty); pad > len gives empty too.
  return plain.slice(0, pad === 0 ? 0 : Math.max(0, plain.length - pad));
}

/**
 * Checks the v1 layout before decrypting (for the CLI): throws {@link EncTruncatedError} naming the
 * offset and the expected size when the file is too short or the AES body is not whole blocks.
 */
export function checkEncV1Layout(data: Uint8Array, keyBytes: number): void {
  const minSize = 2 * keyBytes + 16;
  if (data.length < minSize) {
    const field =
      data.length < keyBytes ? "RSA key block" : data.length < 2 * keyBytes ? "RSA IV block" : "AES body";
    throw new EncTruncatedError(
      data.length,
      `${field}: at least ${minSize} bytes (2 RSA blocks of ${keyBytes} + 16)`,
      `end of file at ${data.length} bytes`,
    );
  }
  const body = data.length - 2 * keyBytes;
  if (body % 16 !== 0) {
    const expectedSize = data.length + (16 - (body % 16));
    throw new EncTruncatedError(
      data.length,
      `AES body of whole 16-byte blocks (file size ${expectedSize} or ${expectedSize - 16})`,
      `${body} body bytes (${data.length} bytes in all)`,
    );
  }
}

/**
 * v1 decryption with typed errors: layout check, then the board's steps; any Python exception is
 * wrapped in an {@link EncError} (cause = the board's exception).
 */
export function decryptEncChecked(data: Uint8Array, priv: RsaPrivateKey, mode: RsaDecryptMode): Uint8Array {
  checkEncV1Layout(data, priv.byteLength);
  try {
    return decryptEnc(data, priv, mode);
  } catch (e) {
    if (e instanceof DecryptionError) {
      throw new EncKeyError(0, "RSA blocks that decrypt with this private key", e.message, { cause: e });
    }
    if (e instanceof PyException) {
      throw new EncKeyError(0, "a 32-byte AES key and a 16-byte IV", `${e.pyType}: ${e.message}`, {
        cause: e,
      });
    }
    throw e;
  }
}

/** Hardened v2 encryption (see the module comment). */
export function encryptEncV2(plain: Uint8Array, pub: RsaPublicKey, prng: Prng): Uint8Array {
  const k = pub.byteLength;
  const key = prng.fill(new Uint8Array(ENC_AES_KEY_BYTES));
  const iv = prng.fill(new Uint8Array(ENC_IV_BYTES));
  const body = aes(key, MODE_CBC, iv).encrypt(pkcs7Pad(plain));
  const keyIv = new Uint8Array(ENC_AES_KEY_BYTES + ENC_IV_BYTES);
  keyIv.set(key);
  keyIv.set(iv, ENC_AES_KEY_BYTES);
  const rsaBlock = rsaEncrypt(keyIv, pub, prng);
  const out = new Uint8Array(encV2Size(plain.length, k));
  const view = new DataView(out.buffer);
  out.set(ENC_V2_MAGIC, 0);
  out[4] = 2;
  out[5] = 0;
  view.setUint16(6, k);
  view.setUint32(8, plain.length);
  view.setUint32(12, body.length);
  out.set(rsaBlock, ENC_V2_HEADER_BYTES);
  out.set(body, ENC_V2_HEADER_BYTES + k);
  const tagAt = ENC_V2_HEADER_BYTES + k + body.length;
  out.set(v2Tag(key, out.subarray(0, tagAt)), tagAt);
  return out;
}

/** True when `data` starts with the v2 magic. */
export function isEncV2(data: Uint8Array): boolean {
  return data.length >= 4 && ENC_V2_MAGIC.every((b, i) => data[i] === b);
}

/** Hardened v2 decryption: every failure is a typed {@link EncError}; never returns wrong bytes. */
export function decryptEncV2(data: Uint8Array, priv: RsaPrivateKey): Uint8Array {
  if (data.length < ENC_V2_HEADER_BYTES) {
    throw new EncTruncatedError(data.length, `a ${ENC_V2_HEADER_BYTES}-byte header`, `${data.length} bytes`);
  }
  if (!isEncV2(data)) {
    throw new EncFormatError(0, 'magic "CENC"', hex(data.subarray(0, 4)));
  }
  if (data[4] !== 2) throw new EncFormatError(4, "version 2", `version ${data[4]}`);
  if (data[5] !== 0) throw new EncFormatError(5, "flags 0", `flags ${data[5]}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const k = view.getUint16(6);
  const plainLength = view.getUint32(8);
  const bodyLength = view.getUint32(12);
  if (k !== priv.byteLength) {
    throw new EncFormatError(6, `RSA block of ${priv.byteLength} bytes (this key)`, `${k} bytes`);
  }
  if (bodyLength !== paddedLength(plainLength)) {
    throw new EncFormatError(
      12,
      `ciphertext length ${paddedLength(plainLength)} for plaintext length ${plainLength}`,
      `${bodyLength}`,
    );
  }
  const total = ENC_V2_HEADER_BYTES + k + bodyLength + ENC_V2_TAG_BYTES;
  if (data.length < total) {
    throw new EncTruncatedError(data.length, `file of ${total} bytes`, `end of file at ${data.length} bytes`);
  }
  if (data.length > total) {
    throw new EncFormatError(total, `end of file at ${total} bytes`, `${data.length - total} trailing bytes`);
  }
  let keyIv: Uint8Array;
  try {
    keyIv = rsaDecrypt(data.subarray(ENC_V2_HEADER_BYTES, ENC_V2_HEADER_BYTES + k), priv, "strict");
  } catch (e) {
    throw new EncKeyError(
      ENC_V2_HEADER_BYTES,
      "an RSA block that decrypts with this private key",
      String(e),
      {
        cause: e,
      },
    );
  }
  if (keyIv.length !== ENC_AES_KEY_BYTES + ENC_IV_BYTES) {
    throw new EncKeyError(
      ENC_V2_HEADER_BYTES,
      "48 bytes of AES key and IV in the RSA block",
      `${keyIv.length} bytes`,
    );
  }
  const key = keyIv.subarray(0, ENC_AES_KEY_BYTES);
  const iv = keyIv.subarray(ENC_AES_KEY_BYTES);
  const tagAt = ENC_V2_HEADER_BYTES + k + bodyLength;
  const expectedTag = v2Tag(key, data.subarray(0, tagAt));
  if (!timingSafeEqual(expectedTag, data.subarray(tagAt, tagAt + ENC_V2_TAG_BYTES))) {
    throw new EncIntegrityError(
      tagAt,
      "HMAC-SHA256 tag matching header, RSA block and ciphertext",
      "a different tag",
    );
  }
  const padded = aes(key, MODE_CBC, iv).decrypt(data.subarray(ENC_V2_HEADER_BYTES + k, tagAt));
  const pad = padded[padded.length - 1];
  const bodyAt = ENC_V2_HEADER_BYTES + k;
  if (pad < 1 || pad > 16 || padded.length - pad !== plainLength) {
    throw new EncIntegrityError(bodyAt, `PKCS#7 padding leaving ${plainLength} bytes`, `pad byte ${pad}`);
  }
  for (let i = padded.length - pad; i < padded.length; i++) {
    if (padded[i] !== pad) throw new EncIntegrityError(bodyAt, "PKCS#7 padding bytes", `byte ${padded[i]}`);
  }
  return padded.slice(0, plainLength);
}

/** The v2 tag: HMAC-SHA256 of `covered` under SHA-256("cardsim-enc-v2 mac" ‖ AES key). */
export function v2Tag(aesKey: Uint8Array, covered: Uint8Array): Uint8Array {
  const macKey = createHash("sha256").update("cardsim-enc-v2 mac").update(aesKey).digest();
  return new Uint8Array(createHmac("sha256", macKey).update(covered).digest());
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ") || "(nothing)";
}
