/**
 * Our baseline JPEG encoder against independent decoders (libjpeg-turbo's djpeg, jpeg-js) and against
 * jpeg-js's encoder for the standard tables (T.81 Annex K) and the IJG quality scaling.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import jpeg from "jpeg-js";
import { describe, expect, it } from "vitest";
import { subsamplingForQuality } from "../../src/openmv/image.ts";
import { encodeBaselineJpeg, type JpegSource, type JpegSubsampling } from "../../src/openmv/jpeg-encoder.ts";
import { GRAYSCALE, Sensor } from "../../src/openmv/sensor.ts";

const tmp = mkdtempSync(join(tmpdir(), "cardsim-jpegenc-"));
let fileNo = 0;

function toFile(bytes: Uint8Array): string {
  const f = join(tmp, `f${fileNo++}.jpg`);
  writeFileSync(f, bytes);
  return f;
}

/** djpeg's trace of the frame header: "components=3" and "Component i: HhxVv q=T" lines. */
function djpegFrame(bytes: Uint8Array): string[] {
  const r = spawnSync("djpeg", ["-verbose", "-pnm", "-outfile", "/dev/null", toFile(bytes)], {
    encoding: "latin1",
  });
  expect(r.status).toBe(0);
  return r.stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("Start Of Frame") || /^Component \d: \d+hx\d+v/.test(l));
}

/** djpeg's decode (PNM) as interleaved samples; fails on any warning ("Corrupt JPEG data" etc.). */
function djpegPixels(bytes: Uint8Array): { header: string; samples: Uint8Array } {
  const r = spawnSync("djpeg", ["-pnm", toFile(bytes)]);
  expect(r.status).toBe(0);
  expect(r.stderr.toString()).toBe("");
  const out = r.stdout;
  let nl = 0;
  let end = 0;
  while (nl < 3) if (out[end++] === 0x0a) nl++;
  return { header: out.subarray(0, end).toString("latin1"), samples: new Uint8Array(out.subarray(end)) };
}

/** RGB888 of an RGB565 source, as the encoder expands it (bit replication). */
function rgbOf(src: JpegSource): Uint8Array {
  const n = src.width * src.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const p = src.data[2 * i] | (src.data[2 * i + 1] << 8);
    const r5 = p >> 11;
    const g6 = (p >> 5) & 0x3f;
    const b5 = p & 0x1f;
    out[3 * i] = (r5 << 3) | (r5 >> 2);
    out[3 * i + 1] = (g6 << 2) | (g6 >> 4);
    out[3 * i + 2] = (b5 << 3) | (b5 >> 2);
  }
  return out;
}

/** libjpeg's own cjpeg output for the source at the same quality and sampling factors. */
function cjpegBytes(src: JpegSource, quality: number, sub: JpegSubsampling): Uint8Array {
  const ppm = join(tmp, `src${fileNo++}.ppm`);
  writeFileSync(ppm, Buffer.concat([Buffer.from(`P6\n${src.width} ${src.height}\n255\n`), rgbOf(src)]));
  const sample = { "4:4:4": "1x1", "4:2:2": "2x1", "4:2:0": "2x2" }[sub];
  return new Uint8Array(
    execFileSync("cjpeg", ["-quality", String(quality), "-sample", sample, "-baseline", ppm]),
  );
}

/** jpeg-js's decode as RGB. */
function jpegJsPixels(bytes: Uint8Array): Uint8Array {
  return jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false }).data;
}

function psnr(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  return 10 * Math.log10((255 * 255) / (se / a.length));
}

/** A smooth colour test card with edges: gradients, a disc and a bar (RGB565 LE). */
function testCard(width: number, height: number): JpegSource {
  const data = new Uint8Array(width * height * 2);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = Math.floor((x * 255) / Math.max(1, width - 1));
      let g = Math.floor((y * 255) / Math.max(1, height - 1));
      let b = 200 - Math.floor((x + y) / 4) * 2;
      if ((x - width / 2) ** 2 + (y - height / 2) ** 2 < (Math.min(width, height) / 3) ** 2)
        [r, g, b] = [240, 40, 60];
      if (y % 23 < 3) [r, g, b] = [20, 20, 230];
      const p = ((r >> 3) << 11) | ((g >> 2) << 5) | (Math.max(0, b) >> 3);
      data[2 * (y * width + x)] = p & 0xff;
      data[2 * (y * width + x) + 1] = p >> 8;
    }
  }
  return { width, height, format: "RGB565", data };
}

