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
  /** Noise amplitude in 8-bit levels, ± (default 6). */
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
    const gray = renderScene(width, height, n, this.prng, this.noise);
    if (this.pixformat === "GRAYSCALE") return new Image(width, height, GRAYSCALE, gray.luma);
    const img = new Image(width, height, RGB565, gray.rgb565);
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

/** What does not change from frame to frame at one size: the gradient and each pixel's tile sum. */
interface Background {
  readonly r: Uint8Array;
  readonly g: Uint8Array;
  readonly b: Uint8Array;
  /** tx + ty of the pixel's tile. */
  readonly tile: Uint8Array;
  readonly maxTile: number;
}

const backgrounds = new Map<string, Background>();

function background(width: number, height: number, tile: number): Background {
  const key = `${width}x${height}`;
  let bg = backgrounds.get(key);
  if (bg) return bg;
  const n = width * height;
  const r = new Uint8Array(n);
  const g = new Uint8Array(n);
  const b = new Uint8Array(n);
  const t = new Uint8Array(n);
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      r[i] = Math.floor((x * 255) / width);
      g[i] = Math.floor((y * 255) / height);
      b[i] = 128 + Math.floor(((x + y) * 64) / (width + height));
      t[i] = Math.floor(x / tile) + Math.floor(y / tile);
    }
  }
  bg = { r, g, b, tile: t, maxTile: Math.floor((width - 1) / tile) + Math.floor((height - 1) / tile) };
  backgrounds.set(key, bg);
  return bg;
}

/**
 * Renders one frame into RGB565 (LE) and 8-bit luma buffers. The gradient and tile grid come from
 * {@link background}; the per-frame layers (tile phase, disc, bar, digits, noise) are applied per
 * pixel in the same order and arithmetic as always, so the bytes do not depend on the caching.
 */
function renderScene(
  width: number,
  height: number,
  frame: number,
  prng: Prng,
  noise: number,
): { rgb565: Uint8Array; luma: Uint8Array } {
  const rgb565 = new Uint8Array(width * height * 2);
  const luma = new Uint8Array(width * height);
  const scale = width / 320;
  const cx = ((frame * 7 * scale) % (width + 80 * scale)) - 40 * scale;
  const cy = height / 2 + Math.round((height / 4) * Math.sin(frame / 5));
  const r2 = (36 * scale) ** 2;
  const barY = Math.floor((frame * 3 * scale) % height);
  const barH = Math.max(4, Math.round(10 * scale));
  const tile = Math.max(8, Math.round(40 * scale));
  const digitCell = Math.max(2, Math.round(4 * scale));
  const label = String(frame);
  const span = 2 * noise + 1;
  // noiseOf[byte] = (byte % span) - noise
  const noiseOf = new Int16Array(256);
  for (let k = 0; k < 256; k++) noiseOf[k] = (k % span) - noise;
  const bg = background(width, height, tile);
  // inverted[t]: tiles whose tx + ty make (tx + ty + (frame >> 3)) % 5 === 0 this frame
  const phase = frame >> 3;
  const inverted = new Uint8Array(bg.maxTile + 1);
  for (let t = 0; t <= bg.maxTile; t++) inverted[t] = (t + phase) % 5 === 0 ? 1 : 0;
  const discG = 40 + ((frame * 9) & 0x7f);
  // the digits cover x in [8, digitsX1), y in [8, 8 + 7 cells): gy < 7, ch < label.length
  const digitsX1 = 8 + 6 * label.length * digitCell;
  const digitsY1 = 8 + 7 * digitCell;
  drawLayers(rgb565, luma, width, height, bg, prng, noise, noiseOf, {
    cx,
    cy,
    r2,
    barY,
    barH,
    digitCell,
    label,
    inverted,
    discG,
    digitsX1,
    digitsY1,
  });
  return { rgb565, luma };
}

/** The per-frame layers of {@link renderScene}. */
interface Layers {
  readonly cx: number;
  readonly cy: number;
  readonly r2: number;
  readonly barY: number;
  readonly barH: number;
  readonly digitCell: number;
  readonly label: string;
  readonly inverted: Uint8Array;
  readonly discG: number;
  readonly digitsX1: number;
  readonly digitsY1: number;
}

// The pixel loop is a function of its own: V8 compiles a loop on-stack and, inside a larger function,
// dropped that code at the first untried path after it, on every frame.

/** Background plus the per-frame layers and noise, per pixel, into `rgb565` and `luma`. */
function drawLayers(
  rgb565: Uint8Array,
  luma: Uint8Array,
  width: number,
  height: number,
  bg: Background,
  prng: Prng,
  noise: number,
  noiseOf: Int16Array,
  layers: Layers,
): void {
  const { cx, cy, r2, barY, barH, digitCell, label, inverted, discG, digitsX1, digitsY1 } = layers;
  const { r: bgR, g: bgG, b: bgB, tile: bgTile } = bg;
  let rnd = 0;
  let rndBits = 0;
  for (let y = 0; y < height; y++) {
    const dy = y - cy;
    const discRow = dy * dy < r2;
    const barRow = y >= barY && y < barY + barH;
    const digitRow = y >= 8 && y < digitsY1;
    const gy = Math.floor((y - 8) / digitCell);
    for (let x = 0, i = y * width; x < width; x++, i++) {
      let r = bgR[i];
      let g = bgG[i];
      let b = bgB[i];
      if (inverted[bgTile[i]] === 1) {
        r = 255 - r;
        b = 60;
      }
      if (discRow) {
        const dx = x - cx;
        if (dx * dx + dy * dy < r2) {
          r = 230;
          g = discG;
          b = 30;
        }
      }
      if (barRow) r = g = b = 16;
      if (digitRow && x >= 8 && x < digitsX1) {
        const gx = Math.floor((x - 8) / digitCell);
        const ch = Math.floor(gx / 6);
        const col = gx % 6;
        if (col < 5 && DIGITS[label.charCodeAt(ch) - 48][gy * 5 + col] === "1") r = g = b = 250;
      }
      if (noise > 0) {
        if (rndBits < 8) {
          rnd = prng.nextUint32();
          rndBits = 32;
        }
        const v = noiseOf[rnd & 0xff];
        rnd >>>= 8;
        rndBits -= 8;
        r = clamp8(r + v);
        g = clamp8(g + v);
        b = clamp8(b + v);
      }
      const p = ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3);
      rgb565[2 * i] = p & 0xff;
      rgb565[2 * i + 1] = p >> 8;
      luma[i] = (r * 38 + g * 75 + b * 15) >> 7; // jpeg.c's RGB→Y weights
    }
  }
}

function clamp8(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}
