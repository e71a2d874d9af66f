/**
 * The Teensy 4.1 POV poi as a device session on the shared storage stack: its SDStorageManager on a
 * VFS over `stack.card` (so the common storage steps and the file histories see the same volume),
 * its POV engine, and the ESP32 link's server. The card is mounted at `/sd` in the VFS: SdFat's
 * `/poi_images/x.pov` is `/sd/poi_images/x.pov` in scenarios.
 */
import { createHash } from "node:crypto";
import { Prng } from "../../clock/index.ts";
import type { FatDriver } from "../../fat/fat-engine.ts";
import type { SleepHookSource } from "../../hosts/index.ts";
import {
  DEFAULT_SD_STORAGE_CONFIG,
  Esp32Server,
  FrameDecoder,
  MSG,
  PovEngine,
  SDError,
  SDStorageManager,
  decodeInfoBody,
  decodeListBody,
  decodeReply,
  encodeFrame,
  encodeRequestPayload,
  nackReasonName,
  saveImageFrames,
  sdErrorName,
  sdErrorString,
  type Esp32Reply,
  type Pattern,
  type PovVariant,
  type SDErrorCode,
} from "../../pov/index.ts";
import type { StorageStack } from "../../stack/storage-stack.ts";
import { Vfs } from "../../vfs/index.ts";
import type { DeviceSession, Step } from "../profile.ts";
import { StepUsageError } from "../step-usage-error.ts";
import type { TeensyDeviceConfig } from "./config.ts";
import type { PIXEL_SOURCES } from "./steps.ts";

/** Where the card's volume sits in the VFS. */
export const TEENSY_MOUNT_POINT = "/sd";

/** An SDError returned by the API, as a step error: `SDError: SD_ERROR_DISK_FULL: No space left on device`. */
export class SdStepError extends Error {
  override name = "SDError";
  constructor(readonly code: number) {
    super(`${sdErrorName(code)}: ${sdErrorString(code)}`);
  }
}

/** A generated image (deterministic; `random` from the run's seeded stream). */
export function makePixels(
  kind: (typeof PIXEL_SOURCES)[number],
  width: number,
  height: number,
  prng: Prng,
): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  if (kind === "random") return prng.fill(out);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (kind === "solid") out.set([255, 140, 0], o);
      else if (kind === "gradient")
        out.set(
          [
            Math.round((x * 255) / Math.max(1, width - 1)),
            Math.round((y * 255) / Math.max(1, height - 1)),
            96,
          ],
          o,
        );
      else {
        const ring = Math.floor(Math.hypot(x - width / 2, (y - height / 2) * 4) / 8) % 3;
        out.set(ring === 0 ? [255, 0, 64] : ring === 1 ? [0, 200, 255] : [255, 255, 255], o);
      }
    }
  return out;
}

/** The generated patterns of a `save_preset` step. */
export function makePatterns(n: number): Pattern[] {
  return Array.from({ length: n }, (_, i) => ({
    active: i % 2 === 0,
    type: i % 16,
    color1: [(i * 16) & 0xff, 255 - i * 8, 32] as const,
    color2: [0, (i * 32) & 0xff, 255] as const,
    speed: 1 + ((i * 17) % 255),
  }));
}

function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

export interface TeensySessionConfig {
  readonly device: TeensyDeviceConfig;
  readonly variant: PovVariant;
  readonly seed: number;
}

export class TeensySession implements DeviceSession {
  private vfs: Vfs | null = null;
  private sdStorage: SDStorageManager | null = null;
  private engine: PovEngine | null = null;
  private server: Esp32Server | null = null;
  private readonly prng: Prng;
  private readonly lines: string[] = [];
  private cardOut = false;
  private seq = 0;
  /** The poi has no USB mass storage: nothing runs during its sleeps. */
  readonly sleepHooks: SleepHookSource = { onSleep: () => () => undefined };

  constructor(
    private readonly stack: StorageStack,
    private readonly config: TeensySessionConfig,
  ) {
    this.prng = new Prng(config.seed);
  }

  get running(): boolean {
    return this.vfs !== null;
  }

  get os(): Vfs {
    if (!this.vfs) throw new StepUsageError("the Teensy is not running (add a boot step)");
    return this.vfs;
  }

  /** The storage manager of the running firmware. */
  get sd(): SDStorageManager {
    if (!this.sdStorage) throw new StepUsageError("the Teensy is not running (add a boot step)");
    return this.sdStorage;
  }

  get povEngine(): PovEngine {
    if (!this.engine) throw new StepUsageError("the Teensy is not running (add a boot step)");
    return this.engine;
  }

