/**
 * `.enc` files (src/pipeline/enc-format.ts), damaged: truncated at and around every field boundary,
 * bit-flipped and spliced, given wrong lengths, RSA blocks replaced (zeros, all ones, n, n + c, random,
 * PKCS#1 blocks with a bad marker, no separator, short padding or a key of the wrong length) and AES
 * bodies re-encrypted with bad PKCS#7 padding (v2 files re-tagged, so the padding check is reached).
 * Each file goes through every decryptor, with these properties:
 *
 * - the board's steps (`decryptEnc`, lax and strict RSA) end in the firmware's own exceptions, with
 *   DEVICE-FACTS' exact texts (`DecryptionError: Decryption failed`, `ValueError: key`, `ValueError:
 *   IV`, `ValueError: blksize % 16`, `IndexError: bytes index out of range`, `ValueError: invalid
 *   syntax for integer with base 16`), or return bytes (the board decrypts damage silently);
 * - the checked decryptors (`decryptEncChecked`, `decryptEncV2`) return or throw an `EncError` whose
 *   offset lies in the file;
 * - v2 never returns wrong bytes: it accepts a file only when the file is exactly the encryption of
 *   what it returned, under the key and IV its RSA block holds (header, body, padding and tag rebuilt);
 * - where openssl is an oracle (on a sample of cases, `opensslEvery`): each RSA block below n decrypts
 *   under `openssl pkeyutl` exactly when strict RSA decrypts it, to the same bytes; the AES body
 *   decrypts under `openssl enc -d -nopad` to our bytes, and `openssl enc -d` accepts its padding
 *   exactly when PKCS#7 holds, to the plaintext the board returns.
 *
 * Anything else (another exception, a wrong text, a wrong acceptance) is a crash.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { Prng } from "../../src/clock/index.ts";
import { parsePrivateKeyFile, parsePublicKeyFile } from "../../src/openmv/key-files.ts";
import { PyException } from "../../src/openmv/py-errors.ts";
import { biToBytes, bytesToBI, rsaDecrypt, type RsaPrivateKey } from "../../src/openmv/rsa.ts";
import { aes, MODE_CBC } from "../../src/openmv/ucryptolib.ts";
import {
  decryptEnc,
  decryptEncChecked,
  decryptEncV2,
  ENC_V2_HEADER_BYTES,
  EncError,
  encryptEnc,
  encryptEncV2,
  pkcs7Pad,
  v2Tag,
} from "../../src/pipeline/enc-format.ts";
import type { Surface } from "./harness.ts";
import { mutatedBytes } from "./parsers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The firmware's exceptions on a damaged `.enc` (DEVICE-FACTS.md, "ucryptolib" and "seed 000"). */
export const BOARD_ERRORS = new Set([
  "DecryptionError: Decryption failed",
  "ValueError: key",
  "ValueError: IV",
  "ValueError: blksize % 16",
  "IndexError: bytes index out of range",
  "ValueError: invalid syntax for integer with base 16",
]);

interface KeySet {
  name: string;
  priv: RsaPrivateKey;
  pem: string;
}

/** One encrypted seed: the file, and what made it (to rebuild damaged variants). */
interface Seed {
  key: number;
  version: 1 | 2;
  plain: Uint8Array;
  aesKey: Uint8Array;
  iv: Uint8Array;
  file: Uint8Array;
}

type RsaDamage =
  | { kind: "fill"; byte: number }
  | { kind: "n"; delta: number }
  | { kind: "plus-n" }
  | { kind: "random"; seed: number }
  | { kind: "crafted"; marker: 0 | 1 | 2; sepAt: number; payload: number };

type Damage =
  | { kind: "bytes"; seedBytes: Uint8Array }
  | { kind: "truncate"; boundary: number; delta: number }
  | { kind: "extend"; bytes: number; value: number }
  | { kind: "rsa"; block: 0 | 1; how: RsaDamage }
  | { kind: "padding"; last: number; consistent: boolean; blocks: number }
  | { kind: "header"; field: number; value: number; retag: boolean };

export interface EncCase {
  seed: number;
  damage: Damage;
  /** Check this case against openssl too. */
  oracle: boolean;
}

function loadKeys(): KeySet[] {
  const dir = join(ROOT, "scenarios/keys");
  return ["rsa1024", "rsa2048"].map((name) => ({
    name,
    priv: parsePrivateKeyFile(readFileSync(join(dir, name, "221.pem"), "utf8"), `${name}/221.pem`),
    pem: join(dir, name, "221.pem"),
  }));
}

