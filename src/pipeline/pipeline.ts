/**
 * The shape shared by the reporter's pipeline ({@link asReportedPipeline}) and the fix we recommend
 * ({@link hardenedPipeline}), so a scenario selects one with `pipeline: as-reported | hardened` and
 * calls the same granular steps.
 *
 * Every step logs through `board.print()` what the script prints and returns a value instead of
 * raising for the failures the scripts catch; failures the scripts do not catch propagate as the
 * Python exception (the script would stop with a traceback).
 */
import type { BoardImage, OpenMvBoard } from "../openmv/board.ts";
import type { RsaPrivateKey } from "../openmv/rsa.ts";

/** Name of a pipeline variant, as scenarios spell it. */
export type PipelineName = "as-reported" | "hardened";

/** Directory of the capture loop's files (main.py). */
export const IMAGE_DIR = "/sdcard/myimages";
/** Public key file, relative to the cwd `/sdcard` (seed: "`221.pub` in the root directory"). */
export const DEFAULT_PUB_PATH = "221.pub";

/** Options of `main`. */
export interface MainOptions {
  /** Frames to capture (main.py's `capture_count`). */
  readonly frames: number;
  /** Pause after each frame, ms of virtual time (default 1000). */
  readonly intervalMs?: number;
  /** Public key file (default `<device id>.pub`). */
  readonly pubPath?: string;
}

/** What happened to one frame of `main`. */
export interface FrameResult {
  /** Timestamp of the names, Unix ms (`utime.time() * 1000`). */
  readonly ms: number;
  readonly rawPath: string;
  readonly encPath: string;
  /** True when the raw file was read back without error. */
  readonly readBackOk: boolean;
  /** True when the `.enc` was written. */
  readonly encrypted: boolean;
}

/** Result of `main`. */
export interface MainResult {
  readonly frames: readonly FrameResult[];
  /** The last traceback line when an uncaught exception stopped the script (e.g. `OSError: 28`). */
  readonly stoppedBy?: string;
}

/** Options of `test1` (jpg → `.enc`). */
export interface Test1Options {
  /** Default `/sdcard/myimages/221_1735689810000_raw.jpg` (seed, test1.py lines 66/68). */
  readonly src?: string;
  /** Default: `src` with `_raw.jpg` replaced by `.enc`. */
  readonly dst?: string;
  readonly pubPath?: string;
}

/** Options of `test2` (`.enc` → decrypt → `.jpg`). */
export interface Test2Options {
  /** The private key of `enc_priv.py`. */
  readonly privKey: RsaPrivateKey;
  /** Default `/sdcard/myimages/221_1735689700000.enc` (seed, test2.py lines 64/66). */
  readonly src?: string;
  /** Default: `src` with `.enc` replaced by `.jpg`. */
  readonly dst?: string;
}

/** The granular steps and the composed scripts of one pipeline variant. */
export interface Pipeline {
  readonly name: PipelineName;
  /** `sensor.snapshot()` (RGB565 QVGA after main.py's sensor set-up). */
  capture(board: OpenMvBoard): BoardImage;
  /**
   * Saves the frame as `/sdcard/myimages/<id>_<ms>_raw.jpg` (creating `myimages` if missing).
   * @param ms the name's timestamp (default: `utime.time() * 1000` now)
   * @returns the path written
   */
  saveRaw(board: OpenMvBoard, img: BoardImage, ms?: number): string;
  /** Reads the raw file back; logs and returns null on failure. */
  readBack(board: OpenMvBoard, path: string, expected?: Uint8Array): BoardImage | null;
  /** Reads `src`, hybrid-encrypts it to `dst`; logs and returns false on failure. */
  encryptFile(board: OpenMvBoard, src: string, dst: string, pubPath?: string): boolean;
  /** Decrypts `src` and saves the JPEG as `dst`; logs and returns false on failure. */
  decryptFile(board: OpenMvBoard, src: string, dst: string, privKey: RsaPrivateKey): boolean;
  /** main.py: the capture loop. */
  main(board: OpenMvBoard, options: MainOptions): MainResult;
  /** test1.py: jpg → `.enc`. */
  test1(board: OpenMvBoard, options?: Test1Options): boolean;
  /** test2.py: `.enc` → `.jpg`. */
  test2(board: OpenMvBoard, options: Test2Options): boolean;
}

/** The device id used in names: main.py's mapping, else the unique id's hex (documented assumption). */
export function deviceIdOf(board: OpenMvBoard): string {
  const id = board.deviceId();
  if (id !== undefined) return String(id);
  return Array.from(board.machine.unique_id(), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `/sdcard/myimages/<id>_<ms>_raw.jpg`. */
export function rawPathFor(id: string, ms: number): string {
  return `${IMAGE_DIR}/${id}_${ms}_raw.jpg`;
}

/** `/sdcard/myimages/<id>_<ms>.enc`. */
export function encPathFor(id: string, ms: number): string {
  return `${IMAGE_DIR}/${id}_${ms}.enc`;
}

/** `utime.time() * 1000`: the names' timestamp (whole seconds, so it ends in 000 as the seed's do). */
export function nameMillis(board: OpenMvBoard): number {
  return board.utime.time() * 1000;
}

/** `if 'myimages' not in os.listdir('/sdcard'): os.mkdir(...)` */
export function ensureImageDir(board: OpenMvBoard): void {
  if (!board.os.listdir("/sdcard").includes("myimages")) board.os.mkdir(IMAGE_DIR);
}