  get esp32(): Esp32Server {
    if (!this.server) throw new StepUsageError("the Teensy is not running (add a boot step)");
    return this.server;
  }

  private log = (line: string): void => {
    this.lines.push(line);
  };

  /** The FAT engine: the stack's, which the scenario's `engine:` picks as for every profile. */
  private fatDriver(): FatDriver {
    return this.stack.fat;
  }

  async boot(): Promise<void> {
    if (this.running) throw new StepUsageError("boot: the Teensy is already running");
    const d = this.config.device;
    const vfs = new Vfs();
    const fat = this.fatDriver();
    const sd = new SDStorageManager(
      {
        vfs,
        card: this.stack.card,
        fat,
        mountPoint: TEENSY_MOUNT_POINT,
        cardDetect: () => !this.cardOut && this.stack.powered,
        log: this.log,
      },
      {
        ...DEFAULT_SD_STORAGE_CONFIG,
        imageDir: d.imageDir,
        maxFiles: d.maxFiles,
        cacheSize: d.cacheSize,
        variant: this.config.variant,
      },
    );
    this.engine = new PovEngine(d.displayBufferBytes);
    this.server = new Esp32Server(sd, this.engine, this.log, d.displayBufferBytes);
    this.lines.push(`POV poi firmware ${d.firmware} (${this.config.variant} storage)`);
    if (!sd.begin()) this.lines.push("SD card initialization failed!");
    this.vfs = vfs;
    this.sdStorage = sd;
  }

  halt(): void {
    const vfs = this.vfs;
    if (!vfs) return;
    for (const point of vfs.mountPoints()) vfs.volumeAt(point)?.engine.unmount();
    this.vfs = null;
    this.sdStorage = null;
    this.engine = null;
    this.server = null;
  }

  urandom(n: number): Uint8Array {
    return this.prng.fill(new Uint8Array(n));
  }

  sleepMs(ms: number): void {
    this.stack.clock.advance(ms * 1000);
  }

  takeLog(): string[] {
    return this.lines.splice(0);
  }

  private imagePath(name: string): string {
    const base = name.toLowerCase().endsWith(".pov") ? name : `${name}.pov`;
    return `${TEENSY_MOUNT_POINT}${this.config.device.imageDir}/${base}`;
  }

  private check(code: SDErrorCode): void {
    if (code !== SDError.SD_OK) throw new SdStepError(code);
  }

  async runStep(step: Step, touched: string[]): Promise<unknown> {
    const a = step.args;
    const str = (k: string) => a[k] as string;
    const num = (k: string) => a[k] as number;
    const sd = this.sd;
    switch (step.op) {
      case "begin":
        if (!sd.begin()) throw new SdStepError(sd.getLastError());
        return undefined;
      case "save_image": {
        touched.push(this.imagePath(str("name")));
        const w = num("width");
        const h = num("height");
        const px = makePixels(a.pixels as (typeof PIXEL_SOURCES)[number], w, h, this.prng);
        this.check(sd.saveImage(str("name"), px, w, h));
        return { sha256: sha256(px) };
      }
      case "load_image": {
        const engine = this.povEngine;
        const cached = sd.isCached(str("name"));
        this.check(engine.loadImageFromSD(str("name"), sd));
        engine.setEnabled(true);
        return { width: engine.width, height: engine.height, cached, sha256: sha256(engine.pixels()) };
      }
      case "delete_image":
        touched.push(this.imagePath(str("name")));
        this.check(sd.deleteImage(str("name")));
        return undefined;
      case "image_exists": {
        const exists = sd.imageExists(str("name"));
        this.check(sd.getLastError());
        return exists;
      }
      case "list_images": {
        const names = sd.listImages(num("max"));
        this.check(sd.getLastError());
        return names;
      }
      case "image_info": {
        const r = sd.getImageInfo(str("name"));
        this.check(r.error);
        return { width: r.width, height: r.height, fileSize: r.fileSize };
      }
      case "card_info":
        return { present: sd.isCardPresent(), total: sd.getTotalSpace(), free: sd.getFreeSpace() };
      case "save_preset": {
        const base = str("name").replace(/\.pat$/i, "");
        touched.push(`${TEENSY_MOUNT_POINT}/poi_patterns/${base}.pat`);
        this.check(sd.savePatternPreset(str("name"), makePatterns(num("patterns"))));
        return undefined;
      }
      case "load_preset": {
        const r = sd.loadPatternPreset(str("name"));
        this.check(r.error);
        return { patterns: r.patterns.length, active: r.patterns.filter((p) => p.active).length };
      }
      case "pull_card":
        if (this.cardOut) throw new StepUsageError("pull_card: the card is already out");
        this.cardOut = true;
        if (this.stack.powered) this.stack.cutPower();
        this.lines.push("SD: card removed");
        return { present: sd.isCardPresent() };
      case "insert_card": {
        this.cardOut = false;
        if (!this.stack.powered) this.stack.restorePower();
        this.lines.push("SD: card inserted");
        if (!sd.begin()) throw new SdStepError(sd.getLastError());
        return { present: sd.isCardPresent() };
      }
      case "esp32":
        return this.esp32Message(a, touched);
      case "esp32_raw": {
        const server = this.esp32;
        const bytes = Uint8Array.from(Buffer.from(str("hex"), "hex"));
        const reply = [server.receive(bytes), ...(a.idle === true ? [server.idle()] : [])];
        return describeReplies(concat(reply));
      }
      default:
        throw new StepUsageError(`step '${step.op}' is not a step of profile teensy41-pov`);
    }
  }

