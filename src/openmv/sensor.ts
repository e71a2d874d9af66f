/**
 * OpenMV `sensor` module, byte level: deterministic synthetic frames in place of a camera.
 *
 * Each `snapshot()` draws a scene with structure (diagonal gradient background, a grid of tiles, a
 * disc and a bar that move with the frame number), the frame counter in large block digits in the
 * top-left corner, and per-pixel noise from the seeded {@link Prng}, so JPEG sizes vary from frame to
 * frame like real captures. Same seed and settings → same bytes, on every host.
 *
 * Frame sizes: QVGA 320×240, VGA 640×480, HD 1280×720. Pixel formats: RGB565 (little-endian uint16),
 * GRAYSCALE, and JPEG (the RGB565 frame compressed at {@link SensorConfig.jpegQuality}).
 */
import { Prng } from "../clock/index.ts";
import { GRAYSCALE, Image, JPEG, RGB565, type PixFormat } from "./image.ts";

/** Frame sizes modelled (`sensor.QVGA`, `sensor.VGA`, `sensor.HD`). */
export type FrameSize = "QVGA" | "VGA" | "HD";
/** `sensor.QVGA`: 320×240. */
export const QVGA: FrameSize = "QVGA";
/** `sensor.VGA`: 640×480. */
export const VGA: FrameSize = "VGA";
/** `sensor.HD`: 1280×720. */
export const HD: FrameSize = "HD";
export { GRAYSCALE, JPEG, RGB565 };

/** Width and height in pixels of each frame size. */
export const FRAME_DIMENSIONS: Readonly<Record<FrameSize, { width: number; height: number }>> = {
  QVGA: { width: 320, height: 240 },
  VGA: { width: 640, height: 480 },
  HD: { width: 1280, height: 720 },
};

/** Sensor configuration (data, not behaviour). */
export interface SensorConfig {
  /** Seed of the noise stream. */
  readonly seed: number;
  /** Noise amplitude in 8-bit levels, ± (default 6): an integer up to 256, ≤ 0 for none. */
  readonly noiseLevel?: number;
  /** JPEG quality when the pixel format is JPEG (default 90). */
  readonly jpegQuality?: number;
}

/** A seeded stand-in for the camera sensor. */
export class Sensor {
  private pixformat: PixFormat = RGB565;
  private framesize: FrameSize = QVGA;
  private frame = 0;
  private prng: Prng;
  private readonly noise: number;
  private readonly jpegQuality: number;

  constructor(private readonly config: SensorConfig) {
    this.prng = new Prng(config.seed);
    this.noise = config.noiseLevel ?? 6;
    // integers only (the frame's clamp tables are indexed by value + noise); ≤ 0 is no noise
    if (!Number.isInteger(this.noise) || this.noise > MAX_NOISE) {
      throw new RangeError(`noise level must be an integer up to ${MAX_NOISE}, got ${this.noise}`);
    }
    this.jpegQuality = config.jpegQuality ?? 90;
  }

  /** `sensor.reset()`: default settings, frame counter and noise stream restart. */
  reset(): void {
    this.pixformat = RGB565;
    this.framesize = QVGA;
    this.frame = 0;
    this.prng = new Prng(this.config.seed);
  }

  /** `sensor.set_pixformat(fmt)`. */
  setPixformat(format: PixFormat): void {
    this.pixformat = format;
  }

  /** `sensor.set_framesize(size)`. */
  setFramesize(size: FrameSize): void {
    if (!(size in FRAME_DIMENSIONS)) throw new RangeError(`unsupported frame size ${String(size)}`);
    this.framesize = size;
  }

  /** `sensor.skip_frames(n)`: consumes `n` frames (they advance the counter and the noise stream). */
  skipFrames(n = 10): void {
    for (let i = 0; i < n; i++) this.snapshot();
  }

  /** Number of frames taken so far. */
  get frameCount(): number {
    return this.frame;
  }

  /** Current width in pixels. */
  width(): number {
    return FRAME_DIMENSIONS[this.framesize].width;
  }

  /** Current height in pixels. */
  height(): number {
    return FRAME_DIMENSIONS[this.framesize].height;
  }

