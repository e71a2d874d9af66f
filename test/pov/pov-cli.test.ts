/**
 * `cardsim pov show FILE.pov --png OUT`: the summary names what each reader says, and the PNG (read
 * back by Python's zlib, an independent decoder) shows the strip's LEDs, with missing pixels as a checker.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { povMain } from "../../sim/cli/pov.ts";
import { encodePov } from "../../src/pov/index.ts";

const DECODE = `
import sys, zlib, struct
b = open(sys.argv[1], 'rb').read()
assert b[:8] == b'\\x89PNG\\r\\n\\x1a\\n'
w, h = struct.unpack('>II', b[16:24])
idat = b''
i = 8
while i < len(b):
    n = struct.unpack('>I', b[i:i+4])[0]; t = b[i+4:i+8]
    if zlib.crc32(b[i+4:i+8+n]) != struct.unpack('>I', b[i+8+n:i+12+n])[0]: raise SystemExit('bad crc ' + t.decode())
    if t == b'IDAT': idat += b[i+8:i+8+n]
    i += 12 + n
raw = zlib.decompress(idat)
row = lambda y: raw[y*(1+w*3)+1:(y+1)*(1+w*3)]
print(w, h, row(0)[0:3].hex(), row(0)[9:12].hex(), row(h-4)[(w-4)*3:(w-3)*3].hex())
`;

describe("cardsim pov show", () => {
  it("draws a truncated image with the missing pixels as a checker", async () => {
    const dir = mkdtempSync(join(tmpdir(), "povshow-"));
    const pixels = new Uint8Array(10 * 4 * 3).fill(0x40);
    pixels.set([255, 0, 0], 0);
    const file = encodePov({ width: 10, height: 4, pixels }).subarray(0, 24 + 100);
    writeFileSync(join(dir, "torn.pov"), file);
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (s: string) => (out.push(s), true);
    let code: number;
    try {
      code = await povMain(["show", join(dir, "torn.pov"), "--png", join(dir, "t.png")]);
    } finally {
      process.stdout.write = write;
    }
    expect(code).toBe(0);
    const text = out.join("");
    expect(text).toContain(
      "as-designed reader: torn.pov: file length at offset 24: expected 24 + dataSize = 144 bytes, found 124 bytes",
    );
    expect(text).toContain("missing: 7 of 40 pixels (drawn as a checker)");
    const decoded = execFileSync("python3", ["-c", DECODE, join(dir, "t.png")])
      .toString()
      .trim();
    // 4x4 pixels per LED: first LED red, the gap after 3 pixels black, the last LED (missing) magenta.
    expect(decoded).toBe("40 16 ff0000 000000 ff00ff");
    expect(readFileSync(join(dir, "t.png")).subarray(1, 4).toString()).toBe("PNG");
  });

  it("bad usage is exit 2", async () => {
    const err = process.stderr.write.bind(process.stderr);
    process.stderr.write = () => true;
    try {
      expect(await povMain(["render"])).toBe(2);
      expect(await povMain(["show", "/nonexistent.pov"])).toBe(2);
    } finally {
      process.stderr.write = err;
    }
  });
});
