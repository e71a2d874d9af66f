import { createCipheriv } from "node:crypto";
import forge from "node-forge";
import { describe, expect, it } from "vitest";
import { aes, MODE_CBC, MODE_CTR, MODE_ECB } from "../../src/openmv/ucryptolib.ts";
import { ValueError } from "../../src/openmv/py-errors.ts";

const key32 = Uint8Array.from({ length: 32 }, (_, i) => i * 5 + 1);
const key16 = key32.slice(0, 16);
const iv = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const plain = Uint8Array.from({ length: 96 }, (_, i) => (i * 37) & 0xff);

function pyError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValueError) return `${e.pyType}: ${e.str()}`;
    throw e;
  }
  return "no error";
}

/** node-forge's AES (pure JavaScript, independent of OpenSSL), no padding, over `chunks` in one stream. */
function forgeAes(
  dir: "enc" | "dec",
  k: Uint8Array,
  mode: "CBC" | "ECB",
  v: Uint8Array | null,
  data: Uint8Array,
): Buffer {
  const bin = (b: Uint8Array) => Buffer.from(b).toString("binary");
  const c =
    dir === "enc"
      ? forge.cipher.createCipher(`AES-${mode}`, bin(k))
      : forge.cipher.createDecipher(`AES-${mode}`, bin(k));
  c.start(v ? { iv: bin(v) } : {});
  c.update(forge.util.createBuffer(bin(data)));
  return Buffer.from(c.output.getBytes(), "binary");
}

describe("ucryptolib.aes (extmod/modcryptolib.c)", () => {
  it("gives node-forge's bytes (the JavaScript AES this model used before) for every key, mode and split", () => {
    let x = 7;
    const rnd = (n: number) =>
      Uint8Array.from({ length: n }, () => (x = (x * 1103515245 + 12345) >>> 0) >>> 24);
    for (const keyBytes of [16, 32]) {
      for (const mode of [MODE_CBC, MODE_ECB]) {
        for (const blocks of [1, 2, 7, 40]) {
          const k = rnd(keyBytes);
          const v = rnd(16);
          const data = rnd(16 * blocks);
          const name = mode === MODE_CBC ? "CBC" : "ECB";
          const cut = 16 * Math.floor(blocks / 2);
          const e = aes(k, mode, mode === MODE_CBC ? v : null);
          const ours = Buffer.concat([e.encrypt(data.subarray(0, cut)), e.encrypt(data.subarray(cut))]);
          const theirs = forgeAes("enc", k, name, mode === MODE_CBC ? v : null, data);
          expect(ours.equals(theirs)).toBe(true);
          const d = aes(k, mode, mode === MODE_CBC ? v : null);
          const back = Buffer.concat([d.decrypt(ours.subarray(0, cut)), d.decrypt(ours.subarray(cut))]);
          expect(back.equals(Buffer.from(data))).toBe(true);
          expect(forgeAes("dec", k, name, mode === MODE_CBC ? v : null, ours).equals(Buffer.from(data))).toBe(
            true,
          );
        }
      }
    }
  });

  it("AES-256-CBC matches OpenSSL (node:crypto) with no padding, state carried across calls", () => {
    const ref = createCipheriv("aes-256-cbc", key32, iv).setAutoPadding(false).update(plain);
    const a = aes(key32, MODE_CBC, iv);
    const parts = [
      a.encrypt(plain.subarray(0, 16)),
      a.encrypt(plain.subarray(16, 64)),
      a.encrypt(plain.subarray(64)),
    ];
    expect(Buffer.concat(parts).equals(ref)).toBe(true);
    const d = aes(key32, MODE_CBC, iv);
    const back = Buffer.concat([d.decrypt(ref.subarray(0, 48)), d.decrypt(ref.subarray(48))]);
    expect(back.equals(Buffer.from(plain))).toBe(true);
  });

  it("AES-128-ECB matches OpenSSL and writes into a given output buffer", () => {
    const ref = createCipheriv("aes-128-ecb", key16, null).setAutoPadding(false).update(plain);
    const out = new Uint8Array(100);
    const r = aes(key16, MODE_ECB).encrypt(plain, out);
    expect(r).toBe(out);
    expect(Buffer.from(out.subarray(0, 96)).equals(ref)).toBe(true);
    expect(out[96]).toBe(0);
  });

  it("raises the firmware's ValueError messages", () => {
    expect(pyError(() => aes(key32, 3, iv))).toBe("ValueError: mode");
    expect(pyError(() => aes(key32, MODE_CTR, iv))).toBe("ValueError: mode"); // CTR not built on mimxrt
    expect(pyError(() => aes(key32.subarray(0, 31), MODE_CBC, iv))).toBe("ValueError: key");
    expect(pyError(() => aes(new Uint8Array(0), MODE_ECB))).toBe("ValueError: key");
    expect(pyError(() => aes(key32, MODE_CBC))).toBe("ValueError: IV");
    expect(pyError(() => aes(key32, MODE_CBC, iv.subarray(0, 15)))).toBe("ValueError: IV");
    expect(pyError(() => aes(key32, MODE_ECB, iv.subarray(0, 8)))).toBe("ValueError: IV");
    // mode is checked before the key (modcryptolib.c order)
    expect(pyError(() => aes(new Uint8Array(3), 9))).toBe("ValueError: mode");
    expect(pyError(() => aes(key32, MODE_CBC, iv).encrypt(plain.subarray(0, 17)))).toBe(
      "ValueError: blksize % 16",
    );
    expect(pyError(() => aes(key32, MODE_CBC, iv).decrypt(plain, new Uint8Array(95)))).toBe(
      "ValueError: output too small",
    );
    const a = aes(key32, MODE_CBC, iv);
    a.encrypt(plain.subarray(0, 16));
    expect(pyError(() => a.decrypt(plain.subarray(0, 16)))).toBe("ValueError: can't encrypt & decrypt");
    const b = aes(key32, MODE_ECB);
    b.decrypt(plain.subarray(0, 16));
    expect(pyError(() => b.encrypt(plain.subarray(0, 16)))).toBe("ValueError: can't encrypt & decrypt");
  });

  it("a failed length check does not fix the direction", () => {
    const a = aes(key32, MODE_CBC, iv);
    expect(pyError(() => a.decrypt(plain.subarray(0, 5)))).toBe("ValueError: blksize % 16");
    expect(a.encrypt(plain.subarray(0, 16)).length).toBe(16);
  });
});
