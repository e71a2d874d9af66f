/** `.pov` and `.pat`: hand-written byte layouts, round trips, and every validation error. */
import { describe, expect, it } from "vitest";
import {
  POV_HEADER_BYTES,
  PovFormatError,
  decodePat,
  decodePov,
  decodePovHeader,
  encodePat,
  encodePov,
  povChecksum,
  type Pattern,
} from "../../src/pov/index.ts";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));

/** A 2x1 image: red, blue. Header by hand: magic LE, version 1, w 2, h 1, size 6, reserved 0, 0. */
const TINY = hex(`31564f50 01000000 0200 0100 06000000 00000000 00000000  ff0000 0000ff`);

function errorOf(fn: () => unknown): PovFormatError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PovFormatError) return e;
    throw e;
  }
  throw new Error("no error");
}

describe(".pov", () => {
  it("encodes the seed's layout byte for byte (little-endian, as write(&header) on ARM)", () => {
    const bytes = encodePov({ width: 2, height: 1, pixels: hex("ff00000000ff") });
    expect(Buffer.from(bytes).toString("hex")).toBe(Buffer.from(TINY).toString("hex"));
    expect(POV_HEADER_BYTES).toBe(24);
  });

  it("decodes the hand-written file", () => {
    const img = decodePov(TINY, { file: "tiny.pov" });
    expect(img).toMatchObject({ width: 2, height: 1 });
    expect([...img.pixels]).toEqual([255, 0, 0, 0, 0, 255]);
  });

  it("round-trips a 360x32 image in both variants; hardened writes version 2 with the CRC", () => {
    const pixels = Uint8Array.from({ length: 360 * 32 * 3 }, (_, i) => (i * 7) & 0xff);
    for (const variant of ["as-designed", "hardened"] as const) {
      const bytes = encodePov({ width: 360, height: 32, pixels }, variant);
      expect(bytes.length).toBe(24 + 34_560);
      expect(decodePov(bytes, { variant }).pixels).toEqual(pixels);
    }
    const h = encodePov({ width: 360, height: 32, pixels }, "hardened");
    expect(h[4]).toBe(2);
    expect(new DataView(h.buffer).getUint32(16, true)).toBe(povChecksum(h, pixels));
  });

  const cases: [string, (b: Uint8Array) => Uint8Array, string][] = [
    [
      "magic",
      (b) => (b.set(hex("504f5631"), 0), b),
      "magic at offset 0: expected 0x504f5631 little-endian (bytes 31 56 4f 50), found 50 4f 56 31 (the magic in big-endian byte order: not written by the firmware)",
    ],
    [
      "magic",
      (b) => (b.set(hex("00000000"), 0), b),
      "magic at offset 0: expected 0x504f5631 little-endian (bytes 31 56 4f 50), found 00 00 00 00",
    ],
    ["version", (b) => ((b[4] = 3), b), "version at offset 4: expected 1, found 3"],
    ["width", (b) => ((b[8] = 0), b), "width at offset 8: expected 1..65535, found 0"],
    ["height", (b) => ((b[10] = 0), b), "height at offset 10: expected 1..65535, found 0"],
    ["dataSize", (b) => ((b[12] = 7), b), "dataSize at offset 12: expected width*height*3 = 6, found 7"],
    ["reserved", (b) => ((b[16] = 1), b), "reserved at offset 16: expected 0, found 0x00000001"],
    ["reserved2", (b) => ((b[23] = 0x80), b), "reserved2 at offset 20: expected 0, found 0x80000000"],
    [
      "file length",
      (b) => b.subarray(0, 29),
      "file length at offset 24: expected 24 + dataSize = 30 bytes, found 29 bytes",
    ],
    [
      "file length",
      (b) => Uint8Array.from([...b, 0]),
      "file length at offset 24: expected 24 + dataSize = 30 bytes, found 31 bytes",
    ],
    ["header", (b) => b.subarray(0, 10), "header at offset 0: expected 24 header bytes, found 10 bytes"],
  ];
  it.each(cases)("refuses a bad %s, naming field, offset, expected and found", (field, damage, message) => {
    const e = errorOf(() => decodePov(damage(TINY.slice()), { file: "x.pov" }));
    expect(e.field).toBe(field);
    expect(e.message).toBe(`x.pov: ${message}`);
    expect(e.issues[0].path).toEqual([field]);
  });

  it("the hardened reader refuses a version-1 file and a wrong CRC; the as-designed reader takes wrong pixels", () => {
    const pixels = hex("ff00000000ff");
    expect(errorOf(() => decodePov(TINY, { variant: "hardened" })).message).toBe(
      "version at offset 4: expected 2, found 1",
    );
    const h = encodePov({ width: 2, height: 1, pixels }, "hardened");
    h[POV_HEADER_BYTES] ^= 1;
    expect(errorOf(() => decodePov(h, { variant: "hardened" })).field).toBe("reserved (crc32)");
    const d = TINY.slice();
    d[POV_HEADER_BYTES] ^= 1;
    expect(() => decodePov(d)).not.toThrow();
  });

  it("checks the header alone against a file length (getImageInfo)", () => {
    expect(decodePovHeader(TINY.subarray(0, 24), { fileLength: 30 }).dataSize).toBe(6);
    expect(() => decodePovHeader(TINY.subarray(0, 24), { fileLength: 24 })).toThrow(/file length/);
  });
});

