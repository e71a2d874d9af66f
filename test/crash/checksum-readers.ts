// The checksum readers of the crash-engine fixtures (workload.ts) in a module of their own, so a sweep
// worker loads them without the fixtures' FAT runtime and mkfs (a built worker compiles a TypeScript
// readers module through tsx, and compiles every module it imports).
import { crc32 } from "node:zlib";
import type { ReaderRule } from "../../src/crash/index.ts";

const MAGIC = 0x4b534d43; // "CMSK"

/** `payload` wrapped as MAGIC | length | crc32(payload) | payload (little-endian). */
export function sealed(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, payload.length, true);
  dv.setUint32(8, crc32(payload), true);
  out.set(payload, 12);
  return out;
}

/** Verifies {@link sealed} content; throws a clear error when it does not check. */
export function unseal(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 12)
    throw new Error(`checksum reader: ${bytes.length} bytes, shorter than the 12-byte header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (dv.getUint32(0, true) !== MAGIC) throw new Error("checksum reader: bad magic");
  const n = dv.getUint32(4, true);
  if (n !== bytes.length - 12)
    throw new Error(`checksum reader: length ${n} but ${bytes.length - 12} payload bytes`);
  const payload = bytes.subarray(12);
  if (crc32(payload) !== dv.getUint32(8, true)) throw new Error("checksum reader: crc32 mismatch");
  return payload;
}

/** Reader rules: `.chk` files are verified by checksum; everything else raw. */
export const readers: ReaderRule[] = [
  { match: ".chk", reader: { name: "checksum", check: (c) => void unseal(c.bytes) } },
];