/** The payloads of every segment with marker `marker` before the scan. */
function segments(bytes: Uint8Array, marker: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    const m = (bytes[pos] << 8) | bytes[pos + 1];
    const len = (bytes[pos + 2] << 8) | bytes[pos + 3];
    if (m === marker) out.push(bytes.subarray(pos + 4, pos + 2 + len));
    if (m === 0xffda) break;
    pos += 2 + len;
  }
  return out;
}

/** Splits DQT payloads into tables keyed by Tq, DHT payloads into tables keyed by Tc<<4|Th. */
function parseTables(bytes: Uint8Array): { dqt: Map<number, number[]>; dht: Map<number, number[]> } {
  const dqt = new Map<number, number[]>();
  for (const s of segments(bytes, 0xffdb)) {
    for (let i = 0; i < s.length; i += 65) dqt.set(s[i] & 0x0f, [...s.subarray(i + 1, i + 65)]);
  }
  const dht = new Map<number, number[]>();
  for (const s of segments(bytes, 0xffc4)) {
    for (let i = 0; i < s.length;) {
      const count = s.subarray(i + 1, i + 17).reduce((a, b) => a + b, 0);
      dht.set(s[i], [...s.subarray(i + 1, i + 17 + count)]);
      i += 17 + count;
    }
  }
  return { dqt, dht };
}

describe("subsampling for the quality (DEVICE-FACTS)", () => {
  it("is 4:2:0 up to 35, 4:2:2 below 60, else 4:4:4", () => {
    expect([1, 35, 36, 50, 59, 60, 90, 100].map(subsamplingForQuality)).toEqual([
      "4:2:0",
      "4:2:0",
      "4:2:2",
      "4:2:2",
      "4:2:2",
      "4:4:4",
      "4:4:4",
      "4:4:4",
    ]);
  });

  it("shows in the frame header djpeg reads, for the camera's frames at each quality", () => {
    const sensor = new Sensor({ seed: 7 });
    const factors = (q: number) => djpegFrame(sensor.snapshot().compress(q).bytearray());
    expect(factors(30)).toEqual([
      "Start Of Frame 0xc0: width=320, height=240, components=3",
      "Component 1: 2hx2v q=0",
      "Component 2: 1hx1v q=1",
      "Component 3: 1hx1v q=1",
    ]);
    expect(factors(50)[1]).toBe("Component 1: 2hx1v q=0");
    expect(factors(90)[1]).toBe("Component 1: 1hx1v q=0");
    const gray = new Sensor({ seed: 7 });
    gray.setPixformat(GRAYSCALE);
    expect(djpegFrame(gray.snapshot().compress(50).bytearray())).toEqual([
      "Start Of Frame 0xc0: width=320, height=240, components=1",
      "Component 1: 1hx1v q=0",
    ]);
  });
});