describe(".pat", () => {
  const P: Pattern[] = [
    { active: true, type: 3, color1: [255, 0, 0], color2: [0, 0, 255], speed: 10 },
    { active: false, type: 15, color1: [1, 2, 3], color2: [4, 5, 6], speed: 255 },
  ];
  // magic LE "PAT1", count 2, then 9 bytes each.
  const BYTES = hex(`31544150 02  01 03 ff0000 0000ff 0a  00 0f 010203 040506 ff`);

  it("encodes and decodes the hand-written layout", () => {
    expect(Buffer.from(encodePat(P)).toString("hex")).toBe(Buffer.from(BYTES).toString("hex"));
    expect(decodePat(BYTES)).toEqual(P);
  });

  const cases: [string, (b: Uint8Array) => Uint8Array, string][] = [
    [
      "magic",
      (b) => ((b[0] = 0x50), b),
      "magic at offset 0: expected 0x50415431 little-endian (bytes 31 54 41 50), found 50 54 41 50",
    ],
    ["patternCount", (b) => ((b[4] = 0), b), "patternCount at offset 4: expected 1..16, found 0"],
    ["patternCount", (b) => ((b[4] = 17), b), "patternCount at offset 4: expected 1..16, found 17"],
    [
      "file length",
      (b) => b.subarray(0, 22),
      "file length at offset 5: expected 5 + 9 * patternCount = 23 bytes, found 22 bytes",
    ],
    [
      "patterns[1].active",
      (b) => ((b[14] = 2), b),
      "patterns[1].active at offset 14: expected 0 or 1, found 2",
    ],
    ["patterns[0].type", (b) => ((b[6] = 16), b), "patterns[0].type at offset 6: expected 0..15, found 16"],
    [
      "patterns[1].speed",
      (b) => ((b[22] = 0), b),
      "patterns[1].speed at offset 22: expected 1..255, found 0",
    ],
    ["header", (b) => b.subarray(0, 3), "header at offset 0: expected 5 header bytes, found 3 bytes"],
  ];
  it.each(cases)("refuses a bad %s", (field, damage, message) => {
    const e = errorOf(() => decodePat(damage(BYTES.slice()), { file: "p.pat" }));
    expect(e.field).toBe(field);
    expect(e.message).toBe(`p.pat: ${message}`);
  });

  it("refuses to encode what the reader would refuse", () => {
    expect(() => encodePat([])).toThrow(/1..16/);
    expect(() => encodePat([{ ...P[0], type: 16 }])).toThrow(/type/);
    expect(() => encodePat([{ ...P[0], speed: 0 }])).toThrow(/speed/);
  });
});
