import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Prng } from "../../src/clock/index.ts";
import { parsePrivateKeyFile, parsePublicKeyFile } from "../../src/openmv/key-files.ts";
import { PyException } from "../../src/openmv/py-errors.ts";
import { rsaEncrypt } from "../../src/openmv/rsa.ts";
import { Sensor } from "../../src/openmv/sensor.ts";
import {
  decryptEnc,
  decryptEncChecked,
  decryptEncV2,
  EncFormatError,
  EncIntegrityError,
  EncKeyError,
  encryptEnc,
  encryptEncV2,
  EncTruncatedError,
  encV1Size,
  encV2Size,
} from "../../src/pipeline/enc-format.ts";

const KEYS = join(import.meta.dirname, "../../scenarios/keys");
const load = (bits: number) => ({
  pub: parsePublicKeyFile(readFileSync(join(KEYS, `rsa${bits}/221.pub`), "utf8"), "221.pub"),
  priv: parsePrivateKeyFile(readFileSync(join(KEYS, `rsa${bits}/221.pem`), "utf8"), "221.pem"),
  pem: join(KEYS, `rsa${bits}/221.pem`),
  pubPem: join(KEYS, `rsa${bits}/221.pub.pem`),
});
const k1024 = load(1024);
const k2048 = load(2048);
const jpeg = new Sensor({ seed: 7 }).snapshot().compress(50).bytearray();
const tmp = mkdtempSync(join(tmpdir(), "cardsim-enc-"));

/** The board's exception as `Type: message`, as the script's log line would show it. */
function boardError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof PyException) return `${e.pyType}: ${e.str()}`;
    throw e;
  }
  return "no error";
}

function openssl(args: string[]): Buffer {
  return execFileSync("openssl", args);
}

describe(".enc v1 (board format)", () => {
  it("has the DEVICE-FACTS layout and size, and the same seed gives the same bytes", () => {
    const a = encryptEnc(jpeg, k1024.pub, new Prng(1));
    const b = encryptEnc(jpeg, k1024.pub, new Prng(1));
    expect(a.length).toBe(256 + 16 * (Math.floor(jpeg.length / 16) + 1));
    expect(a.length).toBe(encV1Size(jpeg.length, 128));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(encryptEnc(jpeg, k1024.pub, new Prng(2))).equals(Buffer.from(a))).toBe(false);
    expect(encryptEnc(jpeg, k2048.pub, new Prng(1)).length).toBe(
      512 + 16 * (Math.floor(jpeg.length / 16) + 1),
    );
  });

  it("a simulator .enc decrypts with openssl (pkeyutl for key and IV, enc -d for the JPEG)", () => {
    for (const k of [k1024, k2048]) {
      const kb = k.pub.byteLength;
      const enc = encryptEnc(jpeg, k.pub, new Prng(3));
      const f = (name: string, data: Uint8Array) => {
        const p = join(tmp, `${kb}-${name}`);
        writeFileSync(p, data);
        return p;
      };
      const aesKey = openssl([
        "pkeyutl",
        "-decrypt",
        "-inkey",
        k.pem,
        "-in",
        f("key.bin", enc.subarray(0, kb)),
      ]);
      const iv = openssl([
        "pkeyutl",
        "-decrypt",
        "-inkey",
        k.pem,
        "-in",
        f("iv.bin", enc.subarray(kb, 2 * kb)),
      ]);
      expect(aesKey.length).toBe(32);
      expect(iv.length).toBe(16);
      const body = f("body.bin", enc.subarray(2 * kb));
      const plain = openssl([
        "enc",
        "-d",
        "-aes-256-cbc",
        "-K",
        aesKey.toString("hex"),
        "-iv",
        iv.toString("hex"),
        "-in",
        body,
      ]);
      expect(plain.equals(Buffer.from(jpeg))).toBe(true);
      expect(Buffer.from(decryptEnc(enc, k.priv, "lax")).equals(Buffer.from(jpeg))).toBe(true);
    }
  });

  it("an openssl-built .enc decrypts in the simulator (lax and strict)", () => {
    const key = Buffer.from(new Prng(9).fill(new Uint8Array(32)));
    const iv = Buffer.from(new Prng(10).fill(new Uint8Array(16)));
    const w = (name: string, data: Uint8Array) => {
      const p = join(tmp, `ossl-${name}`);
      writeFileSync(p, data);
      return p;
    };
    const encKey = openssl(["pkeyutl", "-encrypt", "-pubin", "-inkey", k1024.pubPem, "-in", w("k", key)]);
    const encIv = openssl(["pkeyutl", "-encrypt", "-pubin", "-inkey", k1024.pubPem, "-in", w("iv", iv)]);
    const body = openssl([
      "enc",
      "-aes-256-cbc",
      "-K",
      key.toString("hex"),
      "-iv",
      iv.toString("hex"),
      "-in",
      w("jpg", jpeg),
    ]);
    const enc = Buffer.concat([encKey, encIv, body]);
    expect(Buffer.from(decryptEnc(enc, k1024.priv, "lax")).equals(Buffer.from(jpeg))).toBe(true);
    expect(Buffer.from(decryptEnc(enc, k1024.priv, "strict")).equals(Buffer.from(jpeg))).toBe(true);
  });

  it("damaged or mismatched files raise the board's exceptions", () => {
    const enc = encryptEnc(jpeg, k1024.pub, new Prng(4));
    // Wrong key: RSA(AES key) made for another key → lax decrypt → wrong length key or DecryptionError.
    const other = encryptEnc(jpeg, k2048.pub, new Prng(4)).subarray(0, 128);
    const mismatched = enc.slice();
    mismatched.set(other, 0);
    expect(["ValueError: key", "DecryptionError: Decryption failed"]).toContain(
      boardError(() => decryptEnc(mismatched, k1024.priv, "lax")),
    );
    // An RSA block carrying a 31-byte key reproduces the seed's "key" line exactly.
    const shortKey = enc.slice();
    shortKey.set(rsaEncrypt(new Uint8Array(31).fill(1), k1024.pub, new Prng(5)), 0);
    expect(boardError(() => decryptEnc(shortKey, k1024.priv, "lax"))).toBe("ValueError: key");
    const shortIv = enc.slice();
    shortIv.set(rsaEncrypt(new Uint8Array(15).fill(1), k1024.pub, new Prng(5)), 128);
    expect(boardError(() => decryptEnc(shortIv, k1024.priv, "lax"))).toBe("ValueError: IV");
    // Truncations: inside the body, exactly after the IV block, inside the IV block, empty file.
    expect(boardError(() => decryptEnc(enc.subarray(0, enc.length - 5), k1024.priv, "lax"))).toBe(
      "ValueError: blksize % 16",
    );
    expect(boardError(() => decryptEnc(enc.subarray(0, 256), k1024.priv, "lax"))).toBe(
      "IndexError: bytes index out of range",
    );
    expect(boardError(() => decryptEnc(enc.subarray(0, 128), k1024.priv, "lax"))).toBe(
      "ValueError: invalid syntax for integer with base 16",
    );
    expect(boardError(() => decryptEnc(new Uint8Array(0), k1024.priv, "lax"))).toBe(
      "ValueError: invalid syntax for integer with base 16",
    );
  });

  it("the checked reader names the offset and expected size of a truncated file", () => {
    const enc = encryptEnc(jpeg, k1024.pub, new Prng(4));
    const cut = enc.subarray(0, enc.length - 5);
    let err: unknown;
    try {
      decryptEncChecked(cut, k1024.priv, "lax");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EncTruncatedError);
    const t = err as EncTruncatedError;
    expect(t.offset).toBe(cut.length);
    expect(t.message).toBe(
      `.enc offset ${cut.length}: expected AES body of whole 16-byte blocks (file size ${enc.length} or ${enc.length - 16}), found ${cut.length - 256} body bytes (${cut.length} bytes in all)`,
    );
    expect(() => decryptEncChecked(enc.subarray(0, 100), k1024.priv, "lax")).toThrow(
      ".enc offset 100: expected RSA key block: at least 272 bytes (2 RSA blocks of 128 + 16), found end of file at 100 bytes",
    );
    const shortKey = enc.slice();
    shortKey.set(rsaEncrypt(new Uint8Array(31).fill(1), k1024.pub, new Prng(5)), 0);
    expect(() => decryptEncChecked(shortKey, k1024.priv, "lax")).toThrow(EncKeyError);
  });
});

