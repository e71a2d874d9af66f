/**
 * File upload like `mpremote fs cp`: hash on the board first and skip an unchanged file, else write
 * one `w(b'...')` per exec, then check the board's sha256 of the result.
 */
import { createHash } from "node:crypto";
import { LinkError } from "./link-error.ts";
import { pyBytesLiteral, pyStringLiteral } from "./py-literal.ts";
import type { RawRepl } from "./raw-repl.ts";

/** Options of {@link uploadFile}. */
export interface UploadOptions {
  /**
   * Bytes of file per exec. Default 4096 over raw-paste (flow-controlled, so a chunk can be large;
   * its literal is at most 4 × as long and compiles in the board's heap), 256 in classic mode
   * (mpremote's size; the board buffers the whole line).
   */
  chunkBytes?: number;
  /** Write even when the board's copy already has the same sha256. */
  force?: boolean;
  /** Called after every chunk with bytes written so far and the total. */
  onProgress?: (writtenBytes: number, totalBytes: number) => void;
}

/** What {@link uploadFile} did. */
export interface UploadResult {
  /** True when the board already had these bytes (nothing was written). */
  skipped: boolean;
  /** The file's sha256, lowercase hex. */
  sha256: string;
  /** File size in bytes. */
  bytes: number;
  /** Execs that carried file data. */
  chunks: number;
}

/** The code that prints a file's sha256 in hex, or `absent` when it cannot be opened. */
export function sha256Code(remotePath: string): string {
  return [
    "import hashlib, binascii",
    "try:",
    ` _f = open(${pyStringLiteral(remotePath)}, 'rb')`,
    "except OSError:",
    " print('absent')",
    "else:",
    " _h = hashlib.sha256()",
    " while True:",
    "  _b = _f.read(512)",
    "  if not _b: break",
    "  _h.update(_b)",
    " _f.close()",
    " print(binascii.hexlify(_h.digest()).decode())",
    " del _f, _h, _b",
  ].join("\n");
}

/** The sha256 of `remotePath` on the board, or null when the file is absent. */
export async function remoteSha256(repl: RawRepl, remotePath: string): Promise<string | null> {
  const out = (await repl.execOk(sha256Code(remotePath))).trim();
  if (out === "absent") return null;
  if (!/^[0-9a-f]{64}$/.test(out))
    throw new LinkError({
      code: "frame",
      port: repl.port,
      what: `the sha256 that ${repl.port} printed for ${remotePath} is not 64 hex digits: ${JSON.stringify(out.slice(0, 80))}`,
      hint: "does the firmware have hashlib.sha256 and binascii, or is something else printing on the board?",
    });
  return out;
}

/** Copies `localBytes` to `remotePath` on the board (its folder must exist). */
export async function uploadFile(
  repl: RawRepl,
  localBytes: Uint8Array,
  remotePath: string,
  options: UploadOptions = {},
): Promise<UploadResult> {
  const sha256 = createHash("sha256").update(localBytes).digest("hex");
  const before = await remoteSha256(repl, remotePath);
  if (before === sha256 && !options.force)
    return { skipped: true, sha256, bytes: localBytes.length, chunks: 0 };
  const step = options.chunkBytes ?? (repl.rawPasteSupported ? 4096 : 256);
  await repl.execOk(`_f = open(${pyStringLiteral(remotePath)}, 'wb')\n_w = _f.write`);
  let chunks = 0;
  let written = false;
  try {
    for (let i = 0; i < localBytes.length; i += step) {
      await repl.execOk(`_w(${pyBytesLiteral(localBytes.subarray(i, i + step))})`);
      chunks++;
      options.onProgress?.(Math.min(i + step, localBytes.length), localBytes.length);
    }
    written = true;
  } finally {
    // Close even after a failed chunk, so the board does not keep the file open. After a failed
    // chunk its error is the one reported; after the last chunk a failed close is (the link is then
    // out of the raw REPL, and the hash check below could not run).
    if (repl.inRawRepl) {
      const closing = repl.exec("_f.close()\ndel _f, _w");
      if (written) await closing;
      else await closing.catch(() => undefined);
    }
  }
  const after = await remoteSha256(repl, remotePath);
  if (after !== sha256)
    throw new LinkError({
      code: "upload-mismatch",
      port: repl.port,
      what: `${remotePath} on ${repl.port} has sha256 ${after ?? "(absent)"} after upload, expected ${sha256}`,
      hint: "is the filesystem full or read-only (USB mass storage mounted on the PC?), or are bytes lost on the line?",
    });
  return { skipped: false, sha256, bytes: localBytes.length, chunks };
}
