import { createCipheriv } from "node:crypto";
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

describe("ucryptolib.aes (extmod/modcryptolib.c)", () => {
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