describe(".enc v2 (hardened)", () => {
  const v2 = encryptEncV2(jpeg, k1024.pub, new Prng(11));

  it("round-trips, is deterministic and has the documented size", () => {
    expect(v2.length).toBe(encV2Size(jpeg.length, 128));
    expect(Buffer.from(encryptEncV2(jpeg, k1024.pub, new Prng(11))).equals(Buffer.from(v2))).toBe(true);
    expect(Buffer.from(decryptEncV2(v2, k1024.priv)).equals(Buffer.from(jpeg))).toBe(true);
  });

  it("detects every single-byte change with a typed error (never returns wrong bytes)", () => {
    const prng = new Prng(12);
    for (let t = 0; t < 60; t++) {
      const bad = v2.slice();
      const at = t < 16 ? t : prng.nextInt(bad.length);
      bad[at] ^= 1 + prng.nextInt(255);
      let err: unknown;
      try {
        decryptEncV2(bad, k1024.priv);
      } catch (e) {
        err = e;
      }
      expect(
        err instanceof EncFormatError ||
          err instanceof EncTruncatedError ||
          err instanceof EncKeyError ||
          err instanceof EncIntegrityError,
        `byte ${at}: ${String(err)}`,
      ).toBe(true);
    }
  });

  it("names what is wrong", () => {
    expect(() => decryptEncV2(v2.subarray(0, v2.length - 1), k1024.priv)).toThrow(
      `.enc offset ${v2.length - 1}: expected file of ${v2.length} bytes, found end of file at ${v2.length - 1} bytes`,
    );
    expect(() => decryptEncV2(encryptEnc(jpeg, k1024.pub, new Prng(1)), k1024.priv)).toThrow(EncFormatError);
    expect(() => decryptEncV2(v2, k2048.priv)).toThrow(
      ".enc offset 6: expected RSA block of 256 bytes (this key), found 128 bytes",
    );
    const tagFlip = v2.slice();
    tagFlip[tagFlip.length - 1] ^= 1;
    expect(() => decryptEncV2(tagFlip, k1024.priv)).toThrow(EncIntegrityError);
    const bodyFlip = v2.slice();
    bodyFlip[16 + 128 + 5] ^= 0x40;
    expect(() => decryptEncV2(bodyFlip, k1024.priv)).toThrow(EncIntegrityError);
  });
});
