/**
 * The simulator as a scenario target: an OpenMV RT1062 (src/openmv) on an SD card model (src/card)
 * behind the scenario's fault plan (src/faults), with a write log (src/trace). Registers itself as
 * target `sim` when imported (sim/targets.ts).
 *
 * Device stack, bottom up: SdCard ← FaultyBlockDevice(plan) ← TracingBlockDevice ← FatFs (board).
 * Card provisioning (format, the `221.pub` key file the reporter copies to the card) happens on the
 * media before the run, so it is neither logged nor counted by write-indexed faults.
 */
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { CowBlockDevice } from "../src/block/index.ts";
import { readAll } from "../src/block/index.ts";
import { SdCard, generic32gSdhcConfig, tiny64mTestConfig, type SdCardConfig } from "../src/card/index.ts";
import { VirtualClock } from "../src/clock/index.ts";
import { classifyFile, versionsOf, type ReaderRule } from "../src/crash/oracle.ts";
import { readFileOrNull } from "../src/crash/record.ts";
import { FatRuntime } from "../src/fat/js-fatfs-engine.ts";
import { formatWith, microPythonMkfsWith } from "../src/fat/mkfs.ts";
import { fsck } from "../src/fat/fsck.ts";
import {
  FaultyBlockDevice,
  FaultPlanError,
  UsbHost,
  parseFaultPlan,
  type FaultPlan,
  type UsbHostFault,
} from "../src/faults/index.ts";
import { OpenMvBoard, uniqueIdHex, DEFAULT_DEVICE_IDS, DEFAULT_UNIQUE_ID } from "../src/openmv/board.ts";
import type { BoardImage } from "../src/openmv/board.ts";
import { faultPlanForFirmware, firmwareByVersion, type FirmwareProfile } from "../src/openmv/firmware.ts";
import { parsePrivateKeyFile } from "../src/openmv/key-files.ts";
import type { RsaPrivateKey } from "../src/openmv/rsa.ts";
import { deviceIdOf, nameMillis, pipelineByName, rawPathFor, type Pipeline } from "../src/pipeline/index.ts";
import { TracingBlockDevice } from "../src/trace/index.ts";
import { PyException, type Vfs, type VfsFile } from "../src/vfs/index.ts";
import { FileTracker } from "./file-tracker.ts";
import { readerRules } from "./readers.ts";
import { simulatedSweepRunner } from "./sweep-runner.ts";
import { registerFaultValidator, registerTarget } from "./targets.ts";
import type { FsckFinding, SimulationTarget, TargetOptions } from "./runner.ts";
import type { Scenario } from "./scenario-schema.ts";
import type { OutcomeClass, Step, StepResult, TargetCapability, TouchedFile } from "./target.ts";

/** Test-only keys shipped with the repo (test/fixtures/keys/README.md). */
const KEYS_DIR = fileURLToPath(new URL("../test/fixtures/keys/", import.meta.url));

/** Key files provisioned for every run: on the card the reporter's public key, on /flash the private ones. */
export const PROVISIONED_PUB = { path: "221.pub", file: "rsa1024/221.pub" } as const;
export const PRIVATE_KEYS: Readonly<Record<string, string>> = {
  "/flash/221.priv": "rsa1024/221.priv",
  "/flash/other.priv": "rsa1024-other/221.priv",
};
export const DEFAULT_PRIVATE_KEY = "/flash/221.priv";

/** The private key matching the provisioned `221.pub` (the readers' decryption key). */
export function defaultPrivateKey(): RsaPrivateKey {
  return parsePrivateKeyFile(readKey(PRIVATE_KEYS[DEFAULT_PRIVATE_KEY]), DEFAULT_PRIVATE_KEY);
}

/** Card presets by scenario name. */
export const CARD_PRESETS: Readonly<Record<string, SdCardConfig>> = {
  "test-64m": tiny64mTestConfig,
  "sdhc-32g": generic32gSdhcConfig,
};

