/**
 * A fake exec for {@link FakeReplDevice} that understands exactly the code `uploadFile` and
 * `remoteSha256` send (open, `_w(b'...')`, close, the sha256 loop) over an in-memory file map, and
 * `print(json.dumps(<JSON literal>))` for `evalJson`. Not Python: anything else prints nothing.
 */
import { createHash } from "node:crypto";
import { FakePyError, type FakeExec } from "./fake-device.ts";

/** Files on the fake board, by absolute path. */
export type FakeFiles = Map<string, Uint8Array>;

/** Options of {@link fakeFilesExec}. */
export interface FakeFilesOptions {
  /** Corrupts every written chunk (flips the first byte), to test the upload's hash check. */
  corruptWrites?: boolean;
}

/** Returns an exec callback over `files`. */
export function fakeFilesExec(files: FakeFiles, options: FakeFilesOptions = {}): FakeExec {
  let open: { path: string; parts: Uint8Array[] } | null = null;
  return (code, io) => {
    const hashed = /^import hashlib, binascii\ntry:\n _f = open\(('(?:[^'\\]|\\.)*'), 'rb'\)/.exec(code);
    if (hashed) {
      const data = files.get(parsePyString(hashed[1]));
      io.print(data ? `${createHash("sha256").update(data).digest("hex")}\r\n` : "absent\r\n");
      return;
    }
    const opened = /^_f = open\(('(?:[^'\\]|\\.)*'), 'wb'\)\n_w = _f.write$/.exec(code);
    if (opened) {
      open = { path: parsePyString(opened[1]), parts: [] };
      files.set(open.path, new Uint8Array());
      return;
    }
    const wrote = /^_w\((b'.*')\)$/s.exec(code);
    if (wrote) {
      if (!open) throw new FakePyError("NameError", "name '_w' isn't defined");
      const chunk = parsePyBytes(wrote[1]);
      if (options.corruptWrites && chunk.length > 0) chunk[0] ^= 0xff;
      open.parts.push(chunk);
      files.set(open.path, new Uint8Array(Buffer.concat(open.parts)));
      io.print(`${chunk.length}\r\n`);
      return;
    }
    if (code.startsWith("_f.close()")) {
      if (!open) throw new FakePyError("NameError", "name '_f' isn't defined");
      open = null;
      return;
    }
    const json = /^import json\nprint\(json\.dumps\((.*)\)\)$/s.exec(code);
    if (json) io.print(`${JSON.stringify(JSON.parse(json[1]))}\r\n`);
  };
}

/** Decodes a `b'...'` literal as `pyBytesLiteral` writes it (plus `\n`, `\r`, `\t`). */
export function parsePyBytes(literal: string): Uint8Array {
  if (!literal.startsWith("b'") || !literal.endsWith("'"))
    throw new Error(`not a bytes literal: ${literal.slice(0, 20)}`);
  return Uint8Array.from(unescape(literal.slice(2, -1)));
}

function parsePyString(literal: string): string {
  return String.fromCodePoint(...unescape(literal.slice(1, -1)));
}

function unescape(body: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch !== "\\") {
      out.push(ch.codePointAt(0)!);
      continue;
    }
    const next = body[++i];
    if (next === "x") {
      out.push(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (next === "u" || next === "U") {
      const n = next === "u" ? 4 : 8;
      out.push(parseInt(body.slice(i + 1, i + 1 + n), 16));
      i += n;
    } else out.push({ n: 10, r: 13, t: 9 }[next as "n"] ?? next.charCodeAt(0));
  }
  return out;
}
