/**
 * The sensor's frames and the encoder's JPEGs, pinned by SHA-256: the speed work on sensor.ts and
 * jpeg-encoder.ts (issue 14) must not change one byte. The digests were computed with the code as it
 * was before that work (commit 4e9e44f); a deliberate change of pixels or encoding updates them, and
 * says why. Covers every frame size, noise 0/6/20, RGB565 and GRAYSCALE, qualities 1..100, every
 * subsampling, odd sizes (padding), unaligned source buffers, and extremes (0xFF stuffing, ±1023).
 */
import { createHash, type Hash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Prng } from "../../src/clock/index.ts";
import { encodeBaselineJpeg, type JpegSubsampling } from "../../src/openmv/jpeg-encoder.ts";
import { GRAYSCALE, Sensor, type FrameSize } from "../../src/openmv/sensor.ts";

const SUBS: JpegSubsampling[] = ["4:4:4", "4:2:2", "4:2:0"];

function digest(fill: (h: Hash) => void): string {
  const h = createHash("sha256");
  fill(h);
  return h.digest("hex").slice(0, 32);
}

function rgb(width: number, height: number, data: Uint8Array, q: number, sub: JpegSubsampling): Uint8Array {
  return encodeBaselineJpeg({ width, height, format: "RGB565", data }, q, sub);
}

/** The same bytes at byte offset 1, 2 and 3 of a larger buffer. */
function shifted(data: Uint8Array, by: number): Uint8Array {
  const b = new Uint8Array(data.length + by);
  b.set(data, by);
  return b.subarray(by);
}

describe("sensor frames and JPEG bytes are pinned", () => {
  it.each<[FrameSize, number, number, string]>([
    ["QVGA", 0, 6, "ef07eb4fe802bc8073a8c028c67b70be"],
    ["QVGA", 6, 6, "8c75ce2b797a01a594512dbce69a8214"],
    ["QVGA", 20, 6, "15bc55e1b7e06fb5f266e62de4339b3a"],
    ["VGA", 6, 2, "8959f5a9a8131f329622d80eb2530357"],
    ["HD", 20, 1, "9f83db29bec26b8368061b5910386bd6"],
  ])("%s noise %i, %i frames: RGB565, GRAYSCALE and JPEG at q 10/50/90", (size, noise, frames, want) => {
    const got = digest((h) => {
      const s = new Sensor({ seed: 7, noiseLevel: noise });
      const g = new Sensor({ seed: 8, noiseLevel: noise });
      s.setFramesize(size);
      g.setFramesize(size);
      g.setPixformat(GRAYSCALE);
      for (let f = 0; f < frames; f++) {
        const img = s.snapshot();
        h.update(img.bytearray());
        for (const q of [10, 50, 90])
          for (const sub of SUBS) h.update(rgb(img.width, img.height, img.bytearray(), q, sub));
        const gi = g.snapshot();
        h.update(gi.bytearray());
        h.update(
          encodeBaselineJpeg(
            { width: gi.width, height: gi.height, format: "GRAYSCALE", data: gi.bytearray() },
            50,
            "4:4:4",
          ),
        );
      }
    });
    expect(got).toBe(want);
  });

  it("every quality and subsampling of one frame, also from unaligned buffers", () => {
    const data = new Sensor({ seed: 3 }).snapshot().bytearray();
    const got = digest((h) => {
      for (let q = 1; q <= 100; q++) for (const sub of SUBS) h.update(rgb(320, 240, data, q, sub));
    });
    expect(got).toBe("e822df0725fd9c7707aa0c59b4a009b0");
    for (const by of [1, 2, 3]) {
      for (const q of [30, 50, 90]) {
        for (const sub of SUBS) {
          expect(Buffer.from(rgb(320, 240, shifted(data, by), q, sub))).toEqual(
            Buffer.from(rgb(320, 240, data, q, sub)),
          );
        }
      }
    }
  });

  it("odd sizes, random and smooth pixels, and extremes", () => {
    const got = digest((h) => {
      const p = new Prng(11);
      const sizes = [
        [1, 1],
        [7, 9],
        [8, 8],
        [15, 17],
        [16, 16],
        [17, 8],
        [33, 31],
        [321, 239],
        [2, 1],
        [100, 3],
      ];
      for (const [w, ht] of sizes) {
        const noise = p.fill(new Uint8Array(w * ht * 2));
        const gray = p.fill(new Uint8Array(w * ht));
        const smooth = new Uint8Array(w * ht * 2);
        for (let i = 0; i < w * ht; i++) {
          const v = (i * 37) & 0xffff;
          smooth[2 * i] = v & 0xff;
          smooth[2 * i + 1] = v >> 8;
        }
        for (const q of [1, 20, 50, 80, 100]) {
          for (const sub of SUBS) {
            h.update(rgb(w, ht, noise, q, sub));
            h.update(rgb(w, ht, smooth, q, sub));
          }
          h.update(encodeBaselineJpeg({ width: w, height: ht, format: "GRAYSCALE", data: gray }, q, "4:4:4"));
        }
      }
      for (let pat = 0; pat < 4; pat++) {
        const w = 64;
        const ht = 48;
        const d = new Uint8Array(w * ht * 2);
        for (let y = 0; y < ht; y++) {
          for (let x = 0; x < w; x++) {
            const i = y * w + x;
            const v = [0, 0xffff, (x ^ y) & 1 ? 0xffff : 0, ((x >> 2) ^ (y >> 1)) & 1 ? 0xf800 : 0x07ff][pat];
            d[2 * i] = v & 0xff;
            d[2 * i + 1] = v >> 8;
          }
        }
        for (const q of [1, 50, 100]) for (const sub of SUBS) h.update(rgb(w, ht, d, q, sub));
      }
    });
    expect(got).toBe("06bb01265b0f3ee27d9a2ba1bf6fe877");
  });
});