let sharedRuntime: Promise<FatRuntime> | undefined;
/** One FatFs WASM instance per process, shared by every target (each board frees its drives at halt). */
export function fatRuntime(): Promise<FatRuntime> {
  sharedRuntime ??= FatRuntime.load(new VirtualClock());
  return sharedRuntime;
}

function readKey(rel: string): string {
  return readFileSync(KEYS_DIR + rel, "utf8");
}

/** The card geometry a scenario asks for. */
export function cardConfigOf(scenario: Scenario): SdCardConfig {
  const preset = CARD_PRESETS[scenario.card.preset];
  if (scenario.card.sizeMiB === undefined) return preset;
  return { ...preset, capacitySectors: (scenario.card.sizeMiB * 1024 * 1024) / preset.sectorBytes };
}

/**
 * Formats and provisions a fresh card as the reporter prepared theirs: FAT as the scenario says, then
 * `221.pub` in the root directory. Works on the media directly (no timing, no faults, no log).
 */
export function provisionCard(media: CowBlockDevice, scenario: Scenario, runtime: FatRuntime): void {
  if (scenario.card.format === "none") return;
  if (scenario.card.format === "mkfs-fat32") formatWith(runtime, media, { fatType: 32, fats: 2 });
  else microPythonMkfsWith(runtime, media);
  const engine = runtime.mount(media);
  try {
    const f = engine.open(`/${PROVISIONED_PUB.path}`, {
      read: false,
      write: true,
      disposition: "create-always",
    });
    f.write(new TextEncoder().encode(readKey(PROVISIONED_PUB.file)));
    f.close();
  } finally {
    engine.unmount();
  }
}

