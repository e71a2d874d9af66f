/**
 * The simulator as a scenario target: the shared storage stack (src/stack) times the scenario's
 * device profile (src/profiles). It runs the common storage steps on the device's `os`/`open()` and
 * hands the profile's own steps to its session; it knows no device.
 *
 * Device stack, bottom up: SdCard ← FaultyBlockDevice(plan) ← TracingBlockDevice ← the device's FAT.
 * Card provisioning happens on the media before the run, so it is neither logged nor counted by
 * write-indexed faults. A crash sweep's recording runs the same target on a {@link RecordingStack}.
 */
import { createHash } from "node:crypto";
import { IOCTL, readAll } from "../src/block/index.ts";
import { readFileOrNull } from "../src/crash/index.ts";
import { FaultPlanError, parseFaultPlan } from "../src/faults/index.ts";
import { StepUsageError, type AnyDeviceProfile, type DeviceSession } from "../src/profiles/index.ts";
import { SimulatedStack, type StorageStack } from "../src/stack/index.ts";
import { PyException, type VfsFile } from "../src/vfs/index.ts";
import { fsckFindings } from "./oracle.ts";
import type { Scenario } from "./scenario-schema.ts";
import {
  cardConfigOf,
  faultPlanOf,
  engineOf,
  fatDriver,
  profileContext,
  profileOf,
} from "./scenario-profile.ts";
import type {
  ScenarioTarget,
  Step,
  StepResult,
  TargetCapability,
  TargetEvidence,
  TouchedFile,
} from "./target.ts";

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function errorOf(e: unknown): { type: string; message: string } {
  if (e instanceof PyException) return { type: e.pyType, message: e.str() };
  if (e instanceof Error) return { type: e.name, message: e.message };
  return { type: "Error", message: String(e) };
}

export class SimulatedTarget implements ScenarioTarget {
  readonly name = "sim";
  readonly capabilities: ReadonlySet<TargetCapability>;
  readonly profile: AnyDeviceProfile;
  readonly session: DeviceSession;
  private readonly handles = new Map<string, { file: VfsFile; path: string }>();
  private readonly log: string[] = [];
  /** The provisioned card before the run, when the run keeps it (`keepBase`). */
  private base: Uint8Array | undefined;

  constructor(
    readonly scenario: Scenario,
    readonly seed: number,
    readonly stack: StorageStack,
  ) {
    this.profile = profileOf(scenario);
    this.session = this.profile.simulate(stack, scenario.device, profileContext(scenario, seed));
    this.capabilities = new Set<TargetCapability>([...stack.capabilities, "crash-sweep", "card-image"]);
  }

  /** A target on a fresh simulated card, provisioned by the profile. */
  static async create(
    scenario: Scenario,
    options: { seed: number; trace?: boolean; keepBase?: boolean },
  ): Promise<SimulatedTarget> {
    const fat = await fatDriver(engineOf(scenario));
    const profile = profileOf(scenario);
    const ctx = profileContext(scenario, options.seed);
    const stack = await SimulatedStack.create({
      card: cardConfigOf(scenario),
      plan: faultPlanOf(scenario, options.seed),
      fat,
      mountPoint: profile.mountPoint,
      provision: (media) => profile.provision(media, scenario.card.format, scenario.device, { ...ctx, fat }),
      fullTrace: options.trace === true,
    });
    const target = new SimulatedTarget(scenario, options.seed, stack);
    // Provisioning is not logged: the card as provisioned is what the log's first op sees.
    if (options.keepBase) target.base = readAll(stack.media());
    return target;
  }

  /** Power on (after a cut, the card holds what survived) and run the device's boot. */
  private async boot(): Promise<void> {
    if (!this.stack.powered) this.stack.restorePower();
    await this.session.boot();
    this.stack.deviceBooted(this.session.os, this.session.sleepHooks);
    this.handles.clear();
  }

  private halt(): void {
    this.session.halt();
    this.handles.clear();
  }

  /**
   * The board lost power: the card is cut (if it is not already) and the device stops. One path for
   * a `cut_power` step and for a fault plan's cut firing inside a step (issue 13: the two used to
   * leave the board in different states, running on a dead card after a plan cut). The next step
   * that needs the device gets "not running" until a `boot` or `reboot`.
   */
  private powerLost(): void {
    if (this.stack.powered) this.stack.cutPower();
    if (this.session.running) this.halt();
  }

  private takeLog(): void {
    this.log.push(...this.session.takeLog());
  }

  private abs(path: string): string {
    if (path.startsWith("/")) return path;
    const cwd = this.session.running ? this.session.os.getcwd() : this.profile.mountPoint;
    return `${cwd === "/" ? "" : cwd}/${path}`;
  }

  private handle(name: string): { file: VfsFile; path: string } {
    const h = this.handles.get(name);
    if (!h) throw new StepUsageError(`no open file handle named '${name}'`);
    return h;
  }