  /** `sensor.snapshot()`: the next frame. */
  snapshot(): Image {
    const { width, height } = FRAME_DIMENSIONS[this.framesize];
    const n = this.frame++;
    const gray = this.pixformat === "GRAYSCALE";
    const pixels = renderScene(width, height, n, this.prng, this.noise, gray);
    if (gray) return new Image(width, height, GRAYSCALE, pixels);
    const img = new Image(width, height, RGB565, pixels);
    if (this.pixformat === "JPEG") img.compress(this.jpegQuality);
    return img;
  }
}

/** 5×7 block-digit glyphs, one string of 35 bits per digit (row-major). */
const DIGITS = [
  "01110100011001110101110011000101110",
  "00100011000010000100001000010001110",
  "01110100010000100010001000100011111",
  "11111000100010000010000011000101110",
  "00010001100101010010111110001000010",
  "11111100001111000001000011000101110",
  "00110010001000011110100011000101110",
  "11111000010001000100010000100001000",
  "01110100011000101110100011000101110",
  "01110100011000101111000010001001100",
];

/** What does not change from frame to frame at one size: the gradient under each tile phase. */
interface Background {
  readonly width: number;
  readonly height: number;
  readonly tile: number;
  /**
   * {@link lanes} of each pixel: the gradient with the tiles whose tx + ty + phase ≡ 0 (mod 5)
   * inverted (`r = 255 - r`, `b = 60`), one plane per phase mod 5, made when first used.
   */
  readonly phases: (Int32Array | undefined)[];
  /** The frame's pixels before noise, reused from frame to frame. */
  readonly work: Int32Array;
  /** The frame's noise words, reused. */
  readonly words: Uint32Array;
}

const backgrounds = new Map<string, Background>();

function background(width: number, height: number, tile: number): Background {
  const key = `${width}x${height}`;
  let bg = backgrounds.get(key);
  if (bg) return bg;
  const n = width * height;
  bg = {
    width,
    height,
    tile,
    phases: [],
    work: new Int32Array(n),
    words: new Uint32Array(Math.ceil(n / 4)),
  };
  backgrounds.set(key, bg);
  return bg;
}

/** The gradient and tile grid with tile phase `phase` (mod 5), as {@link Background.phases}. */
function phasePlane(bg: Background, phase: number): Int32Array {
  const k = phase % 5;
  const cached = bg.phases[k];
  if (cached) return cached;
  const { width, height, tile } = bg;
  const plane = new Int32Array(width * height);
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      let r = Math.floor((x * 255) / width);
      const g = Math.floor((y * 255) / height);
      let b = 128 + Math.floor(((x + y) * 64) / (width + height));
      const t = Math.floor(x / tile) + Math.floor(y / tile);
      if ((t + k) % 5 === 0) {
        r = 255 - r;
        b = 60;
      }
      plane[i] = lanes(r, g, b);
    }
  }
  bg.phases[k] = plane;
  return plane;
}

/**
 * A pixel's r, g, b in three 10-bit lanes (bits 20–29, 10–19, 0–9), each holding value + 256, so one
 * integer addition adds the same noise v (|v| ≤ 256) to all three without a carry between lanes. A lane
 * then holds an unclamped value in 0..255 exactly when its bits 8–9 are 01 ({@link IN_RANGE}).
 */
function lanes(r: number, g: number, b: number): number {
  return ((r + LANE_BIAS) << 20) | ((g + LANE_BIAS) << 10) | (b + LANE_BIAS);
}

const LANE_BIAS = 256;
/** Noise levels up to this keep every lane in 0..1023. */
const MAX_NOISE = 256;
/** Bits 8–9 of each lane, and their value when all three lanes are in 0..255 after the noise. */
const RANGE_BITS = 0x300c0300;
const IN_RANGE = 0x10040100;
/** v · (lane 2 + lane 1 + lane 0), the addend of a noise value v. */
const LANE_ONES = (1 << 20) | (1 << 10) | 1;

/** RGB565 bits and luma terms of a lane (value + 256, 0..1023), clamped to 0..255 first. */
interface ClampTables {
  readonly r: Uint16Array;
  readonly g: Uint16Array;
  readonly b: Uint16Array;
  readonly yr: Uint16Array;
  readonly yg: Uint16Array;
  readonly yb: Uint16Array;
}