describe("encodeBaselineJpeg", () => {
  it("decodes with djpeg and jpeg-js as close to the source as cjpeg's output at the same settings", () => {
    const src = testCard(96, 64);
    const rgb = rgbOf(src);
    for (const sub of ["4:4:4", "4:2:2", "4:2:0"] as JpegSubsampling[]) {
      for (const q of [50, 90]) {
        const ours = encodeBaselineJpeg(src, q, sub);
        const theirs = cjpegBytes(src, q, sub);
        const d = djpegPixels(ours);
        expect(d.header).toBe("P6\n96 64\n255\n");
        expect(psnr(d.samples, rgb)).toBeGreaterThan(psnr(djpegPixels(theirs).samples, rgb) - 0.5);
        // jpeg-js, another decoder (its own upsampling and IDCT)
        expect(psnr(jpegJsPixels(ours), rgb)).toBeGreaterThan(psnr(jpegJsPixels(theirs), rgb) - 0.5);
      }
    }
  });

  it("4:2:0 loses chroma detail that 4:4:4 keeps (the subsampling is real, not just declared)", () => {
    // 1-pixel red/blue columns: luma nearly flat, chroma alternating at the highest frequency.
    const width = 64;
    const height = 32;
    const data = new Uint8Array(width * height * 2);
    for (let i = 0; i < width * height; i++) {
      const p = i % 2 === 0 ? 0xf800 : 0x001f;
      data[2 * i] = p & 0xff;
      data[2 * i + 1] = p >> 8;
    }
    const src: JpegSource = { width, height, format: "RGB565", data };
    const rgb = rgbOf(src);
    const full = psnr(djpegPixels(encodeBaselineJpeg(src, 95, "4:4:4")).samples, rgb);
    const sub = psnr(djpegPixels(encodeBaselineJpeg(src, 95, "4:2:0")).samples, rgb);
    expect(full).toBeGreaterThan(sub + 10);
  });

  it("completes partial MCUs: odd sizes decode at their size, edges intact", () => {
    for (const [w, h] of [
      [1, 1],
      [17, 9],
      [33, 31],
      [8, 16],
    ]) {
      const src = testCard(w, h);
      for (const sub of ["4:4:4", "4:2:2", "4:2:0"] as JpegSubsampling[]) {
        const d = djpegPixels(encodeBaselineJpeg(src, 90, sub));
        expect(d.header).toBe(`P6\n${w} ${h}\n255\n`);
        const best = psnr(djpegPixels(cjpegBytes(src, 90, sub)).samples, rgbOf(src));
        expect(psnr(d.samples, rgbOf(src))).toBeGreaterThanOrEqual(best - 0.5);
      }
    }
  });

  it("grayscale is one component that decodes to the source", () => {
    const g = new Sensor({ seed: 3 });
    g.setPixformat(GRAYSCALE);
    const img = g.snapshot();
    const luma = img.bytearray().slice();
    const d = djpegPixels(
      encodeBaselineJpeg({ width: 320, height: 240, format: "GRAYSCALE", data: luma }, 90, "4:2:0"),
    );
    expect(d.header).toBe("P5\n320 240\n255\n");
    expect(psnr(d.samples, luma)).toBeGreaterThan(34);
  });

  it("writes the T.81 Annex K tables with the IJG quality scaling, as jpeg-js's encoder does", () => {
    const src = testCard(16, 16);
    const rgba = new Uint8Array(16 * 16 * 4);
    rgbOf(src).forEach((v, i) => (rgba[Math.floor(i / 3) * 4 + (i % 3)] = v));
    for (const q of [1, 10, 35, 50, 75, 100]) {
      const ours = parseTables(encodeBaselineJpeg(src, q, "4:2:2"));
      const theirs = parseTables(jpeg.encode({ width: 16, height: 16, data: rgba }, q).data);
      expect(ours.dqt).toEqual(theirs.dqt);
      expect(ours.dht).toEqual(theirs.dht);
    }
  });

  it("has the camera's segment order: SOI APP0(JFIF) DQT SOF0 DHT SOS … EOI", () => {
    const bytes = new Sensor({ seed: 1 }).snapshot().compress(50).bytearray();
    const markers: string[] = [];
    let pos = 2;
    for (;;) {
      const m = (bytes[pos] << 8) | bytes[pos + 1];
      markers.push(m.toString(16));
      if (m === 0xffda) break;
      pos += 2 + ((bytes[pos + 2] << 8) | bytes[pos + 3]);
    }
    expect(markers).toEqual(["ffe0", "ffdb", "ffc0", "ffc4", "ffda"]);
    expect(Buffer.from(bytes.subarray(6, 11)).toString("latin1")).toBe("JFIF\0");
    expect([...bytes.subarray(0, 2), ...bytes.subarray(-2)]).toEqual([0xff, 0xd8, 0xff, 0xd9]);
    // cjpeg's own output at the same settings is a different encoder's, but the same size class
    const ppm = join(tmp, "frame.ppm");
    writeFileSync(ppm, execFileSync("djpeg", ["-pnm", toFile(bytes)]));
    const theirs = execFileSync("cjpeg", ["-quality", "50", "-sample", "2x1", "-baseline", ppm]);
    expect(bytes.length / theirs.length).toBeGreaterThan(0.7);
    expect(bytes.length / theirs.length).toBeLessThan(1.4);
  });

  it("rejects sizes, qualities and buffers it cannot encode", () => {
    const src = testCard(8, 8);
    expect(() => encodeBaselineJpeg(src, 0, "4:4:4")).toThrow(/quality must be 1..100, got 0/);
    expect(() => encodeBaselineJpeg({ ...src, width: 0 }, 50, "4:4:4")).toThrow(/positive integers/);
    expect(() => encodeBaselineJpeg({ ...src, width: 70000 }, 50, "4:4:4")).toThrow(/exceeds 65535/);
    expect(() => encodeBaselineJpeg({ ...src, data: new Uint8Array(10) }, 50, "4:4:4")).toThrow(/too small/);
  });
});
