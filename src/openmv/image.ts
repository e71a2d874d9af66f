/**
 * OpenMV `image` module, byte level (no filesystem): the `Image` object, JPEG compression, the
 * `save()` extension rules and the header check that `image.Image(path)` performs on load.
 *
 * Sources (openmv/openmv): `src/omv/imlib/imlib.c` (`imblib_parse_extension`, `imlib_read_geometry`,
 * `imlib_save_image`), `src/omv/imlib/jpeg.c` (`jpeg_read_geometry`, `jpeg_compress`),
 * `src/omv/common/ff_wrapper.c` (error texts), `src/omv/modules/py_image.c`, DEVICE-FACTS.md.
 *
 * JPEG encoder: our own baseline encoder (jpeg-encoder.ts) with the camera's file structure, its
 * quantisation rule and its subsampling for the quality (jpeg.c `jpeg_compress`, DEVICE-FACTS):
 * 4:2:0 for quality ≤ 35, 4:2:2 below 60, 4:4:4 above; grayscale as one component. Pixel values differ
 * slightly from the camera's (colour conversion, rounding; see jpeg-encoder.ts), the structure does not.
 */
import { encodeBaselineJpeg, type JpegSubsampling } from "./jpeg-encoder.ts";
import { PyOSError, ValueError } from "./py-errors.ts";

/** Pixel formats modelled: `sensor.RGB565`, `sensor.GRAYSCALE`, and compressed `image.JPEG`. */
export type PixFormat = "RGB565" | "GRAYSCALE" | "JPEG";
/** `image.RGB565` / `sensor.RGB565`: 2 bytes per pixel, little-endian uint16 (Cortex-M7 memory order). */
export const RGB565: PixFormat = "RGB565";
/** `image.GRAYSCALE`: 1 byte per pixel. */
export const GRAYSCALE: PixFormat = "GRAYSCALE";
/** `image.JPEG`: compressed; the data is the JPEG file bytes. */
export const JPEG: PixFormat = "JPEG";

/** Bytes per pixel of an uncompressed format. */
export function bytesPerPixel(format: "RGB565" | "GRAYSCALE"): number {
  return format === "RGB565" ? 2 : 1;
}

/** Bad arguments to the model's Image constructor that the firmware would reject (not a firmware text). */
export class ImageArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageArgumentError";
  }
}

/** An OpenMV image: pixels (RGB565/GRAYSCALE) or compressed JPEG bytes. */
export class Image {
  private _format: PixFormat;
  private _data: Uint8Array;

  constructor(
    /** Width in pixels. */
    readonly width: number,
    /** Height in pixels. */
    readonly height: number,
    format: PixFormat,
    data: Uint8Array,
  ) {
    this._format = format;
    this._data = data;
  }

