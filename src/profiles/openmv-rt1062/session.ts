/**
 * The OpenMV RT1062 as a device session: boots an {@link OpenMvBoard} (src/openmv) on the shared
 * storage stack's card and runs the camera's own steps through the scenario's pipeline
 * (src/pipeline). The test-only private keys are put on `/flash` at every boot (seed 000: the private
 * key repository `enc_priv.py` lives on the board's flash; `/flash` is RAM here).
 */
import { OpenMvBoard, uniqueIdHex, DEFAULT_DEVICE_IDS, DEFAULT_UNIQUE_ID } from "../../openmv/board.ts";
import type { BoardImage } from "../../openmv/board.ts";
import type { FirmwareProfile } from "../../openmv/firmware.ts";
import { parsePrivateKeyFile } from "../../openmv/key-files.ts";
import type { RsaPrivateKey } from "../../openmv/rsa.ts";
import { deviceIdOf, nameMillis, rawPathFor, type Pipeline } from "../../pipeline/index.ts";
import type { StorageStack } from "../../stack/storage-stack.ts";
import type { SleepHookSource } from "../../hosts/index.ts";
import type { Vfs } from "../../vfs/vfs.ts";
import type { DeviceSession, Step } from "../profile.ts";
import { StepUsageError } from "../step-usage-error.ts";
import { DEFAULT_PRIVATE_KEY, PRIVATE_KEYS, readKeyFile } from "./keys.ts";

export {
  DEFAULT_PRIVATE_KEY,
  PRIVATE_KEYS,
  PROVISIONED_PUB,
  defaultPrivateKey,
  readKeyFile,
} from "./keys.ts";

/** What the session needs from the scenario. */
export interface OpenMvSessionConfig {
  readonly firmware: FirmwareProfile;
  readonly pipeline: Pipeline;
  readonly uniqueId?: string;
  readonly deviceId?: number;
  readonly seed: number;
  readonly scenarioDir: string;
}

export class OpenMvSession implements DeviceSession {
  private board: OpenMvBoard | null = null;
  private readonly images = new Map<string, BoardImage>();
  private lastRaw: string | undefined;
  private lastEnc: string | undefined;
  /** Sleep hooks registered before a boot are carried over to every board. */
  private readonly hooks: ((ctx: { startMicros: number; endMicros: number }) => void)[] = [];
  readonly sleepHooks: SleepHookSource = {
    onSleep: (hook) => {
      this.hooks.push(hook);
      const off = this.board?.onSleep(hook);
      return () => {
        off?.();
        const i = this.hooks.indexOf(hook);
        if (i >= 0) this.hooks.splice(i, 1);
      };
    },
  };

  constructor(
    private readonly stack: StorageStack,
    private readonly config: OpenMvSessionConfig,
  ) {}

  get running(): boolean {
    return this.board !== null && !this.board.isHalted;
  }

  private get runningBoard(): OpenMvBoard {
    if (!this.board || this.board.isHalted)
      throw new StepUsageError("the board is not running (add a boot step)");
    return this.board;
  }

  get os(): Vfs {
    return this.runningBoard.vfs;
  }

  private uniqueId(): Uint8Array {
    const hex = this.config.uniqueId;
    return hex ? Uint8Array.from(Buffer.from(hex, "hex")) : DEFAULT_UNIQUE_ID;
  }

  private deviceIds(): ReadonlyMap<string, number> {
    const id = this.config.deviceId;
    if (id === undefined) return DEFAULT_DEVICE_IDS;
    return new Map([...DEFAULT_DEVICE_IDS, [uniqueIdHex(this.uniqueId()), id]]);
  }

  async boot(): Promise<void> {
    if (this.running) throw new StepUsageError("boot: the board is already running");
    const board = await OpenMvBoard.boot({
      clock: this.stack.clock,
      card: this.stack.card,
      firmware: this.config.firmware,
      uniqueId: this.uniqueId(),
      deviceIds: this.deviceIds(),
      seed: this.config.seed,
      runtime: this.stack.fat,
    });
    for (const [path, rel] of Object.entries(PRIVATE_KEYS))
      board.open(path, "w").with((f) => f.write(readKeyFile(this.config.scenarioDir, rel)));
    for (const hook of this.hooks) board.onSleep(hook);
    this.board = board;
  }

  halt(): void {
    this.board?.halt();
  }

  urandom(n: number): Uint8Array {
    return this.runningBoard.urandom(n);
  }

  sleepMs(ms: number): void {
    this.runningBoard.utime.sleep_ms(ms);
  }

  takeLog(): string[] {
    return this.board ? this.board.log.splice(0) : [];
  }

  private abs(path: string): string {
    if (path.startsWith("/")) return path;
    const cwd = this.running ? this.runningBoard.vfs.getcwd() : "/sdcard";
    return `${cwd === "/" ? "" : cwd}/${path}`;
  }