/** Scenario faults → a validated FaultPlan (the scenario's seed drives every cut effect). */
export function faultPlanOf(scenario: Scenario, seed: number, firmware: FirmwareProfile): FaultPlan {
  return faultPlanForFirmware(
    parseFaultPlan({ version: 1, seed, faults: scenario.faults }, scenario.file),
    firmware,
  );
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function errorOf(e: unknown): { type: string; message: string } {
  if (e instanceof PyException) return { type: e.pyType, message: e.str() };
  if (e instanceof Error) return { type: e.name, message: e.message };
  return { type: "Error", message: String(e) };
}

/** What a crash-sweep recording lends the target: its mounted VFS, runtime, clock and log marks. */
export interface RecordingHost {
  readonly vfs: Vfs;
  readonly runtime: FatRuntime;
  readonly clock: VirtualClock;
  mark(name: string): void;
}

/** A step failed because the scenario asked for something impossible (not a device error). */
class StepUsageError extends Error {
  override name = "ScenarioStepError";
}

export class SimulatedTarget implements SimulationTarget {
  readonly name = "sim";
  readonly capabilities: ReadonlySet<TargetCapability> = new Set<TargetCapability>([
    "power-cut",
    "fault-injection",
    "crash-sweep",
    "card-image",
    "usb-host",
  ]);
  readonly clock = new VirtualClock();
  readonly card: SdCard;
  readonly faulty: FaultyBlockDevice;
  readonly tracing: TracingBlockDevice;
  readonly firmware: FirmwareProfile;
  readonly pipeline: Pipeline;
  readonly tracker = new FileTracker("/sdcard");
  private board: OpenMvBoard | null = null;
  /** The PC on the card's USB side: from the plan's `usb-host` fault, or made on the first usb_host step. */
  private usbHost: UsbHost | undefined;
  private readonly images = new Map<string, BoardImage>();
  private readonly handles = new Map<string, { file: VfsFile; path: string }>();
  private readonly log: string[] = [];
  private lastRaw: string | undefined;
  private lastEnc: string | undefined;
  private readonly rules: ReaderRule[];

  private constructor(
    readonly scenario: Scenario,
    readonly seed: number,
    private readonly runtime: FatRuntime,
    /** Set when the steps run inside a crash-sweep recording (sim/sweep-runner.ts). */
    private readonly recording?: RecordingHost,
  ) {
    this.firmware = firmwareByVersion(scenario.device.firmware);
    this.pipeline = pipelineByName(scenario.pipeline);
    this.card = new SdCard(cardConfigOf(scenario), this.clock);
    provisionCard(this.card.media, scenario, runtime);
    this.faulty = new FaultyBlockDevice(this.card, faultPlanOf(scenario, seed, this.firmware), {
      clock: this.clock,
    });
    this.tracing = new TracingBlockDevice(this.faulty, this.clock, undefined, { logReads: false });
    this.rules = readerRules(scenario.pipeline, defaultPrivateKey());
  }

  static async create(scenario: Scenario, options: TargetOptions): Promise<SimulatedTarget> {
    const target = new SimulatedTarget(scenario, options.seed, await fatRuntime());
    target.usbHost = await UsbHost.fromPlan(target.faulty.plan, target.usbHostOptions());
    return target;
  }

  /**
   * The PC reaches the card through the firmware's USB mass-storage path, beside the camera's SD
   * driver: it sees the media (and its power state), not the camera's fault wrapper, so its writes
   * do not count in the camera's write index.
   */
  private usbHostOptions() {
    return { device: this.card, clock: this.clock, marks: this.tracing.log };
  }

  /** An idle PC for usb_host steps in a scenario without a scheduled usb-host fault. */
  private async adHocUsbHost(): Promise<UsbHost> {
    if (this.usbHost) return this.usbHost;
    const plan = parseFaultPlan({
      version: 1,
      seed: this.seed,
      faults: [{ kind: "usb-host", mountAt: { atMicros: this.clock.nowMicros }, ops: [] }],
    });
    this.usbHost = await UsbHost.create({
      ...this.usbHostOptions(),
      schedule: plan.faults[0] as UsbHostFault,
      seed: this.seed,
    });
    if (this.board && !this.board.isHalted) this.usbHost.attach(this.board);
    return this.usbHost;
  }

  /**
   * A target whose board runs on a crash-sweep recording's VFS (the card already mounted and
   * instrumented by src/crash): no fault plan, no power control; marks go to the recording's log.
   */
  static forRecording(scenario: Scenario, seed: number, host: RecordingHost): SimulatedTarget {
    return new SimulatedTarget(scenario, seed, host.runtime, host);
  }

  private uniqueId(): Uint8Array {
    const hex = this.scenario.device.uniqueId;
    return hex ? Uint8Array.from(Buffer.from(hex, "hex")) : DEFAULT_UNIQUE_ID;
  }

  private deviceIds(): ReadonlyMap<string, number> {
    const id = this.scenario.device.deviceId;
    if (id === undefined) return DEFAULT_DEVICE_IDS;
    return new Map([...DEFAULT_DEVICE_IDS, [uniqueIdHex(this.uniqueId()), id]]);
  }

  private async boot(): Promise<OpenMvBoard> {
    if (this.board && !this.board.isHalted) throw new StepUsageError("boot: the board is already running");
    if (this.recording) {
      const board = OpenMvBoard.attach({
        vfs: this.recording.vfs,
        runtime: this.recording.runtime,
        clock: this.recording.clock,
        firmware: this.firmware,
        uniqueId: this.uniqueId(),
        deviceIds: this.deviceIds(),
        seed: this.seed,
      });
      this.provisionFlash(board);
      this.board = board;
      return board;
    }
    const board = await OpenMvBoard.boot({
      clock: this.clock,
      card: this.tracing,
      firmware: this.firmware,
      uniqueId: this.uniqueId(),
      deviceIds: this.deviceIds(),
      seed: this.seed,
      runtime: this.runtime,
    });
    // enc_priv.py lives on /flash (seed 000: "Private key repository"); /flash is RAM here, so every
    // boot puts the test-only private keys back.
    for (const [path, rel] of Object.entries(PRIVATE_KEYS))
      board.open(path, "w").with((f) => f.write(readKey(rel)));
    this.tracker.instrument(board.vfs);
    this.usbHost?.attach(board);
    this.board = board;
    this.handles.clear();
    return board;
  }

  /** enc_priv.py lives on /flash (seed 000: "Private key repository"); /flash is RAM here, so every
   * boot puts the test-only private keys back. */
  private provisionFlash(board: OpenMvBoard): void {
    for (const [path, rel] of Object.entries(PRIVATE_KEYS))
      board.open(path, "w").with((f) => f.write(readKey(rel)));
  }

  private running(): OpenMvBoard {
    if (!this.board || this.board.isHalted)
      throw new StepUsageError("the board is not running (add a boot step)");
    return this.board;
  }

  private image(name: string | undefined): BoardImage {
    const img = this.images.get(name ?? "img");
    if (!img) throw new StepUsageError(`no captured image named '${name ?? "img"}' (add a capture step)`);
    return img;
  }

  private handle(name: string): { file: VfsFile; path: string } {
    const h = this.handles.get(name);
    if (!h) throw new StepUsageError(`no open file handle named '${name}'`);
    return h;
  }

  private privateKey(board: OpenMvBoard, path: string | undefined): RsaPrivateKey {
    const p = path ?? DEFAULT_PRIVATE_KEY;
    const text = board.open(p, "r").with((f) => f.read());
    return parsePrivateKeyFile(text, p);
  }

  /** Lines the device printed since the first boot (all boards of the run). */
  private syncLog(): void {
    if (this.board) {
      const fresh = this.board.log.splice(0);
      this.log.push(...fresh);
    }
  }

  private abs(path: string): string {
    if (path.startsWith("/")) return path;
    const cwd = this.board && !this.board.isHalted ? this.board.vfs.getcwd() : "/sdcard";
    return `${cwd === "/" ? "" : cwd}/${path}`;
  }

  async runStep(step: Step, index: number): Promise<StepResult> {
    const touched: string[] = [];
    let value: unknown;
    let error: StepResult["error"];
    try {
      value = await this.execute(step, touched);
      this.usbHost?.poll();
    } catch (e) {
      error = errorOf(e);
    }
    this.syncLog();
    const files = touched.map((p) => this.describeFile(p));
    return {
      index,
      op: step.op,
      status: error ? "error" : "ok",
      ...(error && { error }),
      files,
      timeMicros: this.clock.nowMicros,
      ...(value !== undefined && { value }),
    };
  }

  private describeFile(path: string): TouchedFile {
    const board = this.board;
    if (!board || board.isHalted) return { path, size: null, sha256: null };
    try {
      const bytes = readFileOrNull(board.vfs, path);
      return { path, size: bytes?.length ?? null, sha256: bytes ? sha256(bytes) : null };
    } catch {
      return { path, size: null, sha256: null };
    }
  }

  private async execute(step: Step, touched: string[]): Promise<unknown> {
    const a = step.args;
    const str = (k: string): string | undefined => a[k] as string | undefined;
    const num = (k: string): number | undefined => a[k] as number | undefined;
    switch (step.op) {
      case "boot":
        await this.boot();
        return undefined;
      case "capture": {
        const board = this.running();
        let img: BoardImage;
        if (str("pixformat") || str("framesize")) {
          board.sensor.reset();
          board.sensor.set_pixformat((str("pixformat") ?? "RGB565") as never);
          board.sensor.set_framesize((str("framesize") ?? "QVGA") as never);
          img = board.sensor.snapshot();
        } else img = this.pipeline.capture(board);
        this.images.set(str("as") ?? "img", img);
        return { width: img.width, height: img.height, format: img.format };
      }
      case "save": {
        const board = this.running();
        const img = this.image(str("image"));
        const path = str("path");
        let saved: string;
        // Known before the save, so a save that fails half-way is still classified.
        touched.push(this.abs(path ?? rawPathFor(deviceIdOf(board), nameMillis(board))));
        if (path === undefined) saved = this.pipeline.saveRaw(board, img);
        else saved = img.save(path, { ...(num("quality") !== undefined && { quality: num("quality")! }) });
        this.lastRaw = this.abs(saved);
        return { path: this.lastRaw };
      }
      case "read_back": {
        const board = this.running();
        const path = str("path") ?? this.lastRaw;
        if (!path) throw new StepUsageError("read_back: no path and nothing saved yet");
        const img = this.pipeline.readBack(board, path);
        if (!img) throw new StepUsageError(`read_back failed (see the device log)`);
        return { width: img.width, height: img.height, size: img.bytearray().length };
      }
      case "encrypt": {
        const board = this.running();
        const src = str("src") ?? this.lastRaw;
        if (!src) throw new StepUsageError("encrypt: no src and nothing saved yet");
        const dst = str("dst") ?? src.replace(/_raw\.jpg$/i, ".enc");
        touched.push(this.abs(dst));
        this.lastEnc = this.abs(dst);
        if (!this.pipeline.encryptFile(board, src, dst, str("pub")))
          throw new StepUsageError("encrypt failed (see the device log)");
        return { path: this.lastEnc };
      }
      case "decrypt": {
        const board = this.running();
        const src = str("src") ?? this.lastEnc;
        if (!src) throw new StepUsageError("decrypt: no src and nothing encrypted yet");
        const dst = str("dst") ?? src.replace(/\.enc$/i, ".jpg");
        touched.push(this.abs(dst));
        if (!this.pipeline.decryptFile(board, src, dst, this.privateKey(board, str("key"))))
          throw new StepUsageError("decrypt failed (see the device log)");
        return { path: this.abs(dst) };
      }
      case "run_script": {
        const board = this.running();
        const script = str("script");
        if (script === "main") {
          const r = this.pipeline.main(board, {
            frames: num("frames") ?? 1,
            ...(num("intervalMs") !== undefined && { intervalMs: num("intervalMs")! }),
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
          const ok = this.pipeline.test1(board, { ...(src && { src }), ...(dst && { dst }) });
          if (!ok) throw new StepUsageError("test1.py failed (see the device log)");
          return undefined;
        }
        const src = this.lastEnc;
        const dst = src?.replace(/\.enc$/i, ".jpg");
        if (dst) touched.push(dst);
        const ok = this.pipeline.test2(board, {
          privKey: this.privateKey(board, undefined),
          ...(src && { src }),
          ...(dst && { dst }),
        });
        if (!ok) throw new StepUsageError("test2.py failed (see the device log)");
        return undefined;
      }
      case "open": {
        const board = this.running();
        const path = this.abs(str("path")!);
        const file = board.vfs.open(path, str("mode"));
        this.handles.set(str("as")!, { file, path });
        return undefined;
      }
      case "write": {
        const { file, path } = this.handle(str("handle")!);
        touched.push(path);
        let data: Uint8Array | string;
        if (str("data") !== undefined) data = str("data")!;
        else if (str("hex") !== undefined) data = Uint8Array.from(Buffer.from(str("hex")!, "hex"));
        else data = this.running().urandom(num("bytes")!);
        return { written: file.write(data) };
      }
      case "flush":
      case "close": {
        const name = str("handle")!;
        const { file, path } = this.handle(name);
        touched.push(path);
        if (step.op === "flush") file.flush();
        else {
          file.close();
          this.handles.delete(name);
        }
        return undefined;
      }
      case "read": {
        let bytes: Uint8Array | string;
        if (str("handle") !== undefined) bytes = this.handle(str("handle")!).file.read(num("size"));
        else {
          const board = this.running();
          bytes = board.open(str("path")!, "rb").with((f) => f.read(num("size")));
        }
        const b = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
        return { size: b.length, sha256: sha256(b) };
      }
      case "remove":
        touched.push(this.abs(str("path")!));
        this.running().os.remove(str("path")!);
        return undefined;
      case "rename":
        touched.push(this.abs(str("from")!), this.abs(str("to")!));
        this.running().os.rename(str("from")!, str("to")!);
        return undefined;
      case "mkdir":
        this.running().os.mkdir(str("path")!);
        return undefined;
      case "listdir":
        return this.running().os.listdir(str("path") ?? this.running().os.getcwd());
      case "os_sync":
        this.running().os.sync();
        return undefined;
      case "sleep":
        this.running().utime.sleep_ms(num("ms")!);
        return undefined;
      case "mark":
        if (this.recording) {
          this.recording.mark(str("name")!);
          return undefined;
        }
        this.faulty.mark(str("name")!);
        this.tracing.mark(str("name")!);
        this.usbHost?.mark(str("name")!);
        return undefined;
      case "cut_power":
        this.faulty.cutNow();
        this.board?.halt();
        this.handles.clear();
        return undefined;
      case "reboot":
        this.board?.halt();
        this.faulty.reboot();
        await this.boot();
        return undefined;
      case "usb_host": {
        const host = await this.adHocUsbHost();
        const op = str("op") as "list" | "copy_out" | "delete" | "write";
        const event = host.perform({
          op,
          ...(str("path") !== undefined && { path: str("path")! }),
          ...(num("bytes") !== undefined && { bytes: num("bytes")! }),
        });
        if (!event.result.ok) throw new StepUsageError(`usb_host ${op}: ${event.result.error ?? "failed"}`);
        const { ok: _ok, ...rest } = event.result;
        return rest;
      }
      case "fsck": {
        this.syncLog();
        return (await this.fsck()).map((f) => f.kind);
      }
      default:
        throw new StepUsageError(`step '${step.op}' is not implemented by the simulated target`);
    }
  }

  async deviceLog(): Promise<string[]> {
    this.syncLog();
    return [...this.log];
  }

  /**
   * A board to read the card with at the end: the running one, or (after a cut with no reboot) a fresh
   * boot on what survived, as the user would do before looking at the files.
   */
  private async readingBoard(): Promise<OpenMvBoard | null> {
    if (this.board && !this.board.isHalted) return this.board;
    if (!this.faulty.powered) this.faulty.reboot();
    try {
      return await this.boot();
    } catch {
      return null;
    }
  }

  async classify(paths: readonly string[]): Promise<Record<string, OutcomeClass | "absent">> {
    const board = await this.readingBoard();
    this.syncLog();
    const out: Record<string, OutcomeClass | "absent"> = {};
    for (const path of paths) {
      const history = this.tracker.history(path);
      const read = (): Uint8Array | null => (board ? readFileOrNull(board.vfs, path) : null);
      if (!history) {
        let exists: boolean;
        try {
          exists = read() !== null;
        } catch {
          exists = true;
        }
        out[path] = exists ? "intact" : "absent";
        continue;
      }
      const versions = versionsOf(history);
      const at = { expectedVersion: versions.length - 1, closedBeforeCut: true };
      if (!board) {
        out[path] = "detected";
        continue;
      }
      const outcome = await classifyFile(history, versions, at, board.vfs, read, this.rules);
      out[path] =
        outcome.class === "intact" && versions[at.expectedVersion].content == null ? "absent" : outcome.class;
    }
    return out;
  }

  async fsck(): Promise<FsckFinding[]> {
    const result = fsck(this.card.untimed());
    return result.findings.map((f) => ({
      kind: f.kind,
      message: f.message,
      ...(f.path !== undefined && { path: f.path }),
    }));
  }

  async cardImage(): Promise<Uint8Array> {
    return readAll(this.card.untimed());
  }

  async close(): Promise<void> {
    this.board?.halt();
    this.board = null;
  }
}

/** Validates `faults:` entries at scenario load time with src/faults' own schema. */
export function validateFaults(
  faults: readonly { kind: string }[],
): { path: (string | number)[]; message: string }[] {
  try {
    parseFaultPlan({ version: 1, seed: 0, faults });
    return [];
  } catch (e) {
    if (!(e instanceof FaultPlanError)) throw e;
    return e.issues.map((i) => ({
      path: i.path
        .replace(/^faults/, "")
        .split(/[.[\]]/)
        .filter(Boolean)
        .map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
      message: i.message,
    }));
  }
}

registerTarget("sim", {
  create: (scenario, options) => SimulatedTarget.create(scenario, options),
  sweep: simulatedSweepRunner,
});
registerFaultValidator(validateFaults);