  async runStep(step: Step, index: number): Promise<StepResult> {
    const touched: string[] = [];
    let value: unknown;
    let error: StepResult["error"];
    const poweredBefore = this.stack.powered;
    try {
      value = await this.execute(step, touched);
      this.stack.poll();
    } catch (e) {
      error = errorOf(e);
    }
    this.takeLog();
    const result: StepResult = {
      index,
      op: step.op,
      status: error ? "error" : "ok",
      ...(error && { error }),
      files: touched.map((p) => this.describeFile(p)),
      timeMicros: this.stack.clock.nowMicros,
      ...(value !== undefined && { value }),
    };
    // A fault plan's cut fired during this step: once the step has reported what it saw on the dead
    // card (as the board's agent does), the board goes down with its card, as on cut_power, unless
    // the plan cut only the card (`scope: card`, a card pulled from its slot).
    const cut = poweredBefore && !this.stack.powered;
    if (cut && this.stack.lastCutScope === "board" && this.session.running) this.powerLost();
    return result;
  }

  private describeFile(path: string): TouchedFile {
    if (!this.session.running) return { path, size: null, sha256: null };
    try {
      const bytes = readFileOrNull(this.session.os, path);
      return { path, size: bytes?.length ?? null, sha256: bytes ? sha256(bytes) : null };
    } catch {
      return { path, size: null, sha256: null };
    }
  }

  private get os() {
    if (!this.session.running) throw new StepUsageError("the board is not running (add a boot step)");
    return this.session.os;
  }

  /** The common storage steps; anything else is the profile's. */
  private async execute(step: Step, touched: string[]): Promise<unknown> {
    const a = step.args;
    const str = (k: string): string | undefined => a[k] as string | undefined;
    const num = (k: string): number | undefined => a[k] as number | undefined;
    switch (step.op) {
      case "boot":
        await this.boot();
        return undefined;
      case "open": {
        const path = this.abs(str("path")!);
        const file = this.os.open(path, str("mode"));
        this.handles.set(str("as")!, { file, path });
        return undefined;
      }
      case "write": {
        const { file, path } = this.handle(str("handle")!);
        touched.push(path);
        let data: Uint8Array | string;
        if (str("data") !== undefined) data = str("data")!;
        else if (str("hex") !== undefined) data = Uint8Array.from(Buffer.from(str("hex")!, "hex"));
        else data = this.session.urandom(num("bytes")!);
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
        else bytes = this.os.open(str("path")!, "rb").with((f) => f.read(num("size")));
        const b = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
        return { size: b.length, sha256: sha256(b) };
      }
      case "remove":
        touched.push(this.abs(str("path")!));
        this.os.remove(str("path")!);
        return undefined;
      case "rename":
        touched.push(this.abs(str("from")!), this.abs(str("to")!));
        this.os.rename(str("from")!, str("to")!);
        return undefined;
      case "mkdir":
        this.os.mkdir(str("path")!);
        return undefined;
      case "listdir":
        return this.os.listdir(str("path") ?? this.os.getcwd());
      case "os_sync":
        this.os.sync();
        return undefined;
      case "sleep":
        if (!this.session.running) throw new StepUsageError("the board is not running (add a boot step)");
        this.session.sleepMs(num("ms")!);
        return undefined;
      case "mark":
        this.stack.mark(str("name")!);
        return undefined;
      case "cut_power":
        this.powerLost();
        return undefined;
      case "reboot":
        this.halt();
        await this.boot();
        return undefined;
      case "usb_host": {
        const host = await this.stack.usbHost();
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
        this.takeLog();
        return fsckFindings(this.stack.media()).map((f) => f.kind);
      }
      default:
        if (Object.hasOwn(this.profile.steps, step.op)) return this.session.runStep(step, touched);
        throw new StepUsageError(`step '${step.op}' is not implemented by the simulated target`);
    }
  }

  async deviceLog(): Promise<string[]> {
    this.takeLog();
    return [...this.log];
  }

  async evidence(): Promise<TargetEvidence> {
    // After a cut with no reboot the user powers the card up again before looking at the files.
    if (!this.stack.powered) this.stack.restorePower();
    return { card: this.stack.media(), files: this.stack.files.files, mountPoint: this.profile.mountPoint };
  }

  async trace() {
    const card = this.stack.media();
    return {
      log: this.stack.log,
      header: {
        sectorSize: card.ioctl(IOCTL.BLOCK_SIZE, 0),
        sectors: card.ioctl(IOCTL.BLOCK_COUNT, 0),
        source: "sim" as const,
        scenario: this.scenario.name,
        seed: this.seed,
        profile: this.profile.name,
        firmware: this.scenario.device.firmware,
        engine: this.stack.fat.name,
      },
    };
  }

  async baseImage(): Promise<Uint8Array> {
    if (!this.base) throw new Error("SimulatedTarget.baseImage: the target was created without keepBase");
    return this.base;
  }

  /** The whole card image as it is now. */
  async cardImage(): Promise<Uint8Array> {
    return readAll(this.stack.media());
  }

  async close(): Promise<void> {
    this.halt();
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
    // Paths relative to the faults array: the scenario parser locates them under `faults`.
    return e.issues.map((i) => ({ path: i.path.slice(i.path[0] === "faults" ? 1 : 0), message: i.message }));
  }
}