  private image(name: string | undefined): BoardImage {
    const img = this.images.get(name ?? "img");
    if (!img) throw new StepUsageError(`no captured image named '${name ?? "img"}' (add a capture step)`);
    return img;
  }

  private privateKey(board: OpenMvBoard, path: string | undefined): RsaPrivateKey {
    const p = path ?? DEFAULT_PRIVATE_KEY;
    const text = board.open(p, "r").with((f) => f.read());
    return parsePrivateKeyFile(text, p);
  }

  async runStep(step: Step, touched: string[]): Promise<unknown> {
    const a = step.args;
    const str = (k: string): string | undefined => a[k] as string | undefined;
    const num = (k: string): number | undefined => a[k] as number | undefined;
    const pipeline = this.config.pipeline;
    const board = this.runningBoard;
    switch (step.op) {
      case "capture": {
        let img: BoardImage;
        if (str("pixformat") || str("framesize")) {
          board.sensor.reset();
          board.sensor.set_pixformat((str("pixformat") ?? "RGB565") as never);
          board.sensor.set_framesize((str("framesize") ?? "QVGA") as never);
          img = board.sensor.snapshot();
        } else img = pipeline.capture(board);
        this.images.set(str("as") ?? "img", img);
        return { width: img.width, height: img.height, format: img.format };
      }
      case "save": {
        const img = this.image(str("image"));
        const path = str("path");
        // Known before the save, so a save that fails half-way is still classified.
        touched.push(this.abs(path ?? rawPathFor(deviceIdOf(board), nameMillis(board))));
        const saved =
          path === undefined
            ? pipeline.saveRaw(board, img)
            : img.save(path, { ...(num("quality") !== undefined && { quality: num("quality")! }) });
        this.lastRaw = this.abs(saved);
        return { path: this.lastRaw };
      }
      case "read_back": {
        const path = str("path") ?? this.lastRaw;
        if (!path) throw new StepUsageError("read_back: no path and nothing saved yet");
        const img = pipeline.readBack(board, path);
        if (!img) throw new StepUsageError(`read_back failed (see the device log)`);
        return { width: img.width, height: img.height, size: img.bytearray().length };
      }
      case "encrypt": {
        const src = str("src") ?? this.lastRaw;
        if (!src) throw new StepUsageError("encrypt: no src and nothing saved yet");
        const dst = str("dst") ?? src.replace(/_raw\.jpg$/i, ".enc");
        touched.push(this.abs(dst));
        this.lastEnc = this.abs(dst);
        if (!pipeline.encryptFile(board, src, dst, str("pub")))
          throw new StepUsageError("encrypt failed (see the device log)");
        return { path: this.lastEnc };
      }
      case "decrypt": {
        const src = str("src") ?? this.lastEnc;
        if (!src) throw new StepUsageError("decrypt: no src and nothing encrypted yet");
        const dst = str("dst") ?? src.replace(/\.enc$/i, ".jpg");
        touched.push(this.abs(dst));
        if (!pipeline.decryptFile(board, src, dst, this.privateKey(board, str("key"))))
          throw new StepUsageError("decrypt failed (see the device log)");
        return { path: this.abs(dst) };
      }
      case "run_script":
        return this.runScript(board, str("script")!, num("frames"), num("intervalMs"), touched);
      default:
        throw new StepUsageError(`step '${step.op}' is not a step of profile openmv-rt1062`);
    }
  }

  private runScript(
    board: OpenMvBoard,
    script: string,
    frames: number | undefined,
    intervalMs: number | undefined,
    touched: string[],
  ): unknown {
    const pipeline = this.config.pipeline;
    if (script === "main") {
      const r = pipeline.main(board, {
        frames: frames ?? 1,
        ...(intervalMs !== undefined && { intervalMs }),
      });
      for (const f of r.frames) touched.push(f.rawPath, f.encPath);
      if (r.frames.length) {
        this.lastRaw = r.frames.at(-1)!.rawPath;
        this.lastEnc = r.frames.at(-1)!.encPath;
      }
      if (r.stoppedBy) throw new StepUsageError(`main.py stopped: ${r.stoppedBy}`);
      return { frames: r.frames.length };
    }
    if (script === "test1") {
      const src = this.lastRaw;
      const dst = src?.replace(/_raw\.jpg$/i, ".enc");
      if (dst) touched.push(dst);
      if (!pipeline.test1(board, { ...(src && { src }), ...(dst && { dst }) }))
        throw new StepUsageError("test1.py failed (see the device log)");
      return undefined;
    }
    const src = this.lastEnc;
    const dst = src?.replace(/\.enc$/i, ".jpg");
    if (dst) touched.push(dst);
    const ok = pipeline.test2(board, {
      privKey: this.privateKey(board, undefined),
      ...(src && { src }),
      ...(dst && { dst }),
    });
    if (!ok) throw new StepUsageError("test2.py failed (see the device log)");
    return undefined;
  }
}