let clampTables: ClampTables | undefined;

function tables(): ClampTables {
  if (clampTables) return clampTables;
  const t = {
    r: new Uint16Array(1024),
    g: new Uint16Array(1024),
    b: new Uint16Array(1024),
    yr: new Uint16Array(1024),
    yg: new Uint16Array(1024),
    yb: new Uint16Array(1024),
  };
  for (let j = 0; j < 1024; j++) {
    const v = clamp8(j - LANE_BIAS);
    t.r[j] = (v >> 3) << 11;
    t.g[j] = (v >> 2) << 5;
    t.b[j] = v >> 3;
    t.yr[j] = v * 38; // jpeg.c's RGB→Y weights
    t.yg[j] = v * 75;
    t.yb[j] = v * 15;
  }
  clampTables = t;
  return t;
}

/**
 * Renders one frame into RGB565 (LE) or 8-bit luma. Layers, each replacing the pixel's colour where it
 * covers it: the gradient with the tile phase ({@link phasePlane}), the disc, the bar, the digits;
 * then the same noise added to r, g and b, clamped to 0..255. Noise bytes are taken low byte first
 * from one PRNG word per 4 pixels in raster order.
 */
function renderScene(
  width: number,
  height: number,
  frame: number,
  prng: Prng,
  noise: number,
  gray: boolean,
): Uint8Array {
  const scale = width / 320;
  const cx = ((frame * 7 * scale) % (width + 80 * scale)) - 40 * scale;
  const cy = height / 2 + Math.round((height / 4) * Math.sin(frame / 5));
  const r2 = (36 * scale) ** 2;
  const barY = Math.floor((frame * 3 * scale) % height);
  const barH = Math.max(4, Math.round(10 * scale));
  const tile = Math.max(8, Math.round(40 * scale));
  const digitCell = Math.max(2, Math.round(4 * scale));
  const label = String(frame);
  const bg = background(width, height, tile);
  const work = bg.work;
  work.set(phasePlane(bg, frame >> 3));
  drawDisc(work, width, height, cx, cy, r2, lanes(230, 40 + ((frame * 9) & 0x7f), 30));
  const barEnd = Math.min(height, barY + barH);
  if (barY < barEnd) work.fill(lanes(16, 16, 16), barY * width, barEnd * width);
  drawDigits(work, width, height, label, digitCell);
  const n = width * height;
  const words = bg.words;
  if (noise > 0) prng.fillUint32(words);
  const noiseOf = noiseTable(noise);
  if (gray) {
    const luma = new Uint8Array(n);
    lumaPixels(work, n, words, noise > 0, noiseOf, luma);
    return luma;
  }
  const rgb565 = new Uint8Array(n * 2);
  if (LITTLE_ENDIAN) rgb565Words(work, n, words, noise > 0, noiseOf, new Uint16Array(rgb565.buffer));
  else rgb565Pixels(work, n, words, noise > 0, noiseOf, rgb565);
  return rgb565;
}

/** noiseOf[byte] = ((byte % (2·noise + 1)) − noise) · {@link LANE_ONES}; all 0 without noise. */
const noiseTables = new Map<number, Int32Array>();

function noiseTable(noise: number): Int32Array {
  let t = noiseTables.get(noise);
  if (t) return t;
  const span = 2 * noise + 1;
  t = new Int32Array(256);
  if (noise > 0) for (let k = 0; k < 256; k++) t[k] = ((k % span) - noise) * LANE_ONES;
  noiseTables.set(noise, t);
  return t;
}

/** The disc: pixels with (x − cx)² + (y − cy)² < r2 take `rgb`. */
function drawDisc(
  work: Int32Array,
  width: number,
  height: number,
  cx: number,
  cy: number,
  r2: number,
  rgb: number,
): void {
  // Rows and columns outside |d| ≤ √r2 + 1 cannot pass the test; inside, the test decides.
  const reach = Math.sqrt(r2) + 1;
  const y0 = Math.max(0, Math.floor(cy - reach));
  const y1 = Math.min(height, Math.ceil(cy + reach) + 1);
  const x0 = Math.max(0, Math.floor(cx - reach));
  const x1 = Math.min(width, Math.ceil(cx + reach) + 1);
  for (let y = y0; y < y1; y++) {
    const dy = y - cy;
    if (!(dy * dy < r2)) continue;
    for (let x = x0; x < x1; x++) {
      const dx = x - cx;
      if (dx * dx + dy * dy < r2) work[y * width + x] = rgb;
    }
  }
}

