import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  formatPrivateKeyDecimal,
  formatPublicKeyFile,
  KeyFileError,
  parsePrivateKeyFile,
  parsePublicKeyFile,
  pyIntBase10,
} from "../../src/openmv/key-files.ts";
import { ValueError } from "../../src/openmv/py-errors.ts";

const KEYS = join(import.meta.dirname, "../../scenarios/keys");

function keyFileError(fn: () => unknown): KeyFileError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KeyFileError) return e;
    throw e;
  }
  throw new Error("expected a KeyFileError");
}

describe("key files", () => {
  it("221.pub holds the modulus of 221.pem (1024 and 2048 bit)", () => {
    for (const bits of [1024, 2048]) {
      const pub = parsePublicKeyFile(readFileSync(join(KEYS, `rsa${bits}/221.pub`), "utf8"), "221.pub");
      const priv = parsePrivateKeyFile(readFileSync(join(KEYS, `rsa${bits}/221.pem`), "utf8"), "221.pem");
      const dec = parsePrivateKeyFile(readFileSync(join(KEYS, `rsa${bits}/221.priv`), "utf8"), "221.priv");
      expect(pub.n).toBe(priv.n);
      expect(pub.e).toBe(65537n);
      expect(pub.byteLength).toBe(bits / 8);
      expect(dec.d).toBe(priv.d);
      expect(formatPublicKeyFile(pub)).toBe(readFileSync(join(KEYS, `rsa${bits}/221.pub`), "utf8"));
      expect(parsePrivateKeyFile(formatPrivateKeyDecimal(priv), "x").q).toBe(priv.q);
    }
  });

  it("MicroPython int(): whitespace and CRLF accepted, anything else is the board's ValueError", () => {
    expect(pyIntBase10("  123\r\n")).toBe(123n);
    expect(pyIntBase10("-7")).toBe(-7n);
    for (const bad of ["", "\n", "12a", "0x1F", "1 2", "1.0", "abc"]) {
      expect(() => pyIntBase10(bad)).toThrow(new ValueError("invalid syntax for integer with base 10"));
    }
    expect(() => pyIntBase10("12a\n", "detailed")).toThrow(
      new ValueError("invalid syntax for integer with base 10: '12a\\n'"),
    );
    expect(() => pyIntBase10("x", "terse")).toThrow(new ValueError("invalid syntax for integer"));
  });

  it("a malformed .pub gives a KeyFileError naming file and line, carrying the board's ValueError", () => {
    const e = keyFileError(() => parsePublicKeyFile("-----BEGIN PUBLIC KEY-----\nMIGf\n", "/sdcard/221.pub"));
    expect(e.file).toBe("/sdcard/221.pub");
    expect(e.line).toBe(1);
    expect(e.message).toBe(
      '/sdcard/221.pub:1: expected the RSA modulus as a decimal integer, found "-----BEGIN PUBLIC KEY-----\\n"',
    );
    expect(e.pyError?.str()).toBe("invalid syntax for integer with base 10");
    expect(keyFileError(() => parsePublicKeyFile("", "e.pub")).pyError?.str()).toBe(
      "invalid syntax for integer with base 10",
    );
    const small = keyFileError(() => parsePublicKeyFile("3233\n", "tiny.pub"));
    expect(small.pyError).toBeUndefined();
    expect(small.message).toBe(
      "tiny.pub:1: expected a modulus of at least 344 bits (43 bytes), found 12 bits",
    );
  });

  it("only the first line counts, as readline() does", () => {
    const text = readFileSync(join(KEYS, "rsa1024/221.pub"), "utf8") + "garbage on line 2\n";
    expect(parsePublicKeyFile(text, "221.pub").byteLength).toBe(128);
  });

  it("bad private keys name the file and the field", () => {
    expect(keyFileError(() => parsePrivateKeyFile("1\n2\n3\n", "k.priv")).message).toBe(
      "k.priv: expected 5 decimal integers n, e, d, p, q, found 3 values",
    );
    expect(keyFileError(() => parsePrivateKeyFile("15\n3\nx\n3\n5\n", "k.priv")).message).toBe(
      'k.priv:3: expected decimal integer d, found "x"',
    );
    expect(keyFileError(() => parsePrivateKeyFile("PrivateKey(15, 3, 3, 3, 7)", "k.priv")).message).toBe(
      "k.priv: expected p * q == n, found p * q != n",
    );
    expect(
      keyFileError(() => parsePrivateKeyFile("-----BEGIN RSA PRIVATE KEY-----\nxx\n", "k.pem")).line,
    ).toBe(0);
  });
});