/** Plaintext lengths around the AES block size, and a JPEG-sized one. */
const PLAIN_LENGTHS = [0, 1, 15, 16, 17, 47, 300];

function buildSeeds(keys: KeySet[]): Seed[] {
  const seeds: Seed[] = [];
  keys.forEach((k, key) => {
    const pub = parsePublicKeyFile(`${k.priv.n}\n`, "fuzz.pub");
    for (const len of PLAIN_LENGTHS)
      for (const version of [1, 2] as const) {
        if (key === 1 && len > 47) continue; // 2048-bit: the small files only
        const plain = new Prng(len + 1).fill(new Uint8Array(len));
        const s = 1000 + 10 * len + version;
        // encryptEnc/encryptEncV2 draw the AES key, then the IV, first from their Prng.
        const draw = new Prng(s);
        const aesKey = draw.fill(new Uint8Array(32));
        const iv = draw.fill(new Uint8Array(16));
        const file =
          version === 1 ? encryptEnc(plain, pub, new Prng(s)) : encryptEncV2(plain, pub, new Prng(s));
        seeds.push({ key, version, plain, aesKey, iv, file });
      }
  });
  return seeds;
}

const DAMAGE_KINDS = ["bytes", "truncate", "extend", "rsa", "padding", "header"] as const;

function damageArb(seeds: Seed[], seed: number): fc.Arbitrary<Damage> {
  const rsa: fc.Arbitrary<RsaDamage> = fc.oneof(
    fc.record({ kind: fc.constant("fill" as const), byte: fc.constantFrom(0, 0xff, 1) }),
    fc.record({ kind: fc.constant("n" as const), delta: fc.integer({ min: -2, max: 0 }) }),
    fc.record({ kind: fc.constant("plus-n" as const) }),
    fc.record({ kind: fc.constant("random" as const), seed: fc.nat() }),
    fc.record({
      kind: fc.constant("crafted" as const),
      marker: fc.constantFrom(0 as const, 1 as const, 2 as const),
      sepAt: fc.integer({ min: 2, max: 140 }),
      payload: fc.constantFrom(0, 1, 15, 16, 17, 24, 31, 32, 33, 47, 48, 49),
    }),
  );
  return fc.constantFrom(...DAMAGE_KINDS).chain((kind): fc.Arbitrary<Damage> => {
    switch (kind) {
      case "bytes":
        return mutatedBytes([seeds[seed].file]).map((seedBytes) => ({ kind, seedBytes }));
      case "truncate":
        return fc.record({
          kind: fc.constant(kind),
          boundary: fc.nat(7),
          delta: fc.integer({ min: -2, max: 2 }),
        });
      case "extend":
        return fc.record({
          kind: fc.constant(kind),
          bytes: fc.integer({ min: 1, max: 48 }),
          value: fc.nat(255),
        });
      case "rsa":
        return fc.record({
          kind: fc.constant(kind),
          block: fc.constantFrom(0 as const, 1 as const),
          how: rsa,
        });
      case "padding":
        return fc.record({
          kind: fc.constant(kind),
          last: fc.constantFrom(0, 1, 2, 15, 16, 17, 32, 255),
          consistent: fc.boolean(),
          blocks: fc.integer({ min: 0, max: 3 }),
        });
      case "header":
        return fc.record({
          kind: fc.constant(kind),
          field: fc.nat(15),
          value: fc.nat(255),
          retag: fc.boolean(),
        });
    }
  });
}