/** The frame counter at (8, 8) in 5×7 glyphs of `cell`-pixel squares, 6 cells apart, value 250. */
function drawDigits(work: Int32Array, width: number, height: number, label: string, cell: number): void {
  const x1 = Math.min(width, 8 + 6 * label.length * cell);
  const y1 = Math.min(height, 8 + 7 * cell);
  const on = lanes(250, 250, 250);
  for (let y = 8; y < y1; y++) {
    const gy = Math.floor((y - 8) / cell);
    for (let x = 8; x < x1; x++) {
      const gx = Math.floor((x - 8) / cell);
      const ch = Math.floor(gx / 6);
      const col = gx % 6;
      if (col < 5 && DIGITS[label.charCodeAt(ch) - 48][gy * 5 + col] === "1") work[y * width + x] = on;
    }
  }
}

// The pixel loops are functions of their own: V8 compiles a loop on-stack and, inside a larger
// function, dropped that code at the first untried path after it, on every frame.

/** One pixel's three 10-bit lanes `s` as RGB565: shifts and masks in range, the clamping tables else. */
function rgb565(s: number, tr: Uint16Array, tg: Uint16Array, tb: Uint16Array): number {
  return (s & RANGE_BITS) === IN_RANGE
    ? ((s >> 12) & 0xf800) | ((s >> 7) & 0x07e0) | ((s >> 3) & 0x1f)
    : tr[s >> 20] | tg[(s >> 10) & 0x3ff] | tb[s & 0x3ff];
}

/**
 * Noise, clamp and RGB565 (little-endian) of each pixel; `words` only read when `noisy`. Lanes in
 * range need no clamp: shifts and masks take the RGB565 bits directly.
 */
function rgb565Pixels(
  work: Int32Array,
  n: number,
  words: Uint32Array,
  noisy: boolean,
  noiseOf: Int32Array,
  out: Uint8Array,
): void {
  const { r: tr, g: tg, b: tb } = tables();
  // four pixels per noise word, low byte first; `n` need not be a multiple of 4
  for (let i = 0; i < n; i += 4) {
    let word = noisy ? words[i >> 2] : 0;
    const end = Math.min(n, i + 4);
    for (let j = i; j < end; j++, word >>>= 8) {
      const p = rgb565(work[j] + noiseOf[word & 0xff], tr, tg, tb);
      out[2 * j] = p;
      out[2 * j + 1] = p >> 8;
    }
  }
}

/** {@link rgb565Pixels} storing each pixel as one 16-bit word (little-endian hosts only). */
function rgb565Words(
  work: Int32Array,
  n: number,
  words: Uint32Array,
  noisy: boolean,
  noiseOf: Int32Array,
  out: Uint16Array,
): void {
  const { r: tr, g: tg, b: tb } = tables();
  for (let i = 0; i < n; i += 4) {
    let word = noisy ? words[i >> 2] : 0;
    const end = Math.min(n, i + 4);
    for (let j = i; j < end; j++, word >>>= 8) {
      out[j] = rgb565(work[j] + noiseOf[word & 0xff], tr, tg, tb);
    }
  }
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Noise, clamp and luma ((r·38 + g·75 + b·15) >> 7, jpeg.c's weights) of each pixel. */
function lumaPixels(
  work: Int32Array,
  n: number,
  words: Uint32Array,
  noisy: boolean,
  noiseOf: Int32Array,
  out: Uint8Array,
): void {
  const { yr, yg, yb } = tables();
  for (let i = 0; i < n; i++) {
    const s = noisy ? work[i] + noiseOf[(words[i >> 2] >>> ((i & 3) << 3)) & 0xff] : work[i];
    out[i] = (yr[s >> 20] + yg[(s >> 10) & 0x3ff] + yb[s & 0x3ff]) >> 7;
  }
}

function clamp8(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}