  /**
   * `image.Image(w, h, pixformat, buffer=b)`. A JPEG buffer is wrapped as is, without any validation
   * (py_image.c); a JPEG image without a buffer raises `ValueError("Expected an image buffer")`.
   * Raw formats without a buffer get a zeroed frame.
   */
  static create(width: number, height: number, format: PixFormat, buffer?: Uint8Array): Image {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
      throw new ImageArgumentError(`image size must be positive integers, got ${width}x${height}`);
    }
    if (format === "JPEG") {
      if (buffer === undefined) throw new ValueError("Expected an image buffer");
      return new Image(width, height, format, buffer);
    }
    const need = width * height * bytesPerPixel(format);
    if (buffer === undefined) return new Image(width, height, format, new Uint8Array(need));
    if (buffer.length < need) {
      throw new ImageArgumentError(
        `buffer of ${buffer.length} bytes is too small for ${width}x${height} ${format} (${need} bytes)`,
      );
    }
    return new Image(width, height, format, buffer);
  }

  /** Current pixel format (changes to JPEG after {@link compress}). */
  get format(): PixFormat {
    return this._format;
  }

  /** True for JPEG images. */
  get isCompressed(): boolean {
    return this._format === "JPEG";
  }

  /** `img.size()`: bytes of pixel data (JPEG: the compressed size). */
  size(): number {
    return this._data.length;
  }

  /**
   * `img.bytearray()` / `bytearray(img)`: a view of the pixel data (no copy); RGB565 1280×720 is
   * 1,843,200 bytes. For a JPEG image it is the JPEG file bytes.
   */
  bytearray(): Uint8Array {
    return this._data;
  }

  /** RGB565 pixel at (x, y) as a 16-bit value (RGB565 images only). */
  getRgb565(x: number, y: number): number {
    const i = (y * this.width + x) * 2;
    return this._data[i] | (this._data[i + 1] << 8);
  }

  /**
   * `img.compress(quality=90)` (alias `to_jpeg`): compresses in place. Already-compressed images are
   * left as they are (jpeg.c returns early when `src->is_compressed`).
   * @throws ValueError("Quality ranges between 0 and 100") outside 1..100 (py_image.c accepts 1..100)
   * @throws OSError("Compression Failed!") when the encoder fails
   */
  compress(quality = 90): this {
    checkCompressQuality(quality);
    if (this._format === "JPEG") return this;
    this._data = encodeJpeg(this, quality);
    this._format = "JPEG";
    return this;
  }

  /** `img.to_jpeg(quality=90)`: same as {@link compress} in this model. */
  toJpeg(quality = 90): this {
    return this.compress(quality);
  }

  /** A deep copy. */
  copy(): Image {
    return new Image(this.width, this.height, this._format, this._data.slice());
  }
}

/** Quality check of `compress()` / `to_jpeg()`. */
export function checkCompressQuality(quality: number): void {
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new ValueError("Quality ranges between 0 and 100");
  }
}

/** The camera's chroma subsampling for a quality (jpeg.c `jpeg_compress`; DEVICE-FACTS). */
export function subsamplingForQuality(quality: number): JpegSubsampling {
  return quality <= 35 ? "4:2:0" : quality < 60 ? "4:2:2" : "4:4:4";
}

/**
 * Encodes an uncompressed image to JPEG bytes (see the module comment).
 * @throws OSError("Compression Failed!") when the encoder throws
 */
export function encodeJpeg(img: Image, quality: number): Uint8Array {
  if (img.format === "JPEG") return img.bytearray();
  try {
    return encodeBaselineJpeg(
      { width: img.width, height: img.height, format: img.format, data: img.bytearray() },
      quality,
      subsamplingForQuality(quality),
    );
  } catch {
    throw PyOSError("Compression Failed!");
  }
}

/** File formats chosen by `imblib_parse_extension`. */
export type SaveFormat = "jpg" | "png" | "bmp" | "pnm" | "raw";

/** Outcome of the save rules: the path actually written and the format. */
export interface SavePlan {
  /** Path written (with `.jpg`/`.bmp` appended when the name had no known extension). */
  readonly path: string;
  /** Format written. */
  readonly format: SaveFormat;
}

/**
 * `imblib_parse_extension` (imlib.c): case-insensitive `.jpg .jpeg .png .bmp .ppm .pgm .raw`.
 * Returns undefined for "don't care" (no extension or an unknown one). Raises the firmware's
 * `OSError` when the image cannot be stored in that format.
 */
export function parseExtension(path: string, format: PixFormat): SaveFormat | undefined {
  const p = path.toLowerCase();
  if (p.length >= 5 && p.endsWith(".jpeg")) return "jpg";
  if (p.length >= 4) {
    if (p.endsWith(".jpg")) return "jpg";
    if (p.endsWith(".png")) return "png";
    if (p.endsWith(".bmp")) {
      if (format === "JPEG") throw PyOSError("Image is not BMP!");
      return "bmp";
    }
    if (p.endsWith(".ppm")) {
      if (format !== "RGB565") throw PyOSError("Image is not PPM!");
      return "pnm";
    }
    if (p.endsWith(".pgm")) {
      if (format !== "GRAYSCALE") throw PyOSError("Image is not PGM!");
      return "pnm";
    }
    if (p.endsWith(".raw")) throw PyOSError("Image is not BAYER!"); // no Bayer images in this model
  }
  return undefined;
}