const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** Raw RSA encryption of a k-byte block (for crafted PKCS#1 blocks). */
function rawEncrypt(block: Uint8Array, priv: RsaPrivateKey): Uint8Array {
  return biToBytes(bytesToBI(block).modPow(priv.eBI, priv.nBI), priv.byteLength);
}

function nBytes(priv: RsaPrivateKey): Uint8Array {
  return new Uint8Array(Buffer.from(priv.n.toString(16).padStart(2 * priv.byteLength, "0"), "hex"));
}

function damagedRsaBlock(how: RsaDamage, original: Uint8Array, s: Seed, priv: RsaPrivateKey): Uint8Array {
  const k = priv.byteLength;
  switch (how.kind) {
    case "fill":
      return new Uint8Array(k).fill(how.byte);
    case "n":
      return biToBytes(bytesToBI(nBytes(priv)).subtract(bytesToBI(Uint8Array.of(-how.delta))), k);
    case "plus-n": {
      // c + n when it still fits in k bytes: the same residue, an integer >= n (python-rsa reduces it).
      const sum = bytesToBI(original).add(priv.nBI);
      return sum.bitLength() <= 8 * k ? biToBytes(sum, k) : original;
    }
    case "random":
      return new Prng(how.seed).fill(new Uint8Array(k));
    case "crafted": {
      const payload = new Prng(how.payload + 7).fill(new Uint8Array(how.payload));
      if (s.version === 2 && how.payload === 48) payload.set(cat(s.aesKey, s.iv));
      const block = new Uint8Array(k).fill(0x5a);
      block[0] = how.marker === 1 ? 0x01 : 0x00;
      block[1] = how.marker === 2 ? 0x01 : 0x02;
      const sep = Math.min(how.sepAt, k - 1);
      block[sep] = 0;
      block.set(payload.subarray(0, k - sep - 1), sep + 1);
      return rawEncrypt(block, priv);
    }
  }
}

/** The damaged file of a case. */
export function damagedFile(c: EncCase, seeds: Seed[], keys: KeySet[]): Uint8Array {
  const s = seeds[c.seed];
  const priv = keys[s.key].priv;
  const k = priv.byteLength;
  const d = c.damage;
  const f = s.file;
  const bodyAt = s.version === 1 ? 2 * k : ENC_V2_HEADER_BYTES + k;
  switch (d.kind) {
    case "bytes":
      return d.seedBytes;
    case "truncate": {
      const bounds =
        s.version === 1
          ? [0, k, 2 * k, 2 * k + 16, f.length - 16, f.length - 1, k / 2, 1]
          : [0, 8, 16, 16 + k, f.length - 32, f.length - 48, f.length - 1, 4];
      const at = Math.max(0, Math.min(f.length, bounds[d.boundary] + d.delta));
      return f.slice(0, at);
    }
    case "extend":
      return cat(f, new Uint8Array(d.bytes).fill(d.value));
    case "rsa": {
      const at = s.version === 1 ? d.block * k : ENC_V2_HEADER_BYTES;
      const out = f.slice();
      out.set(damagedRsaBlock(d.how, f.subarray(at, at + k), s, priv), at);
      return out;
    }
    case "padding": {
      // Re-encrypt the body with a bad PKCS#7 tail (v2: and a fresh tag over it).
      const padded = pkcs7Pad(s.plain);
      padded[padded.length - 1] = d.last;
      if (!d.consistent && padded.length >= 2) padded[padded.length - 2] ^= 0x40;
      const grown = cat(padded, new Uint8Array(16 * d.blocks).fill(d.last));
      const body = aes(s.aesKey, MODE_CBC, s.iv).encrypt(grown);
      if (s.version === 1) return cat(f.subarray(0, bodyAt), body);
      const head = f.slice(0, bodyAt);
      new DataView(head.buffer).setUint32(12, body.length);
      const covered = cat(head, body);
      return cat(covered, v2Tag(s.aesKey, covered));
    }
    case "header": {
      const out = f.slice();
      out[d.field % Math.max(1, s.version === 1 ? out.length : 16)] = d.value;
      if (s.version === 2 && d.retag) {
        const tagAt = out.length - 32;
        out.set(v2Tag(s.aesKey, out.subarray(0, tagAt)), tagAt);
      }
      return out;
    }
  }
}

/** What a campaign exercised (a test checks the oracles were not vacuous). */
export interface EncStats {
  /** Board exceptions by text (and `bytes` when the board's steps returned). */
  board: Map<string, number>;
  /** RSA blocks openssl also decrypted / also refused; AES bodies compared; PKCS#7 valid / invalid. */
  opensslRsaOk: number;
  opensslRsaFail: number;
  opensslBodies: number;
  opensslPadValid: number;
  opensslPadInvalid: number;
  /** v2 files accepted (each checked to be canonical). */
  v2Accepted: number;
}

const tally = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);

/** `Type: message` of a board exception, or a crash. */
function boardOutcome(fn: () => Uint8Array, stats: EncStats): Uint8Array | string {
  try {
    const out = fn();
    tally(stats.board, "bytes");
    return out;
  } catch (e) {
    if (e instanceof PyException) {
      const text = `${e.pyType}: ${e.str()}`;
      tally(stats.board, text);
      if (BOARD_ERRORS.has(text)) return text;
      throw new Error(`the board's decrypt raised ${text}, not one of the firmware's errors`, { cause: e });
    }
    throw e;
  }
}

/** The checked decryptors: bytes, or an EncError located inside the file (returned, not thrown). */
function checkedOutcome(fn: () => Uint8Array, length: number): Uint8Array | EncError {
  try {
    return fn();
  } catch (e) {
    if (e instanceof EncError && Number.isInteger(e.offset) && e.offset >= 0 && e.offset <= length) return e;
    throw e;
  }
}

