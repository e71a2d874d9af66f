/**
 * A `.pov` file as the LED strip sweeps it: one column per angular step, LED 0 at the top, each
 * pixel drawn as a lit LED dot on black. Lenient where the loader is strict, so damage is visible:
 * pixels the file does not hold (a torn or truncated save) are drawn as a magenta/black checker, and
 * the problems are listed in the summary.
 */
import { PovFormatError } from "./format-error.ts";
import { POV_HEADER_BYTES, decodePov, decodePovHeader, type PovVariant } from "./pov-format.ts";
import { encodePng } from "./png.ts";

/** What `cardsim pov show` prints and draws. */
export interface PovPreview {
  /** Lines of text: dimensions, validity for each reader variant, what is missing. */
  readonly summary: string[];
  /** The rendered image (PNG). */
  readonly png: Uint8Array;
}

/** Pixels per LED in the rendering, and the dark gap between LEDs. */
const CELL = 4;

export function renderPov(bytes: Uint8Array, name: string): PovPreview {
  const summary: string[] = [];
  let width = 0;
  let height = 0;
  try {
    const h = decodePovHeader(bytes, { file: name, variant: bytes[4] === 2 ? "hardened" : "as-designed" });
    width = h.width;
    height = h.height;
  } catch (e) {
    if (!(e instanceof PovFormatError)) throw e;
    summary.push(`header: ${e.message}`);
    // Best effort: read the dimensions anyway.
    if (bytes.length >= 12) {
      const v = new DataView(bytes.buffer, bytes.byteOffset, 12);
      width = v.getUint16(8, true);
      height = v.getUint16(10, true);
    }
  }
  if (width === 0 || height === 0 || width * height > 4096 * 1024) {
    summary.push("no usable dimensions: nothing to draw");
    return { summary, png: encodePng(1, 1, new Uint8Array(3)) };
  }
  summary.unshift(
    `${name}: ${width}x${height} (${width} sweep columns x ${height} LEDs), ${bytes.length} bytes`,
  );
  for (const variant of ["as-designed", "hardened"] as PovVariant[]) {
    try {
      decodePov(bytes, { file: name, variant });
      summary.push(`${variant} reader: accepts it`);
    } catch (e) {
      if (!(e instanceof PovFormatError)) throw e;
      summary.push(`${variant} reader: ${e.message}`);
    }
  }
  const have = Math.max(0, Math.floor((bytes.length - POV_HEADER_BYTES) / 3));
  if (have < width * height)
    summary.push(`missing: ${width * height - have} of ${width * height} pixels (drawn as a checker)`);
  const W = width * CELL;
  const H = height * CELL;
  const out = new Uint8Array(W * H * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const missing = i >= have;
      for (let dy = 0; dy < CELL - 1; dy++)
        for (let dx = 0; dx < CELL - 1; dx++) {
          const o = ((y * CELL + dy) * W + x * CELL + dx) * 3;
          if (missing) {
            const on = (dx + dy) % 2 === 0;
            out.set(on ? [255, 0, 255] : [0, 0, 0], o);
          } else out.set(bytes.subarray(POV_HEADER_BYTES + i * 3, POV_HEADER_BYTES + i * 3 + 3), o);
        }
    }
  return { summary, png: encodePng(W, H, out) };
}
