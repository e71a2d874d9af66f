/**
 * The fix we recommend to users: the same steps as the reporter's pipeline, made crash-safe and
 * self-checking. Every file is written as `<name>.tmp` (open 'wb', one write, close = f_close writes
 * the directory entry), read back and compared byte for byte, then renamed over the final name.
 * MicroPython's `VfsFat.rename` removes an existing target first when FatFs' f_rename answers FR_EXIST
 * (extmod/vfs_fat.c), so a cut between that unlink and the rename leaves the final name absent and the
 * complete `.tmp` present: the reader sees the old state or nothing, never a torn file.
 *
 * `.enc` files are v2 (enc-format.ts: magic, version, lengths, HMAC-SHA256 tag) with strict RSA;
 * v1 files are still read, with strict RSA and a JPEG header check. Every failure is a typed error
 * whose message names the file, the offset and what was expected, logged as
 * `ERROR, [IMG] ...: <ErrorName>: <message>`; nothing wrong is ever accepted silently.
 *
 * `readBack` compares with the bytes just written when it is given them (main), else it checks the
 * JPEG header and that the file ends with EOI `FF D9`.
 */
import type { BoardImage, OpenMvBoard } from "../openmv/board.ts";
import { checkImageHeaderBytes } from "../openmv/image.ts";
import type { RsaPrivateKey } from "../openmv/rsa.ts";
import { PyException } from "../openmv/py-errors.ts";
import { KeyFileError } from "../openmv/key-files.ts";
import { EncError, decryptEncChecked, decryptEncV2, encryptEncV2, isEncV2 } from "./enc-format.ts";
import {
  RAW_SAVE_QUALITY,
  SYNC_SLEEP_MS,
  TEST1_DEFAULT_SRC,
  TEST2_DEFAULT_SRC,
  defaultEncPath,
  readPublicKey,
} from "./as-reported.ts";
import {
  DEFAULT_PUB_PATH,
  deviceIdOf,
  encPathFor,
  ensureImageDir,
  nameMillis,
  rawPathFor,
  type FrameResult,
  type MainOptions,
  type MainResult,
  type Pipeline,
  type Test1Options,
  type Test2Options,
} from "./pipeline.ts";

/** Suffix of the temporary file written before the rename. */
export const TMP_SUFFIX = ".tmp";

/** A file read back does not hold what was written or what its format requires. */
export class FileIntegrityError extends Error {
  constructor(
    readonly path: string,
    /** Byte offset of the first difference or problem. */
    readonly offset: number,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`${path} offset ${offset}: expected ${expected}, found ${found}`);
    this.name = "FileIntegrityError";
  }
}

/** The text logged for a failure: `<ErrorName>: <message>` (Python exceptions as their traceback line). */
export function hardenedErrorText(e: unknown): string {
  if (e instanceof PyException) return e.exc();
  if (e instanceof EncError || e instanceof FileIntegrityError || e instanceof KeyFileError) {
    return `${e.name}: ${e.message}`;
  }
  if (e instanceof Error && e.name === "NotModelledError") return `${e.name}: ${e.message}`;
  throw e;
}

