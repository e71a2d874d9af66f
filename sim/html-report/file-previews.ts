/**
 * Per-file previews for the report: a JPEG as intended beside the card's bytes (the browser decodes
 * both as far as they go; the damaged region is where jpeg-js decodes them differently), a file a
 * profile can render (`filePreviews`, e.g. `.pov` → PNG) rendered both ways, anything else as its
 * damaged 16-byte blocks (the AES block size of `.enc` files). Bytes are embedded as base64 up to
 * {@link MAX_PREVIEW_BYTES} per file and {@link MAX_TOTAL_PREVIEW_BYTES} per report.
 */
import jpeg from "jpeg-js";
import { getProfile, profileNames, type FilePreview as ProfilePreview } from "../../src/profiles/index.ts";
import type { FilePreview } from "./report-data.ts";

export const MAX_PREVIEW_BYTES = 1 << 20;
export const MAX_TOTAL_PREVIEW_BYTES = 12 << 20;
/** Pixels jpeg-js decodes at most per image to find the damaged region. */
const MAX_DECODE_MEGAPIXELS = 16;
const BLOCK = 16;

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

function decodeRgba(bytes: Uint8Array): { width: number; height: number; data: Uint8Array } | null {
  try {
    return jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: true,
      tolerantDecoding: true,
      maxResolutionInMP: MAX_DECODE_MEGAPIXELS,
    });
  } catch {
    return null;
  }
}

/** Bounding box of the pixels that differ (the whole image when the card's copy does not decode). */
export function damageBox(
  intended: Uint8Array,
  actual: Uint8Array,
): { width: number; height: number; box: FilePreview["damage"] } | null {
  const a = decodeRgba(intended);
  if (!a) return null;
  const b = decodeRgba(actual);
  if (!b || b.width !== a.width || b.height !== a.height)
    return { width: a.width, height: a.height, box: { x: 0, y: 0, w: a.width, h: a.height } };
  let x0 = a.width,
    y0 = a.height,
    x1 = -1,
    y1 = -1;
  for (let y = 0; y < a.height; y++)
    for (let x = 0; x < a.width; x++) {
      const i = (y * a.width + x) * 4;
      if (a.data[i] !== b.data[i] || a.data[i + 1] !== b.data[i + 1] || a.data[i + 2] !== b.data[i + 2]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  return {
    width: a.width,
    height: a.height,
    box: x1 < 0 ? undefined : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 },
  };
}

/** `[first, count]` runs of 16-byte blocks that differ (a missing tail counts as differing). */
export function damagedBlocks(intended: Uint8Array, actual: Uint8Array): [number, number][] {
  const same = (k: number): boolean => {
    const a = intended.subarray(k * BLOCK, (k + 1) * BLOCK);
    const b = actual.subarray(k * BLOCK, (k + 1) * BLOCK);
    return a.length === b.length && a.every((v, i) => v === b[i]);
  };
  const out: [number, number][] = [];
  const n = Math.ceil(Math.max(intended.length, actual.length) / BLOCK);
  for (let k = 0; k < n; k++) {
    if (same(k)) continue;
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === k) last[1]++;
    else out.push([k, 1]);
  }
  return out;
}

function profilePreviewer(path: string): ((bytes: Uint8Array, name: string) => ProfilePreview) | undefined {
  const ext = /\.[^./]+$/.exec(path)?.[0].toLowerCase();
  if (!ext) return undefined;
  for (const n of profileNames()) {
    const f = getProfile(n)?.filePreviews?.[ext];
    if (f) return f;
  }
  return undefined;
}

/** Keeps the report under its byte budget: each preview asks before embedding. */
export class PreviewBudget {
  private used = 0;
  take(bytes: number): boolean {
    if (bytes > MAX_PREVIEW_BYTES || this.used + bytes > MAX_TOTAL_PREVIEW_BYTES) return false;
    this.used += bytes;
    return true;
  }
}

/** The preview of one file: `intended` is its last committed content, `actual` what the card holds. */
export function filePreview(
  path: string,
  intended: Uint8Array | null,
  actual: Uint8Array | null,
  budget: PreviewBudget,
): FilePreview {
  const base = { path, intendedSize: intended?.length ?? null, actualSize: actual?.length ?? null };
  const name = path.slice(path.lastIndexOf("/") + 1);
  const render = profilePreviewer(path);
  if (render) {
    const i = intended ? render(intended, name) : undefined;
    const a = actual ? render(actual, name) : undefined;
    const size = (i?.png?.length ?? 0) + (a?.png?.length ?? 0);
    if (!budget.take(size))
      return { ...base, kind: "png", omitted: `renderings of ${size} bytes exceed the report's size limit` };
    return {
      ...base,
      kind: "png",
      ...(i?.png && { intended: b64(i.png) }),
      ...(a?.png && { actual: b64(a.png) }),
      summary: a?.summary ? [...a.summary] : i?.summary ? [...i.summary] : [],
    };
  }
  if (/\.jpe?g$/i.test(path) && intended && intended[0] === 0xff && intended[1] === 0xd8) {
    const size = intended.length + (actual?.length ?? 0);
    if (!budget.take(size))
      return { ...base, kind: "jpeg", omitted: `${size} bytes of JPEG exceed the report's size limit` };
    const d = actual ? damageBox(intended, actual) : null;
    return {
      ...base,
      kind: "jpeg",
      intended: b64(intended),
      ...(actual && { actual: b64(actual) }),
      ...(d && { width: d.width, height: d.height }),
      ...(d?.box && { damage: d.box }),
    };
  }
  const blocks = intended && actual ? damagedBlocks(intended, actual) : [];
  return { ...base, kind: "bytes", damagedBlocks: blocks };
}
