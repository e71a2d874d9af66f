/**
 * The POV engine's SD side: `loadImageFromSD(filename, sdStorage)` fills its display buffer, and the
 * strip shows one column of the image per angular step (column x, LED y = row y).
 */
import type { SDStorageManager } from "./sd-storage.ts";
import { SDError, type SDErrorCode } from "./sd-error.ts";

/** Display buffer of the firmware: 360 columns × 32 LEDs × RGB (the seed's example image). */
export const DEFAULT_DISPLAY_BUFFER_BYTES = 360 * 32 * 3;

export class PovEngine {
  /** The image shown, RGB row-major; valid up to width*height*3. */
  readonly displayBuffer: Uint8Array;
  width = 0;
  height = 0;
  enabled = false;
  /** The file the display buffer came from. */
  current: string | null = null;

  constructor(displayBufferBytes = DEFAULT_DISPLAY_BUFFER_BYTES) {
    this.displayBuffer = new Uint8Array(displayBufferBytes);
  }

  /**
   * Loads the image into a scratch buffer first, so a failed load keeps the image on display (the
   * seed: "loading new images from SD on demand").
   */
  loadImageFromSD(filename: string, sdStorage: SDStorageManager): SDErrorCode {
    const scratch = new Uint8Array(this.displayBuffer.length);
    const r = sdStorage.loadImage(filename, scratch, scratch.length);
    if (r.error !== SDError.SD_OK) return r.error;
    this.displayBuffer.set(scratch);
    this.width = r.width;
    this.height = r.height;
    this.current = filename;
    return SDError.SD_OK;
  }

  setEnabled(on: boolean): void {
    this.enabled = on;
  }

  /** The LED colours at angular step `x` (RGB per LED, LED 0 first). */
  column(x: number): Uint8Array {
    const out = new Uint8Array(this.height * 3);
    for (let y = 0; y < this.height; y++)
      out.set(this.displayBuffer.subarray((y * this.width + x) * 3, (y * this.width + x) * 3 + 3), y * 3);
    return out;
  }

  /** The pixels shown (width*height*3 bytes). */
  pixels(): Uint8Array {
    return this.displayBuffer.slice(0, this.width * this.height * 3);
  }
}