function readAll(board: OpenMvBoard, path: string): Uint8Array {
  return board.open(path, "rb").with((f) => f.read());
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** Throws {@link FileIntegrityError} unless `got` equals `want`. */
function verifySame(path: string, got: Uint8Array, want: Uint8Array): void {
  const at = firstDifference(got, want);
  if (at < 0) return;
  if (got.length !== want.length && at === Math.min(got.length, want.length)) {
    throw new FileIntegrityError(path, at, `${want.length} bytes`, `${got.length} bytes`);
  }
  throw new FileIntegrityError(
    path,
    at,
    `byte 0x${want[at].toString(16).padStart(2, "0")} as written`,
    `0x${got[at].toString(16).padStart(2, "0")}`,
  );
}

/** Checks the JPEG header (the firmware's own check) and the EOI marker at the end. */
function verifyJpeg(path: string, bytes: Uint8Array): void {
  try {
    checkImageHeaderBytes(bytes);
  } catch (e) {
    if (e instanceof PyException) {
      throw new FileIntegrityError(path, 0, "a JPEG header (FF D8 ... SOF)", e.str());
    }
    throw e;
  }
  const n = bytes.length;
  if (n < 4 || bytes[n - 2] !== 0xff || bytes[n - 1] !== 0xd9) {
    throw new FileIntegrityError(
      path,
      Math.max(0, n - 2),
      "JPEG end marker FF D9",
      "other bytes or end of file",
    );
  }
}

/**
 * Writes `data` to `path` crash-safely: `<path>.tmp` (write, close), read back and compare, rename.
 * On a mismatch the temporary file is removed and {@link FileIntegrityError} raised.
 */
export function atomicWrite(board: OpenMvBoard, path: string, data: Uint8Array): void {
  const tmp = path + TMP_SUFFIX;
  board.open(tmp, "wb").with((f) => f.write(data));
  const back = readAll(board, tmp);
  try {
    verifySame(tmp, back, data);
  } catch (e) {
    try {
      board.os.remove(tmp);
    } catch {
      // best effort: the error below is what matters
    }
    throw e;
  }
  board.os.rename(tmp, path);
}

function capture(board: OpenMvBoard): BoardImage {
  return board.sensor.snapshot();
}

/** Compresses a copy of the frame and writes it atomically; returns the path. */
function saveRawBytes(board: OpenMvBoard, img: BoardImage, ms: number): { path: string; bytes: Uint8Array } {
  ensureImageDir(board);
  const path = rawPathFor(deviceIdOf(board), ms);
  const jpeg = img.format === "JPEG" ? img : img.copy().compress(RAW_SAVE_QUALITY);
  const bytes = jpeg.bytearray();
  atomicWrite(board, path, bytes);
  board.print(`INFO, [IMG] Saved raw image file:${path}`);
  return { path, bytes };
}

function saveRaw(board: OpenMvBoard, img: BoardImage, ms = nameMillis(board)): string {
  return saveRawBytes(board, img, ms).path;
}

function readBack(board: OpenMvBoard, path: string, expected?: Uint8Array): BoardImage | null {
  try {
    const img = board.image.Image(path);
    if (expected) verifySame(path, img.bytearray(), expected);
    else verifyJpeg(path, img.bytearray());
    return img;
  } catch (e) {
    board.print(`ERROR, [IMG] Failed read raw image file:${path}, error: ${hardenedErrorText(e)}`);
    return null;
  }
}

function encryptBytes(
  board: OpenMvBoard,
  plain: Uint8Array,
  src: string,
  dst: string,
  pubPath: string,
): void {
  verifyJpeg(src, plain);
  const pub = readPublicKey(board, pubPath);
  atomicWrite(board, dst, encryptEncV2(plain, pub, board.urandomPrng));
}

function encryptFile(board: OpenMvBoard, src: string, dst: string, pubPath = DEFAULT_PUB_PATH): boolean {
  try {
    encryptBytes(board, readAll(board, src), src, dst, pubPath);
    board.print(`INFO, [IMG] Saved encrypted image file:${dst}`);
    return true;
  } catch (e) {
    board.print(`ERROR, [IMG] Failed to encrypt and save image: ${hardenedErrorText(e)}`);
    return false;
  }
}

/** Decrypts a v2 (or, strictly, a v1) `.enc`; the plaintext must be a whole JPEG. */
export function decryptStrict(data: Uint8Array, src: string, privKey: RsaPrivateKey): Uint8Array {
  const plain = isEncV2(data) ? decryptEncV2(data, privKey) : decryptEncChecked(data, privKey, "strict");
  verifyJpeg(`${src} (decrypted)`, plain);
  return plain;
}

function decryptFile(board: OpenMvBoard, src: string, dst: string, privKey: RsaPrivateKey): boolean {
  try {
    const plain = decryptStrict(readAll(board, src), src, privKey);
    atomicWrite(board, dst, plain);
    board.print(`INFO, [IMG] Decrypted and saved image file:${dst}`);
    return true;
  } catch (e) {
    board.print(`ERROR, [IMG] Failed to decrypt and save image: ${hardenedErrorText(e)}`);
    return false;
  }
}

function main(board: OpenMvBoard, options: MainOptions): MainResult {
  const frames: FrameResult[] = [];
  const id = deviceIdOf(board);
  const pubPath = options.pubPath ?? `${id}.pub`;
  try {
    board.print(`INFO, [SYS] Device id: ${id}`);
    board.sensor.reset();
    board.sensor.set_pixformat(board.sensor.RGB565);
    board.sensor.set_framesize(board.sensor.QVGA);
    for (let i = 0; i < options.frames; i++) {
      const img = capture(board);
      const ms = nameMillis(board);
      const encPath = encPathFor(id, ms);
      let rawPath = rawPathFor(id, ms);
      let readBackOk = false;
      let encrypted = false;
      try {
        const saved = saveRawBytes(board, img, ms);
        rawPath = saved.path;
        board.utime.sleep_ms(SYNC_SLEEP_MS);
        readBackOk = readBack(board, rawPath, saved.bytes) !== null;
        // Encrypt the bytes known to be good, not what a (possibly stale) read returned.
        if (readBackOk) {
          encryptBytes(board, saved.bytes, rawPath, encPath, pubPath);
          board.print(`INFO, [IMG] Saved encrypted image file:${encPath}`);
          encrypted = true;
        }
      } catch (e) {
        board.print(`ERROR, [IMG] Frame ${ms} failed: ${hardenedErrorText(e)}`);
      }
      frames.push({ ms, rawPath, encPath, readBackOk, encrypted });
      board.gc.collect();
      board.utime.sleep_ms(options.intervalMs ?? 1000);
    }
    return { frames };
  } catch (e) {
    if (!(e instanceof PyException)) throw e;
    board.print(e.exc());
    return { frames, stoppedBy: e.exc() };
  }
}

function test1(board: OpenMvBoard, options: Test1Options = {}): boolean {
  const src = options.src ?? TEST1_DEFAULT_SRC;
  return encryptFile(board, src, options.dst ?? defaultEncPath(src), options.pubPath ?? DEFAULT_PUB_PATH);
}

function test2(board: OpenMvBoard, options: Test2Options): boolean {
  const src = options.src ?? TEST2_DEFAULT_SRC;
  return decryptFile(board, src, options.dst ?? src.replace(/\.enc$/, "") + ".jpg", options.privKey);
}

/** The recommended pipeline (before/after comparisons select it with `pipeline: hardened`). */
export const hardenedPipeline: Pipeline = {
  name: "hardened",
  capture,
  saveRaw,
  readBack,
  encryptFile,
  decryptFile,
  main,
  test1,
  test2,
};
