import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Prng } from "../../src/clock/index.ts";
import { parsePrivateKeyFile, parsePublicKeyFile } from "../../src/openmv/key-files.ts";
import {
  biToBytes,
  bytesToBI,
  DecryptionError,
  OverflowError,
  rsaDecrypt,
  rsaDecryptRaw,
  rsaEncrypt,
} from "../../src/openmv/rsa.ts";
import { ValueError } from "../../src/openmv/py-errors.ts";

const KEYS = join(import.meta.dirname, "../../scenarios/keys");
const key = (bits: number) => ({
  pub: parsePublicKeyFile(readFileSync(join(KEYS, `rsa${bits}/221.pub`), "utf8"), "221.pub"),
  priv: parsePrivateKeyFile(readFileSync(join(KEYS, `rsa${bits}/221.pem`), "utf8"), "221.pem"),
  pem: join(KEYS, `rsa${bits}/221.pem`),
  pubPem: join(KEYS, `rsa${bits}/221.pub.pem`),
});
const k1024 = key(1024);
const k2048 = key(2048);
const tmp = mkdtempSync(join(tmpdir(), "cardsim-rsa-"));

describe("RSA PKCS#1 v1.5", () => {
  it("encryption is deterministic for a seed and decryptable by openssl pkeyutl", () => {
    const msg = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
    for (const k of [k1024, k2048]) {
      const c1 = rsaEncrypt(msg, k.pub, new Prng(42));
      const c2 = rsaEncrypt(msg, k.pub, new Prng(42));
      const c3 = rsaEncrypt(msg, k.pub, new Prng(43));
      expect(Buffer.from(c1).equals(Buffer.from(c2))).toBe(true);
      expect(Buffer.from(c1).equals(Buffer.from(c3))).toBe(false);
      expect(c1.length).toBe(k.pub.byteLength);
      const f = join(tmp, `c${k.pub.byteLength}.bin`);
      writeFileSync(f, c1);
      const out = execFileSync("openssl", ["pkeyutl", "-decrypt", "-inkey", k.pem, "-in", f]);
      expect(out.equals(Buffer.from(msg))).toBe(true);
    }
  });

  it("encryption (native bigint) is forge's m^e mod n of the padded block", () => {
    const prng = new Prng(17);
    for (const k of [k1024, k2048]) {
      for (let i = 0; i < 8; i++) {
        const msg = prng.fill(new Uint8Array(1 + ((i * 13) % (k.pub.byteLength - 11))));
        const c = rsaEncrypt(msg, k.pub, prng);
        const m = rsaDecryptRaw(bytesToBI(c), k.priv); // the padded block 00 02 PS 00 msg
        const again = biToBytes(m.modPow(k.pub.eBI, k.pub.nBI), k.pub.byteLength);
        expect(Buffer.from(again).equals(Buffer.from(c))).toBe(true);
        expect(Buffer.from(rsaDecrypt(c, k.priv, "strict")).equals(Buffer.from(msg))).toBe(true);
      }
    }
  });

  it("decrypts openssl's PKCS#1 v1.5 output in both modes", () => {
    const msg = Buffer.from("0123456789abcdef");
    const f = join(tmp, "m.bin");
    writeFileSync(f, msg);
    const c = execFileSync("openssl", ["pkeyutl", "-encrypt", "-pubin", "-inkey", k1024.pubPem, "-in", f]);
    expect(Buffer.from(rsaDecrypt(c, k1024.priv, "lax")).equals(msg)).toBe(true);
    expect(Buffer.from(rsaDecrypt(c, k1024.priv, "strict")).equals(msg)).toBe(true);
  });

  it("OpenSSL's raw RSA (the fast path) gives forge's c^d mod n, blocks >= n and short blocks included", () => {
    const prng = new Prng(9);
    for (const k of [k1024, k2048]) {
      const kb = k.priv.byteLength;
      const nBytes = new Uint8Array(Buffer.from(k.priv.n.toString(16).padStart(2 * kb, "0"), "hex"));
      const blocks = [
        ...Array.from({ length: 6 }, () => prng.fill(new Uint8Array(kb))),
        new Uint8Array(kb).fill(0xff), // >= n: OpenSSL refuses, the forge path reduces it
        nBytes, // exactly n: c mod n = 0
        Uint8Array.of(1, 2, 3), // short: the same integer left-padded
        new Uint8Array(kb),
      ];
      for (const b of blocks) {
        // The lax cleartext is everything after the first zero from index 2 of int2bytes(c^d mod n, k).
        const want = biToBytes(rsaDecryptRaw(bytesToBI(b), k.priv), kb);
        const sep = want.indexOf(0, 2);
        let got: Uint8Array | string;
        try {
          got = rsaDecrypt(b, k.priv, "lax");
        } catch (e) {
          got = (e as Error).name;
        }
        expect(got).toEqual(sep < 0 ? "DecryptionError" : want.slice(sep + 1));
      }
    }
  });

  it("raises OverflowError with python-rsa's text when the message is too long", () => {
    expect(() => rsaEncrypt(new Uint8Array(118), k1024.pub, new Prng(1))).toThrow(
      new OverflowError("118 bytes needed for message, but there is only space for 117"),
    );
  });

  it("lax mode ignores the 00 02 prefix; strict mode rejects it", () => {
    // A block whose cleartext is 00 01 FF.. 00 <16 bytes>: a signature-style block, not encryption.
    const k = k1024.priv;
    const clear = new Uint8Array(128);
    clear[1] = 0x01;
    clear.fill(0xff, 2, 111);
    clear.set(
      Uint8Array.from({ length: 16 }, (_, i) => i + 1),
      112,
    );
    const forged = rawEncrypt(clear, k1024.pub.n, k1024.pub.e);
    expect(Array.from(rsaDecrypt(forged, k, "lax"))).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(() => rsaDecrypt(forged, k, "strict")).toThrow(DecryptionError);
  });

  it("lax mode: an empty block is int(b'', 16) → ValueError; no zero after index 2 → DecryptionError", () => {
    expect(() => rsaDecrypt(new Uint8Array(0), k1024.priv, "lax")).toThrow(
      new ValueError("invalid syntax for integer with base 16"),
    );
    const clear = new Uint8Array(128).fill(0x11);
    clear[0] = 0;
    const c = rawEncrypt(clear, k1024.pub.n, k1024.pub.e);
    const err = catchErr(() => rsaDecrypt(c, k1024.priv, "lax"));
    expect(err).toBeInstanceOf(DecryptionError);
    expect((err as DecryptionError).str()).toBe("Decryption failed");
    expect(() => rsaDecrypt(new Uint8Array(0), k1024.priv, "strict")).toThrow(DecryptionError);
    expect(() => rsaDecrypt(new Uint8Array(129), k1024.priv, "strict")).toThrow(DecryptionError);
  });

  it("damaged key blocks: lax outcome shares match DEVICE-FACTS (~61% / 38% / ~1%), strict rejects", () => {
    // Statistical and seeded: flip 1–4 bytes of a genuine RSA(AES key) block.
    const prng = new Prng(2024);
    const genuine = rsaEncrypt(new Prng(5).fill(new Uint8Array(32)), k1024.pub, prng);
    const trials = 800;
    let decryptionError = 0;
    let wrongLength = 0;
    let wellSized = 0;
    let strictAccepted = 0;
    for (let t = 0; t < trials; t++) {
      const c = genuine.slice();
      const flips = 1 + prng.nextInt(4);
      for (let f = 0; f < flips; f++) c[prng.nextInt(c.length)] ^= 1 + prng.nextInt(255);
      try {
        const key = rsaDecrypt(c, k1024.priv, "lax");
        if (key.length === 16 || key.length === 32) wellSized++;
        else wrongLength++;
      } catch (e) {
        if (!(e instanceof DecryptionError)) throw e;
        decryptionError++;
      }
      if (t < 200) {
        try {
          rsaDecrypt(c, k1024.priv, "strict");
          strictAccepted++;
        } catch (e) {
          if (!(e instanceof DecryptionError)) throw e;
        }
      }
    }
    // Theory: P(no zero in 126 uniform bytes) = (255/256)^126 ≈ 0.611; length 16 or 32 ≈ 0.005.
    expect(decryptionError / trials).toBeGreaterThan(0.56);
    expect(decryptionError / trials).toBeLessThan(0.66);
    expect(wrongLength / trials).toBeGreaterThan(0.33);
    expect(wrongLength / trials).toBeLessThan(0.44);
    expect(wellSized / trials).toBeLessThan(0.02);
    expect(strictAccepted).toBe(0);
  });
});

function rawEncrypt(clear: Uint8Array, n: bigint, e: bigint): Uint8Array {
  let m = BigInt("0x" + (Buffer.from(clear).toString("hex") || "0"));
  let r = 1n;
  let ee = e;
  while (ee > 0n) {
    if (ee & 1n) r = (r * m) % n;
    m = (m * m) % n;
    ee >>= 1n;
  }
  return Uint8Array.from(Buffer.from(r.toString(16).padStart(clear.length * 2, "0"), "hex"));
}

function catchErr(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}