  private esp32Message(a: Record<string, unknown>, touched: string[]): unknown {
    const server = this.esp32;
    const message = a.message as string;
    const name = a.name as string | undefined;
    const needName = () => {
      if (name === undefined) throw new StepUsageError(`esp32 ${message}: needs a name`);
      return name;
    };
    let frames: Uint8Array[];
    const seq = () => this.seq++ & 0xff;
    switch (message) {
      case "save_image": {
        const n = needName();
        touched.push(this.imagePath(n));
        const w = a.width as number;
        const h = a.height as number;
        const px = makePixels(a.pixels as (typeof PIXEL_SOURCES)[number], w, h, this.prng);
        frames = saveImageFrames(
          { name: n, width: w, height: h, pixels: px },
          { firstSeq: this.seq, ...(a.chunkBytes !== undefined && { chunkBytes: a.chunkBytes as number }) },
        );
        this.seq += frames.length;
        if (a.stopAfterChunks !== undefined) frames = frames.slice(0, a.stopAfterChunks as number);
        break;
      }
      case "list_images":
        frames = [encodeFrame({ type: MSG.SD_LIST_IMAGES, seq: seq(), payload: new Uint8Array(0) })];
        break;
      case "get_info":
        frames = [encodeFrame({ type: MSG.SD_GET_INFO, seq: seq(), payload: new Uint8Array(0) })];
        break;
      case "delete_image":
        touched.push(this.imagePath(needName()));
        frames = [
          encodeFrame({
            type: MSG.SD_DELETE_IMAGE,
            seq: seq(),
            payload: encodeRequestPayload({ type: MSG.SD_DELETE_IMAGE, name: needName() }),
          }),
        ];
        break;
      default:
        frames = [
          encodeFrame({
            type: MSG.SD_LOAD_IMAGE,
            seq: seq(),
            payload: encodeRequestPayload({ type: MSG.SD_LOAD_IMAGE, name: needName() }),
          }),
        ];
    }
    const replies = frames.map((f) => server.receive(f));
    // The line goes quiet after the message (the ESP32 waits for the last reply).
    replies.push(server.idle());
    return describeReplies(concat(replies));
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The replies as the ESP32 decodes them: ACKs counted (with the last one's body decoded), NACKs
 * listed with their reason.
 */
export function describeReplies(bytes: Uint8Array): Record<string, unknown> {
  const replies = new FrameDecoder().push(bytes).map((e) => {
    if (e.kind !== "frame") throw new Error(`the Teensy sent a damaged reply: ${e.detail}`);
    return decodeReply(e.frame);
  });
  return describeReplyList(replies);
}

/** {@link describeReplies} of replies already decoded (the ESP32 link target reads them one by one). */
export function describeReplyList(replies: readonly Esp32Reply[]): Record<string, unknown> {
  let acks = 0;
  let last: Record<string, unknown> | undefined;
  const nacks: string[] = [];
  for (const r of replies) {
    if (r.kind === "nack") {
      nacks.push(`${nackReasonName(r.reason)}${r.sdError ? ` ${sdErrorName(r.sdError)}` : ""}: ${r.text}`);
      continue;
    }
    acks++;
    if (r.request === MSG.SD_LIST_IMAGES) last = { images: decodeListBody(r.body) };
    else if (r.request === MSG.SD_GET_INFO) last = decodeInfoBody(r.body);
    else if (r.request === MSG.SD_LOAD_IMAGE && r.body.length === 4) {
      const v = new DataView(r.body.buffer, r.body.byteOffset, 4);
      last = { width: v.getUint16(0, true), height: v.getUint16(2, true) };
    }
  }
  return { acks, ...(nacks.length && { nacks }), ...(last && { reply: last }) };
}
