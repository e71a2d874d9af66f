import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  checkImageHeaderBytes,
  encodeForSave,
  Image,
  JPEG,
  loadImageFromBytes,
  planSave,
  RGB565,
  type ByteReader,
  checkImageHeader,
} from "../../src/openmv/image.ts";
import { PyException } from "../../src/openmv/py-errors.ts";
import { GRAYSCALE, HD, Sensor, VGA } from "../../src/openmv/sensor.ts";

const tmp = mkdtempSync(join(tmpdir(), "cardsim-img-"));

function boardError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof PyException) return `${e.pyType}: ${e.str()}`;
    throw e;
  }
  return "no error";
}

/** Decodes with libjpeg-turbo's djpeg to PNM and returns the header line ("P6\n320 240"). */
function djpegHeader(bytes: Uint8Array, name: string): string {
  const f = join(tmp, name);
  writeFileSync(f, bytes);
  const out = execFileSync("djpeg", ["-pnm", f]);
  return out.subarray(0, out.indexOf(0x0a, 3)).toString("latin1");
}

describe("sensor.snapshot()", () => {
  it("gives the documented sizes and the same bytes for the same seed", () => {
    const a = new Sensor({ seed: 5 });
    const b = new Sensor({ seed: 5 });
    const fa = a.snapshot();
    expect(fa.width).toBe(320);
    expect(fa.bytearray().length).toBe(320 * 240 * 2);
    expect(Buffer.from(fa.bytearray()).equals(Buffer.from(b.snapshot().bytearray()))).toBe(true);
    a.setFramesize(HD);
    expect(a.snapshot().bytearray().length).toBe(1_843_200);
    a.setFramesize(VGA);
    a.setPixformat(GRAYSCALE);
    expect(a.snapshot().bytearray().length).toBe(640 * 480);
    expect(
      Buffer.from(new Sensor({ seed: 6 }).snapshot().bytearray()).equals(Buffer.from(fa.bytearray())),
    ).toBe(false);
  });

  it("JPEG sizes vary from frame to frame (counter, motion, noise)", () => {
    const s = new Sensor({ seed: 1 });
    const sizes = new Set<number>();
    for (let i = 0; i < 6; i++) sizes.add(s.snapshot().compress(50).size());
    expect(sizes.size).toBeGreaterThan(3);
  });
});

describe("Image.compress / to_jpeg", () => {
  it("compresses in place to a JPEG that djpeg decodes at the right size", () => {
    const img = new Sensor({ seed: 2 }).snapshot();
    expect(img.compress()).toBe(img);
    expect(img.format).toBe(JPEG);
    expect(djpegHeader(img.bytearray(), "c.jpg")).toBe("P6\n320 240");
    const g = new Sensor({ seed: 2 });
    g.setPixformat(GRAYSCALE);
    expect(djpegHeader(g.snapshot().toJpeg(30).bytearray(), "g.jpg")).toBe("P5\n320 240"); // one component, as the camera writes
  });

  it("rejects quality outside 1..100 with the firmware's ValueError", () => {
    const img = new Sensor({ seed: 2 }).snapshot();
    for (const q of [0, 101, -1, 50.5]) {
      expect(boardError(() => img.compress(q))).toBe("ValueError: Quality ranges between 0 and 100");
    }
    expect(img.format).toBe(RGB565);
  });
});

describe("Image(w, h, image.JPEG, buffer=b)", () => {
  it("wraps any bytes without validation; no buffer is the firmware's ValueError", () => {
    const junk = Uint8Array.of(1, 2, 3);
    const img = Image.create(320, 240, JPEG, junk);
    expect(img.bytearray()).toBe(junk);
    expect(boardError(() => Image.create(320, 240, JPEG))).toBe("ValueError: Expected an image buffer");
  });
});

