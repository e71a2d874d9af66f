/**
 * The reporter's scripts (seed 000: main.py, test1.py, test2.py, enc.py; DEVICE-FACTS "The reporter's
 * pipeline"), ported step by step onto {@link OpenMvBoard}. The seed gives the file names, the two
 * error lines and the order of operations, not the source; where the source is not known, the port
 * makes the choices listed here (all visible in the board's log or the card's content):
 *
 * - Names: `/sdcard/myimages/<id>_<ms>_raw.jpg` and `<id>_<ms>.enc`, `ms = utime.time() * 1000` (whole
 *   seconds, as the seed's `221_1735689732000`); `myimages` is created when `os.listdir('/sdcard')`
 *   does not list it.
 * - main.py per frame: `img = sensor.snapshot()` → `img.save(raw)` (quality 50) → `os.sync()` →
 *   `utime.sleep_ms(500)` → `image.Image(raw)` in try/except (ERROR line 1) → encrypt the read-back
 *   image's bytes (`img.bytearray()`), `open(enc, 'wb').write(...)`, close → `os.sync()` →
 *   `utime.sleep_ms(interval)`. The public key is read from `<id>.pub` (open 'r', `int(f.readline())`)
 *   at each encryption, as enc.py's `encrypt_file` would. Uncaught exceptions stop the script.
 * - Hybrid encryption: `os.urandom(32)` key, `os.urandom(16)` IV, PKCS#7, AES-256-CBC, RSA PKCS#1 v1.5
 *   of key and IV (enc-format.ts v1). Decryption uses the board's lax RSA library.
 * - test2.py: `open(src,'rb').read()` → decrypt → `image.Image(320, 240, image.JPEG, buffer=...)` →
 *   `img.save(dst)` in try/except (ERROR line 2, `str(e)`: `key`, `Decryption failed`, ...).
 * - INFO lines (`INFO, [IMG] ...`) are the port's, in the style of the seed's ERROR lines.
 */
import type { BoardImage, OpenMvBoard } from "../openmv/board.ts";
import { KeyFileError, parsePublicKeyFile } from "../openmv/key-files.ts";
import { NotModelledError } from "../openmv/image.ts";
import { PyException } from "../openmv/py-errors.ts";
import type { RsaPrivateKey, RsaPublicKey } from "../openmv/rsa.ts";
import { decryptEnc, encryptEnc } from "./enc-format.ts";
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

/** JPEG quality of `img.save()` when the script gives none (imlib default). */
export const RAW_SAVE_QUALITY = 50;
/** main.py's pause after `os.sync()` before reading back, ms. */
export const SYNC_SLEEP_MS = 500;
/** test1.py's default source (seed: "/sdcard/myimages/221_1735689810000_raw.jpg"). */
export const TEST1_DEFAULT_SRC = "/sdcard/myimages/221_1735689810000_raw.jpg";
/** test2.py's default source (seed: "/sdcard/myimages/221_1735689700000.enc"). */
export const TEST2_DEFAULT_SRC = "/sdcard/myimages/221_1735689700000.enc";

/**
 * What `str(e)` prints for an exception the script catches. Model-side typed errors that stand for a
 * board exception print that exception; anything else is a programming error and propagates.
 */
export function scriptErrorText(e: unknown): string {
  if (e instanceof PyException) return e.str();
  if (e instanceof KeyFileError) return e.pyError ? e.pyError.str() : e.message;
  if (e instanceof NotModelledError) return e.message;
  throw e;
}

/** The public key as main.py reads it: `int(open(path).readline())`. */
export function readPublicKey(board: OpenMvBoard, pubPath: string): RsaPublicKey {
  const text = board.open(pubPath, "r").with((f) => f.readline());
  return parsePublicKeyFile(text, pubPath);
}

/** Hybrid-encrypts `plain` and writes it to `dst` (open 'wb', one write, close), then `os.sync()`. */
function writeEnc(board: OpenMvBoard, plain: Uint8Array, dst: string, pubPath: string): void {
  const pub = readPublicKey(board, pubPath);
  const data = encryptEnc(plain, pub, board.urandomPrng);
  board.open(dst, "wb").with((f) => f.write(data));
  board.os.sync();
}

function capture(board: OpenMvBoard): BoardImage {
  return board.sensor.snapshot();
}

function saveRaw(board: OpenMvBoard, img: BoardImage, ms = nameMillis(board)): string {
  ensureImageDir(board);
  const path = rawPathFor(deviceIdOf(board), ms);
  img.save(path, { quality: RAW_SAVE_QUALITY });
  board.print(`INFO, [IMG] Saved raw image file:${path}`);
  return path;
}

