/**
 * Byte-level pipeline speed (no filesystem): 100 QVGA RGB565 frames through
 * sensor.snapshot() → JPEG (quality 50, 4:2:2, src/openmv/jpeg-encoder.ts) → `.enc` v1 (RSA-1024 +
 * AES-256-CBC), on one core. Frames/s from wall time and from this process's CPU time (shared machine).
 * Also reports each stage separately and the board-faithful decryption. The full-pipeline figure
 * (with VFS and FAT) comes with the pipeline port.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Prng } from "../src/clock/index.ts";
import { parsePrivateKeyFile, parsePublicKeyFile } from "../src/openmv/key-files.ts";
import { Sensor } from "../src/openmv/sensor.ts";
import { decryptEnc, encryptEnc } from "../src/pipeline/enc-format.ts";

const FRAMES = 100;

export async function run(): Promise<void> {
  const keys = join(fileURLToPath(new URL(".", import.meta.url)), "../scenarios/keys/rsa1024");
  const pub = parsePublicKeyFile(readFileSync(join(keys, "221.pub"), "utf8"), "221.pub");
  const priv = parsePrivateKeyFile(readFileSync(join(keys, "221.pem"), "utf8"), "221.pem");
  const sensor = new Sensor({ seed: 1 });
  const prng = new Prng(2);
  // warm-up
  for (let i = 0; i < 3; i++) encryptEnc(sensor.snapshot().compress(50).bytearray(), pub, prng);

  let tSnap = 0;
  let tJpeg = 0;
  let tEnc = 0;
  let bytes = 0;
  const encs: Uint8Array[] = [];
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < FRAMES; i++) {
    const a = performance.now();
    const img = sensor.snapshot();
    const b = performance.now();
    img.compress(50);
    const c = performance.now();
    const enc = encryptEnc(img.bytearray(), pub, prng);
    const d = performance.now();
    tSnap += b - a;
    tJpeg += c - b;
    tEnc += d - c;
    bytes += img.size();
    encs.push(enc);
  }
  const total = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const t1 = performance.now();
  for (const e of encs) decryptEnc(e, priv, "lax");
  const tDec = performance.now() - t1;
  const ms = (x: number) => (x / FRAMES).toFixed(2);
  console.log(`frames: ${FRAMES} QVGA, mean JPEG(q50) ${(bytes / FRAMES).toFixed(0)} bytes`);
  console.log(
    `snapshot → JPEG → .enc: ${((FRAMES * 1000) / total).toFixed(1)} frames/s wall, ` +
      `${((FRAMES * 1000) / cpuMs).toFixed(1)} frames/s per CPU-second (one core)`,
  );
  console.log(`per frame: snapshot ${ms(tSnap)} ms, JPEG ${ms(tJpeg)} ms, encrypt ${ms(tEnc)} ms`);
  console.log(`board-faithful decrypt (RSA-1024 CRT ×2 + AES): ${ms(tDec)} ms per file`);
  return Promise.resolve();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