describe("img.save() rules", () => {
  it("picks the format by extension and appends one when there is none (or an unknown one)", () => {
    expect(planSave("/sdcard/a.jpg", RGB565)).toEqual({ path: "/sdcard/a.jpg", format: "jpg" });
    expect(planSave("/sdcard/a.JPEG", JPEG)).toEqual({ path: "/sdcard/a.JPEG", format: "jpg" });
    expect(planSave("/sdcard/a", JPEG)).toEqual({ path: "/sdcard/a.jpg", format: "jpg" });
    expect(planSave("/sdcard/a", RGB565)).toEqual({ path: "/sdcard/a.bmp", format: "bmp" });
    expect(planSave("/sdcard/a.txt", JPEG)).toEqual({ path: "/sdcard/a.txt.jpg", format: "jpg" });
    expect(planSave("a.ppm", RGB565).format).toBe("pnm");
  });

  it("raises the firmware's errors", () => {
    for (const q of [0, 101]) {
      expect(boardError(() => planSave("a.jpg", RGB565, q))).toBe("OSError: Error: 1 <= quality <= 100!");
    }
    expect(boardError(() => planSave("a.bmp", JPEG))).toBe("OSError: Image is not BMP!");
    expect(boardError(() => planSave("a.ppm", GRAYSCALE))).toBe("OSError: Image is not PPM!");
    expect(boardError(() => planSave("a.pgm", RGB565))).toBe("OSError: Image is not PGM!");
    expect(boardError(() => planSave("a.raw", RGB565))).toBe("OSError: Image is not BAYER!");
  });

  it("writes a JPEG image byte for byte and compresses a raw one (djpeg decodes it)", () => {
    const raw = new Sensor({ seed: 3 }).snapshot();
    const bytes = encodeForSave(raw, planSave("x.jpg", raw.format, 50), 50);
    expect(djpegHeader(bytes, "s.jpg")).toBe("P6\n320 240");
    const wrapped = Image.create(320, 240, JPEG, bytes);
    expect(encodeForSave(wrapped, planSave("y.jpg", JPEG))).toBe(bytes);
  });
});

describe("image.Image(path) header check", () => {
  const good = new Sensor({ seed: 4 }).snapshot().compress(50).bytearray();

  it("accepts a JPEG and reads the frame header", () => {
    expect(checkImageHeaderBytes(good)).toMatchObject({ format: "jpeg", width: 320, height: 240 });
    expect(loadImageFromBytes("/sdcard/a.jpg", good).height).toBe(240);
  });

  it("recognises PNG, BMP and PNM magics", () => {
    expect(checkImageHeaderBytes(Uint8Array.of(0x89, 0x50, 0x4e, 0x47)).format).toBe("png");
    expect(checkImageHeaderBytes(new TextEncoder().encode("BM\0\0")).format).toBe("bmp");
    for (const m of ["P2", "P3", "P5", "P6"]) {
      expect(checkImageHeaderBytes(new TextEncoder().encode(m + "\n3 ")).format).toBe("pnm");
    }
  });

  it("raises the firmware's OSError texts", () => {
    const zeros = new Uint8Array(4096); // a torn write: sectors of zeros
    expect(boardError(() => checkImageHeaderBytes(zeros))).toBe("OSError: Unsupported format!");
    expect(boardError(() => checkImageHeaderBytes(Uint8Array.of(0x50, 0x34, 0, 0)))).toBe(
      "OSError: Unsupported format!",
    );
    expect(boardError(() => checkImageHeaderBytes(good.subarray(0, 3)))).toBe(
      "OSError: Failed to read requested bytes!",
    );
    expect(boardError(() => checkImageHeaderBytes(new Uint8Array(0)))).toBe(
      "OSError: Failed to read requested bytes!",
    );
    // Cut before the frame header: EOF while reading markers.
    const sof = checkImageHeaderBytes(good).sofOffset!;
    expect(boardError(() => checkImageHeaderBytes(good.subarray(0, sof + 3)))).toBe(
      "OSError: Failed to read requested bytes!",
    );
    // A non-marker where a marker must be.
    const bad = good.slice();
    bad[2] = 0x12;
    expect(boardError(() => checkImageHeaderBytes(bad))).toBe("OSError: File corrupted!");
    // Damage inside the compressed data is not detected at load.
    const body = good.slice();
    body.fill(0, good.length - 200, good.length - 100);
    expect(checkImageHeaderBytes(body).format).toBe("jpeg");
    // Extension enforced after the load.
    expect(boardError(() => loadImageFromBytes("a.bmp", good))).toBe("OSError: Image is not BMP!");
  });

  it("reads progressively: only the headers up to the frame header are touched", () => {
    let maxEnd = 0;
    const reader: ByteReader = {
      size: good.length,
      read(offset, length) {
        maxEnd = Math.max(maxEnd, offset + length);
        return good.subarray(offset, offset + length);
      },
    };
    const h = checkImageHeader(reader);
    expect(maxEnd).toBe(h.sofOffset! + 9);
  });
});
