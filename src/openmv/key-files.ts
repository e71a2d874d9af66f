/**
 * Key files used by the reporter's pipeline (seed 000) and by the simulator's decryptor.
 *
 * Public key `<id>.pub` (read on the board): the modulus n as one decimal integer on the first line,
 * e = 65537. The board turns that line into a number with MicroPython's `int()`
 * (py/parsenum.c `mp_parse_num_integer`): leading/trailing whitespace (including `\r\n`) is skipped, an
 * optional sign, then decimal digits only; anything else raises
 * `ValueError("invalid syntax for integer with base 10")` (MICROPY_ERROR_REPORTING_NORMAL; a DETAILED
 * build appends `: '<text>'`, selectable with {@link IntErrorReporting}).
 *
 * Private key (read only by the host-side decryptor, never by the board's main.py) — two formats:
 * - PEM: PKCS#1 `BEGIN RSA PRIVATE KEY` or unencrypted PKCS#8 `BEGIN PRIVATE KEY` (what `openssl genrsa`
 *   writes and `openssl pkeyutl -inkey` reads);
 * - the board's `enc_priv.py` style: the five decimal integers of `rsa.PrivateKey(n, e, d, p, q)`,
 *   separated by whitespace and/or commas, optionally wrapped in `PrivateKey(...)`.
 */
import forge from "node-forge";
import { ValueError } from "./py-errors.ts";
import { RsaPrivateKey, RsaPublicKey } from "./rsa.ts";

/** MicroPython error-reporting level, which changes the text of `int()` errors. */
export type IntErrorReporting = "terse" | "normal" | "detailed";

/**
 * A key file that cannot be used: names the file, the 1-based line and what was expected.
 * `pyError` is the exception the board's Python raises on the same bytes (when it raises one).
 */
export class KeyFileError extends Error {
  constructor(
    /** Path or name of the key file. */
    readonly file: string,
    /** 1-based line number of the offending text (0 when not line-specific). */
    readonly line: number,
    /** What was expected there. */
    readonly expected: string,
    /** What was found (shortened). */
    readonly found: string,
    /** The exception the board raises for this input, if any. */
    readonly pyError?: ValueError,
  ) {
    super(`${file}${line > 0 ? `:${line}` : ""}: expected ${expected}, found ${found}`);
    this.name = "KeyFileError";
  }
}

const PY_SPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);

/**
 * MicroPython `int(text)` with base 10 (py/parsenum.c): returns the value or throws the board's
 * `ValueError`.
 */
export function pyIntBase10(text: string, reporting: IntErrorReporting = "normal"): bigint {
  let i = 0;
  const top = text.length;
  while (i < top && PY_SPACE.has(text.charCodeAt(i))) i++;
  let neg = false;
  if (i < top && (text[i] === "+" || text[i] === "-")) {
    neg = text[i] === "-";
    i++;
  }
  const start = i;
  while (i < top && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
  const digits = text.slice(start, i);
  let j = i;
  while (j < top && PY_SPACE.has(text.charCodeAt(j))) j++;
  if (digits.length === 0 || j !== top) {
    if (reporting === "terse") throw new ValueError("invalid syntax for integer");
    if (reporting === "normal") throw new ValueError("invalid syntax for integer with base 10");
    throw new ValueError(`invalid syntax for integer with base 10: ${pyQuote(text.slice(start))}`);
  }
  const v = BigInt(digits);
  return neg ? -v : v;
}

/**
 * Parses `<id>.pub` text as main.py does (`int()` of the first line) and returns the public key.
 * @param file name used in the error message
 * @throws KeyFileError with `pyError` = the board's `ValueError` when the line is not an integer;
 *   without `pyError` when the integer cannot be an RSA modulus (the board would fail later)
 */
export function parsePublicKeyFile(
  text: string,
  file: string,
  reporting: IntErrorReporting = "normal",
): RsaPublicKey {
  const nl = text.indexOf("\n");
  const first = nl < 0 ? text : text.slice(0, nl + 1);
  let n: bigint;
  try {
    n = pyIntBase10(first, reporting);
  } catch (e) {
    if (e instanceof ValueError) {
      throw new KeyFileError(file, 1, "the RSA modulus as a decimal integer", describe(first), e);
    }
    throw e;
  }
  // pkcs1.encrypt needs k >= 32 + 11 bytes for the AES key; smaller moduli fail there on the board.
  if (n < 1n << 336n) {
    throw new KeyFileError(
      file,
      1,
      "a modulus of at least 344 bits (43 bytes)",
      `${n.toString(2).length} bits`,
    );
  }
  return new RsaPublicKey(n, 65537n);
}

/** Writes a `<id>.pub` file's text for `key` (decimal modulus, newline). */
export function formatPublicKeyFile(key: RsaPublicKey): string {
  return `${key.n.toString(10)}\n`;
}

/** Parses a private key in PEM (PKCS#1 / PKCS#8) or the n,e,d,p,q decimal format. */
export function parsePrivateKeyFile(text: string, file: string): RsaPrivateKey {
  if (text.includes("-----BEGIN")) {
    let k: forge.pki.rsa.PrivateKey;
    try {
      k = forge.pki.privateKeyFromPem(text);
    } catch (e) {
      throw new KeyFileError(
        file,
        0,
        "a PEM RSA private key (PKCS#1 or unencrypted PKCS#8)",
        e instanceof Error ? e.message : String(e),
      );
    }
    const big = (x: forge.jsbn.BigInteger): bigint => BigInt("0x" + x.toString(16));
    return new RsaPrivateKey(big(k.n), big(k.e), big(k.d), big(k.p), big(k.q));
  }
  let body = text.trim();
  const m = /^PrivateKey\s*\(([\s\S]*)\)\s*$/.exec(body);
  if (m) body = m[1]!;
  const tokens: { value: string; line: number }[] = [];
  body.split("\n").forEach((lineText, idx) => {
    for (const t of lineText.split(/[\s,]+/)) if (t !== "") tokens.push({ value: t, line: idx + 1 });
  });
  const names = ["n", "e", "d", "p", "q"];
  if (tokens.length !== 5) {
    throw new KeyFileError(file, 0, "5 decimal integers n, e, d, p, q", `${tokens.length} values`);
  }
  const values = tokens.map((t, i) => {
    if (!/^\d+$/.test(t.value)) {
      throw new KeyFileError(file, t.line, `decimal integer ${names[i]}`, describe(t.value));
    }
    return BigInt(t.value);
  });
  const [n, e, d, p, q] = values as [bigint, bigint, bigint, bigint, bigint];
  if (p * q !== n) throw new KeyFileError(file, 0, "p * q == n", "p * q != n");
  return new RsaPrivateKey(n, e, d, p, q);
}

/** Formats a private key in the n,e,d,p,q decimal style (one integer per line). */
export function formatPrivateKeyDecimal(key: RsaPrivateKey): string {
  return [key.n, key.e, key.d, key.p, key.q].map((x) => x.toString(10)).join("\n") + "\n";
}

function describe(s: string): string {
  const t = s.length > 40 ? s.slice(0, 40) + "…" : s;
  return JSON.stringify(t);
}

/** Python `repr()` of a str, single-quoted as MicroPython prints it. */
function pyQuote(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch === q || ch === "\\") out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + q;
}