/**
 * The rules of `img.save(path, roi=None, quality=50)` as a pure function:
 * quality outside 1..100 → `OSError("Error: 1 <= quality <= 100!")`; a known extension picks the
 * format (with the firmware's "Image is not …!" errors); no extension or an UNKNOWN one (the firmware
 * has no error for it) appends `.jpg` for a JPEG image and `.bmp` for RGB565/GRAYSCALE
 * (`imlib_save_image`, `FORMAT_DONT_CARE`), so `save("x.txt")` writes `x.txt.jpg` / `x.txt.bmp`.
 */
export function planSave(path: string, format: PixFormat, quality = 50): SavePlan {
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw PyOSError("Error: 1 <= quality <= 100!");
  }
  const f = parseExtension(path, format);
  if (f !== undefined) return { path, format: f };
  return format === "JPEG" ? { path: path + ".jpg", format: "jpg" } : { path: path + ".bmp", format: "bmp" };
}

/** Thrown for save formats whose writers are not modelled (PNG, BMP): a model limit, not a firmware error. */
export class NotModelledError extends Error {
  constructor(what: string) {
    super(`not modelled: ${what}`);
    this.name = "NotModelledError";
  }
}

/**
 * The bytes `img.save()` writes for a plan: JPEG images byte for byte (`jpeg_write`), raw images
 * compressed at `quality` for `.jpg`, PPM (P6) / PGM (P5) for `.ppm` / `.pgm`.
 */
export function encodeForSave(img: Image, plan: SavePlan, quality = 50): Uint8Array {
  switch (plan.format) {
    case "jpg":
      return img.format === "JPEG" ? img.bytearray() : encodeJpeg(img, quality);
    case "pnm":
      return encodePnm(img);
    default:
      throw new NotModelledError(`writing ${plan.format.toUpperCase()} files (${plan.path})`);
  }
}

function encodePnm(img: Image): Uint8Array {
  const src = img.bytearray();
  const header = new TextEncoder().encode(
    `${img.format === "RGB565" ? "P6" : "P5"}\n${img.width} ${img.height}\n255\n`,
  );
  const n = img.width * img.height;
  const body = new Uint8Array(img.format === "RGB565" ? n * 3 : n);
  if (img.format === "RGB565") {
    for (let i = 0; i < n; i++) {
      const p = src[2 * i] | (src[2 * i + 1] << 8);
      const r5 = p >> 11;
      const g6 = (p >> 5) & 0x3f;
      const b5 = p & 0x1f;
      body[3 * i] = (r5 << 3) | (r5 >> 2);
      body[3 * i + 1] = (g6 << 2) | (g6 >> 4);
      body[3 * i + 2] = (b5 << 3) | (b5 >> 2);
    }
  } else {
    body.set(src.subarray(0, n));
  }
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}

/** Random-access reader over a file's bytes; `read` returns fewer bytes at end of file. */
export interface ByteReader {
  /** File size in bytes. */
  readonly size: number;
  /** Up to `length` bytes from `offset` (fewer, or none, past the end). */
  read(offset: number, length: number): Uint8Array;
}