function readBack(board: OpenMvBoard, path: string): BoardImage | null {
  try {
    return board.image.Image(path);
  } catch (e) {
    board.print(`ERROR, [IMG] Failed read raw image file:${path}, error: ${scriptErrorText(e)}`);
    return null;
  }
}

function encryptFile(board: OpenMvBoard, src: string, dst: string, pubPath = DEFAULT_PUB_PATH): boolean {
  try {
    const plain = board.open(src, "rb").with((f) => f.read());
    writeEnc(board, plain, dst, pubPath);
    board.print(`INFO, [IMG] Saved encrypted image file:${dst}`);
    return true;
  } catch (e) {
    board.print(`ERROR, [IMG] Failed to encrypt and save image: ${scriptErrorText(e)}`);
    return false;
  }
}

function decryptFile(board: OpenMvBoard, src: string, dst: string, privKey: RsaPrivateKey): boolean {
  try {
    const data = board.open(src, "rb").with((f) => f.read());
    const plain = decryptEnc(data, privKey, "lax");
    const img = board.image.Image(320, 240, board.image.JPEG, { buffer: plain });
    img.save(dst);
    board.print(`INFO, [IMG] Decrypted and saved image file:${dst}`);
    return true;
  } catch (e) {
    board.print(`ERROR, [IMG] Failed to decrypt and save image: ${scriptErrorText(e)}`);
    return false;
  }
}

/** Runs a script body; an uncaught Python exception ends it with its traceback line, as on the board. */
function runScript<T>(board: OpenMvBoard, body: () => T, onStop: (line: string) => T): T {
  try {
    return body();
  } catch (e) {
    if (!(e instanceof PyException)) throw e;
    board.print("Traceback (most recent call last):");
    board.print(e.exc());
    return onStop(e.exc());
  }
}

function main(board: OpenMvBoard, options: MainOptions): MainResult {
  const frames: FrameResult[] = [];
  const id = deviceIdOf(board);
  const pubPath = options.pubPath ?? `${id}.pub`;
  return runScript<MainResult>(
    board,
    () => {
      board.print(`INFO, [SYS] Device id: ${id}`);
      board.sensor.reset();
      board.sensor.set_pixformat(board.sensor.RGB565);
      board.sensor.set_framesize(board.sensor.QVGA);
      for (let i = 0; i < options.frames; i++) {
        const img = capture(board);
        const ms = nameMillis(board);
        const rawPath = saveRaw(board, img, ms);
        board.os.sync();
        board.utime.sleep_ms(SYNC_SLEEP_MS);
        const back = readBack(board, rawPath);
        const encPath = encPathFor(id, ms);
        let encrypted = false;
        if (back) {
          try {
            writeEnc(board, back.bytearray(), encPath, pubPath);
            board.print(`INFO, [IMG] Saved encrypted image file:${encPath}`);
            encrypted = true;
          } catch (e) {
            board.print(`ERROR, [IMG] Failed to encrypt and save image: ${scriptErrorText(e)}`);
          }
        }
        frames.push({ ms, rawPath, encPath, readBackOk: back !== null, encrypted });
        board.gc.collect();
        board.utime.sleep_ms(options.intervalMs ?? 1000);
      }
      return { frames };
    },
    (line) => ({ frames, stoppedBy: line }),
  );
}

/** test1.py's output name: `<x>_raw.jpg` → `<x>.enc`, else the extension replaced by `.enc`. */
export function defaultEncPath(src: string): string {
  if (src.endsWith("_raw.jpg")) return src.slice(0, -"_raw.jpg".length) + ".enc";
  return src.replace(/\.[^./]*$/, "") + ".enc";
}

function test1(board: OpenMvBoard, options: Test1Options = {}): boolean {
  const src = options.src ?? TEST1_DEFAULT_SRC;
  const dst = options.dst ?? defaultEncPath(src);
  return runScript(
    board,
    () => {
      const ok = encryptFile(board, src, dst, options.pubPath ?? DEFAULT_PUB_PATH);
      board.utime.sleep_ms(SYNC_SLEEP_MS);
      return ok;
    },
    () => false,
  );
}

function test2(board: OpenMvBoard, options: Test2Options): boolean {
  const src = options.src ?? TEST2_DEFAULT_SRC;
  const dst = options.dst ?? src.replace(/\.enc$/, "") + ".jpg";
  return runScript(
    board,
    () => decryptFile(board, src, dst, options.privKey),
    () => false,
  );
}

/** The reporter's pipeline, as it runs on the board. */
export const asReportedPipeline: Pipeline = {
  name: "as-reported",
  capture,
  saveRaw,
  readBack,
  encryptFile,
  decryptFile,
  main,
  test1,
  test2,
};