function strictRsa(block: Uint8Array, priv: RsaPrivateKey): Uint8Array | null {
  try {
    return rsaDecrypt(block, priv, "strict");
  } catch {
    return null;
  }
}

/** The v2 file of `plain` under the key and IV in `file`'s RSA block: what an accepted file must be. */
function canonicalV2(file: Uint8Array, plain: Uint8Array, priv: RsaPrivateKey): Uint8Array | null {
  const k = priv.byteLength;
  const keyIv = strictRsa(file.subarray(ENC_V2_HEADER_BYTES, ENC_V2_HEADER_BYTES + k), priv);
  if (!keyIv || keyIv.length !== 48) return null;
  const body = aes(keyIv.subarray(0, 32), MODE_CBC, keyIv.subarray(32)).encrypt(pkcs7Pad(plain));
  const head = file.slice(0, ENC_V2_HEADER_BYTES + k);
  new DataView(head.buffer).setUint32(8, plain.length);
  new DataView(head.buffer).setUint32(12, body.length);
  const covered = cat(head, body);
  return cat(covered, v2Tag(keyIv.subarray(0, 32), covered));
}

const equal = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/** openssl as the oracle of the RSA blocks and the AES body (see the module comment). */
class OpensslOracle {
  private readonly rsaOpts: string[];

  constructor(private readonly stats: EncStats) {
    const version = execFileSync("openssl", ["version"], { encoding: "utf8" });
    const m = /OpenSSL (\d+)\.(\d+)/.exec(version);
    // OpenSSL 3.2 answers a bad PKCS#1 v1.5 block with random bytes (implicit rejection) unless told not to.
    const implicit = m !== null && (Number(m[1]) > 3 || (Number(m[1]) === 3 && Number(m[2]) >= 2));
    this.rsaOpts = implicit ? ["-pkeyopt", "rsa_pkcs1_implicit_rejection:0"] : [];
  }

  private run(args: string[], input: Uint8Array): Uint8Array | null {
    try {
      return new Uint8Array(execFileSync("openssl", args, { input, stdio: ["pipe", "pipe", "pipe"] }));
    } catch {
      return null;
    }
  }

  /** The RSA block under openssl and under strict RSA: the same answer, when the block is below n. */
  rsa(block: Uint8Array, key: KeySet, what: string): Uint8Array | null {
    const ours = strictRsa(block, key.priv);
    const n = bytesToBI(nBytes(key.priv));
    if (block.length !== key.priv.byteLength || bytesToBI(block).compareTo(n) >= 0) return ours;
    const theirs = this.run(["pkeyutl", "-decrypt", "-inkey", key.pem, ...this.rsaOpts], block);
    if (theirs) this.stats.opensslRsaOk++;
    else this.stats.opensslRsaFail++;
    if ((ours === null) !== (theirs === null) || (ours && theirs && !equal(ours, theirs)))
      throw new Error(
        `${what}: strict RSA ${ours ? `gives ${ours.length} bytes` : "fails"}, openssl pkeyutl ${theirs ? `gives ${theirs.length} bytes` : "fails"}${ours && theirs ? " (different bytes)" : ""}`,
      );
    return ours;
  }

  /** The AES body: raw blocks as openssl's, and openssl's padding verdict and plaintext. */
  body(
    body: Uint8Array,
    aesKey: Uint8Array,
    iv: Uint8Array,
  ): { raw: Uint8Array; unpadded: Uint8Array | null } {
    const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
    const args = ["enc", "-d", "-aes-256-cbc", "-K", hex(aesKey), "-iv", hex(iv)];
    const raw = aes(aesKey, MODE_CBC, iv).decrypt(body);
    const theirsRaw = this.run([...args, "-nopad"], body);
    if (!theirsRaw || !equal(raw, theirsRaw))
      throw new Error("AES-256-CBC body: openssl enc -d -nopad gives other bytes");
    const unpadded = this.run(args, body);
    this.stats.opensslBodies++;
    if (unpadded) this.stats.opensslPadValid++;
    else this.stats.opensslPadInvalid++;
    const pad = raw[raw.length - 1];
    const valid =
      raw.length > 0 && pad >= 1 && pad <= 16 && raw.subarray(raw.length - pad).every((b) => b === pad);
    if (valid !== (unpadded !== null))
      throw new Error(`PKCS#7: ours says ${valid ? "valid" : "invalid"}, openssl enc -d says the opposite`);
    return { raw, unpadded };
  }
}