/** A {@link ByteReader} over an in-memory buffer. */
export function bufferReader(bytes: Uint8Array): ByteReader {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

/** Result of the load-time header check. */
export interface ImageHeader {
  /** Detected format. */
  readonly format: "jpeg" | "png" | "bmp" | "pnm";
  /** Width from the JPEG frame header (JPEG only). */
  readonly width?: number;
  /** Height from the JPEG frame header (JPEG only). */
  readonly height?: number;
  /** Offset of the frame header marker (JPEG only). */
  readonly sofOffset?: number;
}

/**
 * What `image.Image(path)` checks when it loads a file (imlib.c `imlib_load_image` →
 * jpeg.c `jpeg_read_geometry`), reading progressively through `reader`:
 * 1. the first 4 bytes (fewer → `OSError("Failed to read requested bytes!")`);
 * 2. `P2/P3/P5/P6` → PNM, `BM` → BMP, `FF D8` → JPEG, `89 'PNG'` → PNG, else
 *    `OSError("Unsupported format!")`;
 * 3. JPEG: from offset 0, 16-bit markers: `FFD0..FFD9` (RST, SOI, EOI) are skipped without a length;
 *    `FFC0..FFCF`, `FFDA..FFDF`, `FFE0..FFEF`, `FFF0..FFFE` carry a length: SOF markers (C0–C3, C5–C7,
 *    C9–CB, CD–CF) end the parse after reading precision, height and width; the others are skipped
 *    (`f_lseek` to the end of the segment, clamped at end of file as FatFs does for files opened
 *    read-only). Any other word → `OSError("File corrupted!")`; end of file inside a read →
 *    `OSError("Failed to read requested bytes!")`. The entropy-coded data is never looked at.
 * PNG/BMP/PNM geometry parsers (with their own errors) are not modelled: only the magic is checked.
 */
export function checkImageHeader(reader: ByteReader): ImageHeader {
  const magic = reader.read(0, 4);
  if (magic.length < 4) throw PyOSError("Failed to read requested bytes!");
  if (magic[0] === 0x50 && [0x32, 0x33, 0x35, 0x36].includes(magic[1])) return { format: "pnm" };
  if (magic[0] === 0x42 && magic[1] === 0x4d) return { format: "bmp" };
  if (magic[0] === 0xff && magic[1] === 0xd8) return readJpegGeometry(reader);
  if (magic[0] === 0x89 && magic[1] === 0x50 && magic[2] === 0x4e && magic[3] === 0x47)
    return { format: "png" };
  throw PyOSError("Unsupported format!");
}

/** {@link checkImageHeader} over a whole buffer. */
export function checkImageHeaderBytes(bytes: Uint8Array): ImageHeader {
  return checkImageHeader(bufferReader(bytes));
}

function readJpegGeometry(reader: ByteReader): ImageHeader {
  let pos = 0;
  const word = (): number => {
    const b = reader.read(pos, 2);
    if (b.length < 2) throw PyOSError("Failed to read requested bytes!");
    pos += 2;
    return (b[0] << 8) | b[1];
  };
  for (;;) {
    const at = pos;
    const header = word();
    if (header >= 0xffd0 && header <= 0xffd9) continue;
    if (
      (header >= 0xffc0 && header <= 0xffcf) ||
      (header >= 0xffda && header <= 0xffdf) ||
      (header >= 0xffe0 && header <= 0xffef) ||
      (header >= 0xfff0 && header <= 0xfffe)
    ) {
      const size = word();
      if (isSof(header)) {
        const b = reader.read(pos, 1);
        if (b.length < 1) throw PyOSError("Failed to read requested bytes!");
        pos += 1;
        const height = word();
        const width = word();
        return { format: "jpeg", width, height, sofOffset: at };
      }
      // file_seek(fp, f_tell(fp) + size - 2); f_lseek clamps to the file size in read mode.
      pos = Math.min(reader.size, pos + size - 2);
    } else {
      throw PyOSError("File corrupted!");
    }
  }
}

function isSof(m: number): boolean {
  return (
    (m >= 0xffc0 && m <= 0xffc3) ||
    (m >= 0xffc5 && m <= 0xffc7) ||
    (m >= 0xffc9 && m <= 0xffcb) ||
    (m >= 0xffcd && m <= 0xffcf)
  );
}

/**
 * `image.Image(path)` after reading the file: header check, then `imblib_parse_extension` enforced on
 * the path (a JPEG file named `.bmp` raises `OSError("Image is not BMP!")`). Returns the JPEG image
 * wrapping the file bytes (the board reads the whole file, undecoded).
 */
export function loadImageFromBytes(path: string, bytes: Uint8Array): Image {
  const h = checkImageHeaderBytes(bytes);
  if (h.format !== "jpeg") throw new NotModelledError(`loading ${h.format.toUpperCase()} files (${path})`);
  parseExtension(path, "JPEG");
  return new Image(h.width!, h.height!, "JPEG", bytes);
}
