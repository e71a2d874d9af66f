/**
 * The `.pov` image file of the Teensy 4.1 POV poi (seed 002), settled as `src/pov/README.md` explains:
 *
 * ```
 * offset size field     (all little-endian: what `file.write(&header, sizeof header)` puts on disk on ARM)
 *  0     4    magic     0x504F5631 ("POV1" read as a big-endian word; bytes 31 56 4F 50 on the card)
 *  4     4    version   1 (as designed) | 2 (hardened: `crc32` holds a checksum)
 *  8     2    width     pixels, 1..65535 (columns: one column per angular step of the sweep)
 * 10     2    height    pixels, 1..65535 (rows: one per LED of the strip)
 * 12     4    dataSize  width * height * 3
 * 16     4    reserved  v1: 0 | v2: crc32 (zlib/IEEE) of bytes 0..15 then the pixel data
 * 20     4    reserved2 0 (the seed's 24-byte header: 4 bytes the field list does not name)
 * 24     dataSize pixels  RGB, row-major (row y = LED y, x = column), 1 byte per channel
 * ```
 */
import { crc32 } from "node:zlib";
import { PovFormatError, hex32, hexBytes } from "./format-error.ts";

/** `SD_FILE_MAGIC` (config.h) as the firmware's uint32 constant. */
export const POV_MAGIC = 0x504f5631;
/** Header bytes before the pixels (the seed's stated size; its fields take 20 of them). */
export const POV_HEADER_BYTES = 24;
/** The as-designed version; the hardened writer uses {@link POV_VERSION_CRC}. */
export const POV_VERSION = 1;
/** Hardened files: `reserved` holds the CRC-32 of header bytes 0..15 and the pixels. */
export const POV_VERSION_CRC = 2;

/** A decoded `.pov` header. */
export interface PovHeader {
  readonly version: number;
  /** Pixels (columns of the sweep). */
  readonly width: number;
  /** Pixels (LEDs). */
  readonly height: number;
  /** Bytes of pixel data (width * height * 3). */
  readonly dataSize: number;
  /** The `reserved` word (the CRC in version 2). */
  readonly reserved: number;
  readonly reserved2: number;
}

/** An image: RGB bytes, row-major. */
export interface PovImage {
  readonly width: number;
  readonly height: number;
  /** width * height * 3 bytes. */
  readonly pixels: Uint8Array;
}

/** How strict a decode is: the as-designed reader has no checksum; the hardened one requires it. */
export type PovVariant = "as-designed" | "hardened";

/** CRC-32 of header bytes 0..15 followed by the pixels (the hardened file's checksum). */
export function povChecksum(header16: Uint8Array, pixels: Uint8Array): number {
  return crc32(pixels, crc32(header16.subarray(0, 16)));
}

/** Encodes an image; `variant` hardened writes version 2 with the checksum. */
export function encodePov(image: PovImage, variant: PovVariant = "as-designed"): Uint8Array {
  const { width, height, pixels } = image;
  if (!Number.isInteger(width) || width < 1 || width > 0xffff)
    throw new RangeError(`width must be 1..65535, got ${width}`);
  if (!Number.isInteger(height) || height < 1 || height > 0xffff)
    throw new RangeError(`height must be 1..65535, got ${height}`);
  const dataSize = width * height * 3;
  if (pixels.length !== dataSize)
    throw new RangeError(`pixels must be width*height*3 = ${dataSize} bytes, got ${pixels.length}`);
  const out = new Uint8Array(POV_HEADER_BYTES + dataSize);
  const v = new DataView(out.buffer);
  v.setUint32(0, POV_MAGIC, true);
  v.setUint32(4, variant === "hardened" ? POV_VERSION_CRC : POV_VERSION, true);
  v.setUint16(8, width, true);
  v.setUint16(10, height, true);
  v.setUint32(12, dataSize, true);
  if (variant === "hardened") v.setUint32(16, povChecksum(out, pixels), true);
  out.set(pixels, POV_HEADER_BYTES);
  return out;
}

/**
 * Decodes and validates a header (the first 24 bytes; `fileLength` checks the file holds exactly
 * header + dataSize bytes when given). Throws {@link PovFormatError} naming field, offset, expected, found.
 */
export function decodePovHeader(
  bytes: Uint8Array,
  options: { file?: string; variant?: PovVariant; fileLength?: number } = {},
): PovHeader {
  const file = options.file;
  const variant = options.variant ?? "as-designed";
  const fail = (field: string, offset: number, expected: string, found: string): never => {
    throw new PovFormatError(file, field, offset, expected, found);
  };
  if (bytes.length < POV_HEADER_BYTES)
    fail("header", 0, `${POV_HEADER_BYTES} header bytes`, `${bytes.length} bytes`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, POV_HEADER_BYTES);
  const magic = v.getUint32(0, true);
  if (magic !== POV_MAGIC) {
    const swapped = v.getUint32(0, false) === POV_MAGIC;
    fail(
      "magic",
      0,
      `${hex32(POV_MAGIC)} little-endian (bytes 31 56 4f 50)`,
      `${hexBytes(bytes.subarray(0, 4))}${swapped ? " (the magic in big-endian byte order: not written by the firmware)" : ""}`,
    );
  }
  const version = v.getUint32(4, true);
  const wanted = variant === "hardened" ? POV_VERSION_CRC : POV_VERSION;
  if (version !== wanted) fail("version", 4, String(wanted), String(version));
  const width = v.getUint16(8, true);
  if (width === 0) fail("width", 8, "1..65535", "0");
  const height = v.getUint16(10, true);
  if (height === 0) fail("height", 10, "1..65535", "0");
  const dataSize = v.getUint32(12, true);
  if (dataSize !== width * height * 3)
    fail("dataSize", 12, `width*height*3 = ${width * height * 3}`, String(dataSize));
  const reserved = v.getUint32(16, true);
  if (variant === "as-designed" && reserved !== 0) fail("reserved", 16, "0", hex32(reserved));
  const reserved2 = v.getUint32(20, true);
  if (reserved2 !== 0) fail("reserved2", 20, "0", hex32(reserved2));
  if (options.fileLength !== undefined && options.fileLength !== POV_HEADER_BYTES + dataSize)
    fail(
      "file length",
      POV_HEADER_BYTES,
      `${POV_HEADER_BYTES} + dataSize = ${POV_HEADER_BYTES + dataSize} bytes`,
      `${options.fileLength} bytes`,
    );
  return { version, width, height, dataSize, reserved, reserved2 };
}

/** Decodes a whole `.pov` file strictly (header, length, and the checksum for the hardened variant). */
export function decodePov(
  bytes: Uint8Array,
  options: { file?: string; variant?: PovVariant } = {},
): PovImage & { header: PovHeader } {
  const header = decodePovHeader(bytes, { ...options, fileLength: bytes.length });
  const pixels = bytes.slice(POV_HEADER_BYTES, POV_HEADER_BYTES + header.dataSize);
  if ((options.variant ?? "as-designed") === "hardened") {
    const sum = povChecksum(bytes, pixels);
    if (sum !== header.reserved)
      throw new PovFormatError(
        options.file,
        "reserved (crc32)",
        16,
        `the CRC-32 of header bytes 0..15 and the pixels, ${hex32(sum)}`,
        hex32(header.reserved),
      );
  }
  return { width: header.width, height: header.height, pixels, header };
}