export function encSurface(options: { opensslEvery?: number } = {}): Surface<EncCase> & { stats: EncStats } {
  const keys = loadKeys();
  const seeds = buildSeeds(keys);
  const every = options.opensslEvery ?? 100;
  const stats: EncStats = {
    board: new Map(),
    opensslRsaOk: 0,
    opensslRsaFail: 0,
    opensslBodies: 0,
    opensslPadValid: 0,
    opensslPadInvalid: 0,
    v2Accepted: 0,
  };
  const oracle = every > 0 ? new OpensslOracle(stats) : undefined;
  for (const s of seeds) {
    const priv = keys[s.key].priv;
    const back = s.version === 1 ? decryptEnc(s.file, priv, "strict") : decryptEncV2(s.file, priv);
    if (!equal(back, s.plain))
      throw new Error(`enc surface: seed ${keys[s.key].name} v${s.version} does not round-trip`);
  }
  return {
    stats,
    name: ".enc files (v1 board steps, checked, v2)",
    arbitrary: fc.nat(seeds.length - 1).chain((seed) =>
      fc.record({
        seed: fc.constant(seed),
        damage: damageArb(seeds, seed),
        oracle: every > 0 ? fc.nat(every - 1).map((x) => x === 0) : fc.constant(false),
      }),
    ),
    run: (c) => {
      const s = seeds[c.seed];
      const key = keys[s.key];
      const priv = key.priv;
      const file = damagedFile(c, seeds, keys);
      const input = file.slice();
      const lax = boardOutcome(() => decryptEnc(file, priv, "lax"), stats);
      const strict = boardOutcome(() => decryptEnc(file, priv, "strict"), stats);
      const checked = checkedOutcome(() => decryptEncChecked(file, priv, "strict"), file.length);
      const v2 = checkedOutcome(() => decryptEncV2(file, priv), file.length);
      if (!equal(file, input)) throw new Error("a decryptor changed its input");
      if (checked instanceof Uint8Array && !(typeof strict !== "string" && equal(checked, strict)))
        throw new Error("decryptEncChecked returned bytes the board's strict steps do not");
      if (v2 instanceof Uint8Array) {
        stats.v2Accepted++;
        const canon = canonicalV2(file, v2, priv);
        if (!canon || !equal(canon, file))
          throw new Error(
            `decryptEncV2 accepted a file that is not the encryption of its ${v2.length} bytes`,
          );
      }
      if (c.oracle && oracle) checkWithOpenssl(oracle, file, s, key, strict);
      void lax;
      return s.version === 1
        ? checked instanceof EncError
          ? "rejected"
          : "ok"
        : v2 instanceof EncError
          ? "rejected"
          : "ok";
    },
    readOnly: (c) => (c.damage.kind === "bytes" ? c.damage.seedBytes : null),
    show: (c) =>
      `${keys[seeds[c.seed].key].name} v${seeds[c.seed].version} plain ${seeds[c.seed].plain.length} B: ${JSON.stringify(c.damage, (_, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString("hex").slice(0, 80) : v))}`,
  };
}

function checkWithOpenssl(
  o: OpensslOracle,
  file: Uint8Array,
  s: Seed,
  key: KeySet,
  strict: Uint8Array | string,
): void {
  const k = key.priv.byteLength;
  if (s.version === 1) {
    const keyBlock = o.rsa(file.subarray(0, k), key, "RSA key block");
    const ivBlock = o.rsa(file.subarray(k, 2 * k), key, "RSA IV block");
    const body = file.subarray(2 * k);
    if (!keyBlock || keyBlock.length !== 32 || !ivBlock || ivBlock.length !== 16 || body.length % 16) return;
    const { unpadded } = o.body(body, keyBlock, ivBlock);
    if (unpadded && !(strict instanceof Uint8Array && equal(strict, unpadded)))
      throw new Error("openssl enc -d unpads the body to other bytes than the board's steps");
    return;
  }
  const keyIv = o.rsa(file.subarray(ENC_V2_HEADER_BYTES, ENC_V2_HEADER_BYTES + k), key, "v2 RSA block");
  const bodyEnd = file.length - 32;
  const body = file.subarray(ENC_V2_HEADER_BYTES + k, Math.max(ENC_V2_HEADER_BYTES + k, bodyEnd));
  if (!keyIv || keyIv.length !== 48 || body.length % 16) return;
  o.body(body, keyIv.subarray(0, 32), keyIv.subarray(32));
}
