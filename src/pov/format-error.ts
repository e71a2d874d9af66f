import { InputError } from "../input/index.ts";

/**
 * A `.pov`, `.pat` or ESP32 frame that breaks its format: names the file (or frame), the field, the
 * byte offset of the field, what was expected and what was found. Joins the project's InputError
 * family, so a CLI prints it and exits 2.
 */
export class PovFormatError extends InputError {
  constructor(
    /** The file as the user named it, or e.g. `frame` for a serial frame. */
    file: string | undefined,
    /** The field concerned (`magic`, `dataSize`, `patterns[3].speed`, `file length`...). */
    readonly field: string,
    /** Byte offset of the field in the file or frame. */
    readonly offset: number,
    /** What the format requires there. */
    readonly expected: string,
    /** What the bytes hold. */
    readonly found: string,
  ) {
    const message = `at offset ${offset}: expected ${expected}, found ${found}`;
    super(file, [{ path: [field], message }], `${file ? `${file}: ` : ""}${field} ${message}`);
    this.name = "PovFormatError";
  }
}

/** `0x1234abcd` */
export function hex32(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, "0")}`;
}

/** `31 56 4f 50` */
export function hexBytes(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
}
