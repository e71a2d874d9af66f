/**
 * The real board (or the virtual board behind a pty) as a scenario target: the serial link (src/link)
 * times the profile's on-board agent (`DeviceProfile.boardCodec`). ARCHITECTURE.md, "Real-board
 * replay".
 *
 * Capabilities, honestly: power cuts (the `cut_power` step: the agent's logging block device goes
 * dead, then `machine.reset()` or the `--power-cycle` command) and the card image (read back from the
 * window the run wrote). No fault plan below the FAT (collateral damage, bit flips, the card's
 * unsynced-write policies, stale DMA, busy waits), no USB host, no crash sweeps: a scenario that needs
 * one is refused before anything is sent to the board.
 *
 * The card: the agent works on a window of the card, sectors [0, N) for the scenario's card size. At
 * the first boot the host writes the window to the state the simulator provisions (the profile's
 * `provision` on a RAM image; the system area is zeroed where the image is zero), so both sides start
 * from the same bytes; this destroys the card's contents and needs `allowFormat`. The evidence is that
 * image overlaid with every sector the run wrote, read back raw after the run.
 */
import { spawnSync } from "node:child_process";
import { crc32 } from "node:zlib";
import { RamBlockDevice } from "../src/block/index.ts";
import { VirtualClock } from "../src/clock/index.ts";
import { FileHistoryRecorder } from "../src/crash/index.ts";
import { loadFatDriver } from "../src/fat/drivers.ts";
import {
  LinkError,
  RawRepl,
  execJson,
  openSerialStream,
  pyStringLiteral,
  uploadFile,
} from "../src/link/index.ts";
import type { AnyDeviceProfile, BoardSession, ProfileContext } from "../src/profiles/index.ts";
import type { Vfs } from "../src/vfs/index.ts";
import type { Fault, PowerCutFault, TornWriteFault } from "../src/faults/index.ts";
import { WriteLog, type BlockOp, type BlockOpKind } from "../src/trace/index.ts";
import { fsckFindings } from "./oracle.ts";
import type { RunTrace, TargetOptions } from "./runner.ts";
import { CapabilityError } from "./runner.ts";
import type { Scenario } from "./scenario-schema.ts";
import type { TargetRegistration } from "./targets.ts";
import { cardConfigOf, faultPlanOf, profileContext, profileOf } from "./scenario-profile.ts";
import { keepPoolBytes } from "./keep-pool.ts";
import type { ScenarioTarget, Step, StepResult, TargetCapability, TargetEvidence } from "./target.ts";

/** How to reach the board (the CLI's `--port`, `--baud`, `--power-cycle`, `--allow-format`). */
export interface BoardTargetOptions {
  /** Serial port, e.g. /dev/ttyACM0 (always explicit: listing ports needs udev). */
  port: string;
  /** Default 115200 (921600 and 12000000 select OpenMV's debug protocol and are refused by the link). */
  baud?: number;
  /** A shell command that switches the board's power off and on (e.g. `uhubctl -l 1-1 -p 2 -a cycle`). */
  powerCycle?: string;
  /** Allow the run to overwrite sectors [0, N) of the card (its contents are lost). */
  allowFormat?: boolean;
  /** Upload the agent (default true; false checks that the board already runs this agent). */
  upload?: boolean;
  /** The agent's source (default the profile's; tests pass a broken one). */
  agentSource?: string;
  /** Idle timeout of one step, ms (default 30 s: no byte for that long means the step never answers). */
  stepTimeoutMs?: number;
  /** How long to retry opening the port after a reset or power cycle, ms (default 20 s). */
  reconnectTimeoutMs?: number;
  /** Warnings for the user (auto-running main.py, mass storage). */
  onWarning?: (line: string) => void;
  /**
   * Size of the agent's keep pool for `--record-data`, bytes (default: the simulator's largest step
   * × 1.5 + 16 KiB, sim/keep-pool.ts). Tests pass a small one to see the "pool full" refusal.
   */
  keepPoolBytes?: number;
  /** Kept bytes per fetched line, bytes (default 8 KiB: 16 KiB of hex per line). */
  fetchChunkBytes?: number;
  /**
   * The board draws `os.urandom` itself instead of the simulator's stream the host sends (`--device-random`):
   * files it randomises (an `.enc`'s RSA padding) then differ from the simulator's byte for byte and
   * `compare` checks what their reader recovers (sim/compare-recovered.ts).
   */
  deviceRandom?: boolean;
  /**
   * The agent saves frames from the board's own sensor instead of the simulator's (`--live-sensor`):
   * contents then differ by design and `compare` checks outcome classes only.
   */
  liveSensor?: boolean;
}

/** The board failed mid-run: the link's error, plus the steps and log lines received before it. */
export class BoardRunError extends Error {
  override name = "BoardRunError";
  constructor(
    message: string,
    readonly steps: readonly StepResult[],
    readonly log: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const AGENT_PATH_DIR = "/flash";
const STAGE_CHUNK = 12 * 1024;
const READBACK_SECTORS = 64;
const OP_KINDS: readonly BlockOpKind[] = ["read", "write", "sync", "ioctl", "erase"];

interface AgentOps {
  n: number;
  lost: number;
  /** Keep mode: bytes kept in the pool for this step's writes, and writes that did not fit. */
  kept?: number;
  klost?: number;
  kind?: string;
  lba?: string;
  cnt?: string;
  crc?: string;
  res?: string;
  tim?: string;
}

interface AgentEvent {
  e: string;
  at: [number, number];
  path?: string;
  mode?: string;
  h?: number;
  pos?: number;
  n?: number;
  hex?: string;
  src?: string;
  off?: number;
  kind?: "flush" | "close";
  cur?: string | null | false | (string | null | false)[];
  now?: string;
  dst?: string;
}

interface AgentReply {
  ok: number;
  err: [string, string] | null;
  value: unknown;
  files: [string, number | null, string | null][];
  log: string[];
  ev: AgentEvent[];
  ops: AgentOps;
  marks: [string, number, number][];
  cut: [number, number | null, number] | null;
  writes: number;
  seq: number;
  rnd: number;
  cap: number;
  t: number;
}

function u32s(hex: string | undefined, n: number, signed = false): ArrayLike<number> {
  if (!hex || n === 0) return [];
  const b = Buffer.from(hex, "hex");
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Array.from({ length: n }, (_, i) => (signed ? dv.getInt32(i * 4, true) : dv.getUint32(i * 4, true)));
}

function fromHex(s: string | null | undefined): Uint8Array | null {
  return s === null || s === undefined ? null : new Uint8Array(Buffer.from(s, "hex"));
}

/** Sectors from 0 to the end of the FAT system area (boot, FATs, root directory, 2 clusters). */
export function systemAreaSectors(image: Uint8Array, sectors: number): number {
  const at = (lba: number): number | undefined => {
    const b = image.subarray(lba * 512, lba * 512 + 512);
    if (b.length < 512 || (b[0] !== 0xeb && b[0] !== 0xe9) || (b[11] | (b[12] << 8)) !== 512)
      return undefined;
    const dv = new DataView(b.buffer, b.byteOffset, 512);
    const spc = b[13];
    const reserved = dv.getUint16(14, true);
    const fats = b[16];
    const rootEntries = dv.getUint16(17, true);
    const fatSize = dv.getUint16(22, true) || dv.getUint32(36, true);
    return lba + reserved + fats * fatSize + Math.ceil((rootEntries * 32) / 512) + 2 * spc;
  };
  const direct = at(0);
  if (direct !== undefined) return Math.min(sectors, direct);
  const part = new DataView(image.buffer, image.byteOffset + 446 + 8, 4).getUint32(0, true);
  return Math.min(sectors, at(part) ?? Math.min(sectors, 8192));
}

/** The plan's power cut as the board target injects it. */
interface BoardCut {
  readonly fault: PowerCutFault;
  /** Whole sectors of the write in flight that reach the card (the plan's torn-write, fill old). */
  readonly tornSectors: number;
  /** Occurrences of the cut's mark seen so far. */
  marksSeen: number;
  /** Writes of the run when the chosen mark was reached. */
  markWrites?: number;
  /** The run-wide write index the agent was armed at. */
  armedAt?: number;
}

export class BoardTarget implements ScenarioTarget {
  readonly name = "board";
  readonly capabilities: ReadonlySet<TargetCapability>;
  private repl: RawRepl | null = null;
  private readonly session: BoardSession;
  private readonly sectors: number;
  private image!: Uint8Array;
  private running = false;
  private powered = true;
  private booted = false;
  private runMicros = 0;
  private bootMicros = 0;
  private baseSeq = 0;
  private baseWrites = 0;
  private cutSeen = false;
  private readonly written = new Set<number>();
  private readonly log: string[] = [];
  private readonly steps: StepResult[] = [];
  private readonly writeLog = new WriteLog();
  private readonly files: FileHistoryRecorder;
  private readonly handles = new Map<number, object>();
  /** Content the agent sent for the path being tracked now (the recorder's `before`). */
  private current: Uint8Array | null = null;
  private position = { writes: 0, seq: 0 };
  private tracked = new Set<string>();
  private lastPayload: Uint8Array = new Uint8Array(0);
  /** The fault plan's power cut, when it has one (armed on the agent once its write index is known). */
  private cut: BoardCut | undefined;
  /** Keep mode (`--record-data`): the agent's pool size in bytes; 0 = CRCs only. */
  private keepPool = 0;
  /** `--save-base`: the first boot zeroes the whole window and checks its CRC against {@link image}. */
  private keepBase = false;

  private constructor(
    readonly scenario: Scenario,
    readonly seed: number,
    readonly profile: AnyDeviceProfile,
    readonly options: BoardTargetOptions,
    capabilities: TargetCapability[],
  ) {
    const ctx: ProfileContext = profileContext(scenario, seed);
    this.session = profile.boardCodec!.session(scenario.device, ctx);
    this.sectors = cardConfigOf(scenario).capacitySectors;
    this.capabilities = new Set(capabilities);
    this.files = new FileHistoryRecorder(profile.mountPoint, () => this.position);
    // The recorder reads a file's `before` content through a VFS; here it is what the agent sent.
    this.files.attach({
      stat: () => {
        if (this.current === null) throw Object.assign(new Error("ENOENT"), { errno: 2, pyType: "OSError" });
        return [0x8000, 0, 0, 0, 0, 0, this.current.length];
      },
      open: () => ({ read: () => this.current, close: () => undefined }),
      observe: () => undefined,
    } as unknown as Vfs);
  }

  /** Checks what the scenario needs before the run, then opens the link and uploads the agent. */
  static async create(
    scenario: Scenario,
    runOptions: TargetOptions,
    options: BoardTargetOptions,
  ): Promise<BoardTarget> {
    const profile = profileOf(scenario);
    const refuse = (why: string): never => {
      throw new CapabilityError(`target 'board' cannot run scenario '${scenario.name}': ${why}`);
    };
    const codec = profile.boardCodec;
    if (!codec) refuse(`profile '${profile.name}' has no on-board agent`);
    if (!codec!.pipelines.includes(scenario.pipeline))
      refuse(
        `the agent implements pipeline ${codec!.pipelines.join(", ")}, not '${scenario.pipeline}' (not ported to MicroPython yet)`,
      );
    const capabilities: TargetCapability[] = ["power-cut", "card-image"];
    let cut: BoardCut | undefined;
    if (scenario.faults.length > 0) {
      const plan = faultPlanOf(scenario, runOptions.seed);
      // The agent can cut at write N (a write index or N writes after a mark) with a torn prefix of
      // whole sectors; everything else is the card's or another host's behaviour.
      const boardable = (f: Fault): boolean =>
        (f.kind === "power-cut" && f.atTimeMicros === undefined) ||
        (f.kind === "torn-write" && f.bytes === 0 && f.fill === "old");
      const other = plan.faults.filter((f) => !boardable(f));
      if (other.length > 0)
        refuse(
          `faults ${[...new Set(other.map((f) => f.kind))].join(", ")} cannot be injected on a board ` +
            "(a board cuts power at write N with a torn prefix of whole sectors; no collateral damage, bit flips, " +
            "unsynced-write policies, stale DMA, busy waits, time cuts, garbage-filled tears or USB host)",
        );
      const cuts = plan.faults.filter((f): f is PowerCutFault => f.kind === "power-cut");
      if (cuts.length > 1) refuse("a board run cuts power once: the plan has more than one power-cut");
      const torn = plan.faults.find((f): f is TornWriteFault => f.kind === "torn-write");
      if (cuts.length === 1) cut = { fault: cuts[0], tornSectors: torn?.sectors ?? 0, marksSeen: 0 };
      // Faults dropped for this firmware (e.g. stale DMA on a fixed release) leave nothing to inject.
      capabilities.push("fault-injection");
    }
    if (scenario.card.format === "none") refuse("card.format none: the board's window must be provisioned");
    if (!options.allowFormat)
      refuse(
        `the run overwrites sectors 0..${cardConfigOf(scenario).capacitySectors - 1} of the card in ${options.port} ` +
          "(its contents are lost): use a dedicated test card and pass --allow-format",
      );
    const target = new BoardTarget(scenario, runOptions.seed, profile, options, capabilities);
    target.cut = cut;
    target.image = await target.provisionedImage();
    target.keepBase = runOptions.keepBase === true;
    if (runOptions.traceData)
      target.keepPool = options.keepPoolBytes ?? (await keepPoolBytes(scenario, runOptions.seed));
    try {
      await target.connect({ softReset: true });
      await target.uploadAgent();
    } catch (e) {
      await target.close();
      throw e;
    }
    return target;
  }

  private async provisionedImage(): Promise<Uint8Array> {
    // A driver of its own on a clock at zero: the simulator provisions at virtual time 0 too, so the
    // provisioned files' FAT timestamps match (the shared driver's clock is the last run's).
    const fat = await loadFatDriver(new VirtualClock());
    const media = new RamBlockDevice(512, this.sectors);
    this.profile.provision(media, this.scenario.card.format, this.scenario.device, {
      ...profileContext(this.scenario, this.seed),
      fat,
    });
    const out = new Uint8Array(this.sectors * 512);
    media.readblocks(0, out);
    return out;
  }

  private warn(line: string): void {
    this.options.onWarning?.(`board ${this.options.port}: ${line}`);
  }

  private async connect(o: { softReset?: boolean } = {}): Promise<void> {
    const stream = await openSerialStream(this.options.port, {
      ...(this.options.baud !== undefined && { baud: this.options.baud }),
    });
    this.repl = await RawRepl.connect(stream, { softReset: o.softReset ?? false });
  }

  /** Reopens the port after a reset or power cycle, retrying while the board comes back. */
  private async reconnect(): Promise<void> {
    await this.repl?.close();
    this.repl = null;
    const limit = this.options.reconnectTimeoutMs ?? 20_000;
    let waited = 0;
    for (;;) {
      try {
        await this.connect();
        return;
      } catch (e) {
        const retry =
          e instanceof LinkError &&
          ["port-absent", "port-busy", "no-answer", "garbage", "disconnected"].includes(e.code);
        if (!retry || waited >= limit) throw e;
      }
      await new Promise((r) => setTimeout(r, 250));
      waited += 250;
    }
  }

  private get link(): RawRepl {
    if (!this.repl) throw new Error("BoardTarget: the link is closed");
    return this.repl;
  }

  private async uploadAgent(): Promise<void> {
    const source = this.options.agentSource ?? this.profile.boardCodec!.agentSource();
    const agentPath = `${AGENT_PATH_DIR}/${this.profile.boardCodec!.agent}`;
    const bytes = new TextEncoder().encode(source);
    if (this.options.upload ?? true) {
      await uploadFile(this.link, bytes, agentPath);
      for (const f of this.session.flashFiles()) await uploadFile(this.link, f.bytes, f.path);
    }
    this.expectedSha = (await import("node:crypto")).createHash("sha256").update(bytes).digest("hex");
  }

  private expectedSha = "";

  private async agentCall(code: string, timeoutMs?: number): Promise<unknown> {
    return execJson(this.link, code, { timeoutMs: timeoutMs ?? this.options.stepTimeoutMs ?? 30_000 });
  }

  /** Imports the agent and checks it is the one uploaded. */
  private async importAgent(): Promise<void> {
    const mod = this.profile.boardCodec!.agent.replace(/\.py$/, "");
    let hello: { protocol?: string; sha256?: string };
    try {
      hello = (await this.agentCall(
        `import sys\nif '${AGENT_PATH_DIR}' not in sys.path: sys.path.insert(0, '${AGENT_PATH_DIR}')\nimport ${mod}\n${mod}.hello()`,
      )) as typeof hello;
    } catch (e) {
      throw new LinkError({
        code: "frame",
        port: this.options.port,
        what: `the agent ${AGENT_PATH_DIR}/${mod}.py on ${this.options.port} does not start: ${(e as Error).message}`,
        hint: "is the uploaded agent intact (run again to upload it), and is this an OpenMV board?",
        cause: e,
      });
    }
    if (hello.sha256 !== this.expectedSha)
      throw new LinkError({
        code: "frame",
        port: this.options.port,
        what: `the agent on ${this.options.port} is out of date (sha256 ${hello.sha256 ?? "unknown"}, expected ${this.expectedSha})`,
        hint: "let cardsim upload it (do not pass upload: false), or reset the board so it imports the new file",
      });
  }

  private async stage(payload: Uint8Array): Promise<void> {
    const mod = this.agentModule;
    await this.agentCall(`${mod}.stage(${payload.length})`);
    for (let at = 0; at < payload.length; at += STAGE_CHUNK) {
      const hex = Buffer.from(payload.subarray(at, at + STAGE_CHUNK)).toString("hex");
      await this.agentCall(`${mod}.put(${at}, "${hex}")`);
    }
  }

  private get agentModule(): string {
    return this.profile.boardCodec!.agent.replace(/\.py$/, "");
  }

  private rtcTuple(): number[] {
    const ms = this.runMicros / 1000;
    const secs = Math.floor((Date.UTC(2025, 0, 1) + ms) / 1000);
    const d = new Date(secs * 1000);
    const weekday = (d.getUTCDay() + 6) % 7;
    return [
      d.getUTCFullYear(),
      d.getUTCMonth() + 1,
      d.getUTCDate(),
      weekday,
      d.getUTCHours(),
      d.getUTCMinutes(),
      d.getUTCSeconds(),
      0,
    ];
  }

  private async boot(first: boolean): Promise<void> {
    await this.importAgent();
    let provision: unknown;
    if (first) {
      const records: Uint8Array[] = [];
      for (let lba = 0; lba < this.sectors; lba++) {
        const s = this.image.subarray(lba * 512, lba * 512 + 512);
        if (s.some((b) => b !== 0)) {
          const r = new Uint8Array(516);
          new DataView(r.buffer).setUint32(0, lba, true);
          r.set(s, 4);
          records.push(r);
        }
      }
      const payload = new Uint8Array(records.length * 516);
      records.forEach((r, i) => payload.set(r, i * 516));
      await this.stage(payload);
      // The base of a trace sweep must be the card as it is, not as the host thinks: with keepBase the
      // whole window is zeroed where the image is zero (not only the system area) and its CRC checked.
      provision = this.keepBase
        ? { zeroUpTo: this.sectors, records: records.length, check: true }
        : { zeroUpTo: systemAreaSectors(this.image, this.sectors), records: records.length };
    }
    const cfg = {
      sectors: this.sectors,
      rtc: this.rtcTuple(),
      id: this.session.deviceId,
      pipeline: this.scenario.pipeline,
      ...(provision !== undefined && { provision }),
      ...(this.keepPool > 0 && { keep: this.keepPool }),
      ...(this.options.deviceRandom === true && { devRandom: true }),
      ...(this.options.liveSensor === true && { live: true }),
    };
    const r = (await this.agentCall(
      `${this.agentModule}.init(${pyStringLiteral(JSON.stringify(cfg))})`,
      120_000,
    )) as { warn: string[]; provisioned: { crc?: number } | null };
    for (const w of r.warn) this.warn(w);
    if (first && this.keepBase) {
      const want = crc32(this.image) >>> 0;
      if (r.provisioned?.crc !== want)
        throw new LinkError({
          code: "frame",
          port: this.options.port,
          what:
            `the card window on ${this.options.port} after provisioning has CRC-32 ` +
            `${(r.provisioned?.crc ?? 0).toString(16).padStart(8, "0")}, the base image ${want.toString(16).padStart(8, "0")}`,
          hint: "the card did not take the provisioning writes (read-only switch, a failing card?): try another test card",
        });
    }
    this.session.boot();
    this.handles.clear();
    this.baseSeq = this.writeLog.ops.length;
    this.baseWrites = this.writeLog.ops.filter((o) => o.kind === "write").length;
    this.cutSeen = false;
    this.bootMicros = this.runMicros;
    this.running = true;
    this.powered = true;
    this.booted = true;
    await this.armCut();
  }

  /** Writes of the run so far (every boot's). */
  private get writesSoFar(): number {
    return this.writeLog.ops.filter((o) => o.kind === "write").length;
  }

  /**
   * Arms the plan's cut on the agent (write index relative to this boot) once its run-wide write index
   * is known: `atWrite`, or `offsetWrites` after the chosen occurrence of `atMark` (as the simulator's
   * FaultyBlockDevice counts them).
   */
  private async armCut(): Promise<void> {
    const c = this.cut;
    if (!c || c.armedAt !== undefined || this.writeLog.cuts.length > 0 || !this.running) return;
    const f = c.fault;
    const at =
      f.atWrite !== undefined
        ? f.atWrite
        : c.markWrites !== undefined
          ? c.markWrites + (f.offsetWrites ?? 0)
          : undefined;
    if (at === undefined || at < this.baseWrites) return;
    await this.agentCall(`${this.agentModule}.cut_at(${at - this.baseWrites}, ${c.tornSectors})`);
    c.armedAt = at;
  }

  /** MCU reset (the card keeps power) or the user's power switch; then the port is reopened. */
  private async resetBoard(): Promise<void> {
    this.running = false;
    if (this.options.powerCycle) {
      await this.repl?.close();
      this.repl = null;
      const r = spawnSync(this.options.powerCycle, { shell: true, stdio: ["ignore", "pipe", "pipe"] });
      if (r.status !== 0)
        throw new LinkError({
          code: "disconnected",
          port: this.options.port,
          what: `--power-cycle "${this.options.powerCycle}" failed (exit ${r.status}): ${String(r.stderr).trim()}`,
          hint: "check the power-switch command (uhubctl location and port, relay script) on its own",
        });
    } else {
      try {
        await this.link.exec("import machine\nmachine.reset()", { timeoutMs: 500 });
      } catch {
        // The board resets: the exec never completes (or the USB port goes away).
      }
    }
    await this.reconnect();
    this.powered = true;
  }

  private notRunning(step: Step, index: number): StepResult {
    return {
      index,
      op: step.op,
      status: "error",
      error: { type: "ScenarioStepError", message: "the board is not running (add a boot step)" },
      files: [],
      timeMicros: this.runMicros,
    };
  }

  async runStep(step: Step, index: number): Promise<StepResult> {
    try {
      const r = await this.execute(step, index);
      this.steps.push(r);
      return r;
    } catch (e) {
      if (e instanceof LinkError)
        throw new BoardRunError(
          `step ${index} (${step.op}) on ${this.options.port}: ${e.message}`,
          [...this.steps],
          [...this.log],
          { cause: e },
        );
      throw e;
    }
  }

  private ok(step: Step, index: number, value?: unknown): StepResult {
    return {
      index,
      op: step.op,
      status: "ok",
      files: [],
      timeMicros: this.runMicros,
      ...(value !== undefined && { value }),
    };
  }

  private async execute(step: Step, index: number): Promise<StepResult> {
    switch (step.op) {
      case "boot":
        if (this.running)
          return {
            ...this.notRunning(step, index),
            error: { type: "ScenarioStepError", message: "boot: the board is already running" },
          };
        if (!this.powered || this.booted) await this.resetBoard();
        await this.boot(!this.booted);
        return this.ok(step, index);
      case "reboot":
        if (this.running || !this.powered) await this.resetBoard();
        else await this.resetBoard();
        await this.boot(false);
        return this.ok(step, index);
      case "fsck": {
        const card = await this.readBackCard();
        return this.ok(
          step,
          index,
          fsckFindings(card).map((f) => f.kind),
        );
      }
      case "mark":
        if (!this.running) {
          this.writeLog.marks.push({
            name: String(step.args["name"]),
            seq: this.writeLog.ops.length,
            timeMicros: this.runMicros,
          });
          return this.ok(step, index);
        }
        break;
      case "cut_power":
        if (!this.running) return this.ok(step, index);
        break;
      default:
        if (!this.running) return this.notRunning(step, index);
    }
    const cutSeenBefore = this.cutSeen;
    const reply = await this.agentStep(step);
    const c = this.cut;
    if (step.op === "mark" && c && c.fault.atMark === step.args["name"]) {
      if (c.marksSeen++ === (c.fault.markOccurrence ?? 0)) {
        c.markWrites = this.writesSoFar;
        await this.armCut();
      }
    }
    // One path for a cut_power step and a plan cut that fired in this step (unless the plan cut only
    // the card, scope `card`): the board goes down with its card, as the simulator's does.
    const planCutHere = !cutSeenBefore && this.cutSeen && c?.fault.scope !== "card";
    if (step.op === "cut_power" || planCutHere) {
      this.running = false;
      this.powered = false;
      await this.resetBoard();
      this.powered = false;
    }
    return {
      index,
      op: step.op,
      status: reply.ok ? "ok" : "error",
      ...(reply.err && { error: { type: reply.err[0], message: reply.err[1] } }),
      files: reply.files.map(([path, size, sha256]) => ({ path, size, sha256 })),
      timeMicros: this.runMicros,
      ...(reply.value !== null && reply.value !== undefined && { value: reply.value }),
    };
  }

  private async agentStep(step: Step): Promise<AgentReply> {
    const plan = this.session.plan(step);
    if (plan.payload.length > 0) await this.stage(plan.payload);
    this.lastPayload = plan.payload;
    const spec = { ...plan.spec, tracked: [...this.tracked] };
    const reply = (await this.agentCall(
      `${this.agentModule}.run(${pyStringLiteral(JSON.stringify(spec))})`,
    )) as AgentReply;
    this.session.used(step, { randomBytes: reply.rnd, framesCaptured: reply.cap });
    const kept = this.keepPool > 0 ? await this.fetchKept(reply.ops) : undefined;
    this.absorb(reply, plan.spec, kept);
    this.log.push(...reply.log);
    this.runMicros = Math.max(this.runMicros, this.bootMicros + reply.t);
    return reply;
  }

  /**
   * The bytes the agent kept for one step's writes (keep mode), fetched in one exec: a line per chunk,
   * `<offset> <crc32> <hex>`, each line's CRC checked. A pool that overflowed fails the run.
   */
  private async fetchKept(ops: AgentOps): Promise<Uint8Array> {
    const port = this.options.port;
    if ((ops.klost ?? 0) > 0)
      throw new LinkError({
        code: "frame",
        port,
        what:
          `the agent's keep pool on ${port} (${this.keepPool} bytes) was full: ${ops.klost} write(s) of the step ` +
          `after ${ops.kept ?? 0} kept bytes were not kept, so the trace cannot carry every write's bytes`,
        hint: "give the board target a larger keepPoolBytes (the default is the simulator's largest step × 1.5 + 16 KiB)",
      });
    const total = ops.kept ?? 0;
    const out = new Uint8Array(total);
    if (total === 0) return out;
    const chunk = this.options.fetchChunkBytes ?? 8192;
    const stdout = await this.link.execOk(`${this.agentModule}.fetch(0, ${total}, ${chunk})`, {
      timeoutMs: this.options.stepTimeoutMs ?? 30_000,
    });
    const bad = (what: string): never => {
      throw new LinkError({
        code: "frame",
        port,
        what: `kept bytes from ${port}: ${what}`,
        hint: "garbage on the line (a second program on the port, a bad cable?): run again",
      });
    };
    let next = 0;
    for (const line of stdout.split(/\r?\n/)) {
      if (line.trim() === "") continue;
      const m = /^(\d+) ([0-9a-f]{8}) ([0-9a-f]*)$/.exec(line);
      if (!m) bad(`line ${JSON.stringify(line.slice(0, 80))} is not "<offset> <crc32> <hex>"`);
      const off = Number(m![1]);
      const bytes = Buffer.from(m![3], "hex");
      if (off !== next) bad(`chunk at offset ${off}, expected offset ${next}`);
      if (bytes.length * 2 !== m![3].length || off + bytes.length > total)
        bad(`chunk at offset ${off}: ${m![3].length} hex digits do not fit the ${total} kept bytes`);
      const crc = (crc32(bytes) >>> 0).toString(16).padStart(8, "0");
      if (crc !== m![2]) bad(`chunk at offset ${off} has CRC-32 ${crc}, the board sent ${m![2]}`);
      out.set(bytes, off);
      next = off + bytes.length;
    }
    if (next !== total) bad(`${next} of ${total} kept bytes arrived`);
    return out;
  }

  /** Ops, marks, the cut and the file events of one reply, into the run's log and histories. */
  private absorb(reply: AgentReply, spec: Record<string, unknown>, kept?: Uint8Array): void {
    const ops = reply.ops;
    if (ops.lost > 0)
      throw new LinkError({
        code: "frame",
        port: this.options.port,
        what: `the agent's block log on ${this.options.port} overflowed (${ops.lost} ops lost)`,
        hint: "raise the agent's log capacity (cfg.cap) or split the step",
      });
    const kinds = ops.kind ? Buffer.from(ops.kind, "hex") : Buffer.alloc(0);
    const lba = u32s(ops.lba, ops.n);
    const cnt = u32s(ops.cnt, ops.n);
    const crc = u32s(ops.crc, ops.n);
    const res = u32s(ops.res, ops.n, true);
    const tim = u32s(ops.tim, ops.n);
    const firstSeq = this.baseSeq + reply.seq - ops.n;
    let keptAt = 0;
    for (let i = 0; i < ops.n; i++) {
      const kind = OP_KINDS[kinds[i]];
      let data: Uint8Array | undefined;
      if (kept && kind === "write") {
        data = kept.slice(keptAt, keptAt + cnt[i] * 512);
        keptAt += cnt[i] * 512;
        // The pool is the log's own order: each write's bytes must give the CRC the agent logged.
        if (data.length !== cnt[i] * 512 || crc32(data) >>> 0 !== crc[i])
          throw new LinkError({
            code: "frame",
            port: this.options.port,
            what: `the kept bytes of write seq ${firstSeq + i} (LBA ${lba[i]}, ${cnt[i]} sectors) on ${this.options.port} do not give its logged CRC-32`,
            hint: "the agent's pool and log disagree: is the agent on the board the one cardsim uploaded?",
          });
      }
      const op: BlockOp =
        kind === "ioctl"
          ? {
              seq: firstSeq + i,
              timeMicros: this.bootMicros + (tim[i] % 2 ** 30),
              kind,
              lba: 0,
              count: 0,
              offset: 0,
              crc32: 0,
              result: res[i],
              cmd: lba[i],
              arg: cnt[i],
            }
          : {
              seq: firstSeq + i,
              timeMicros: this.bootMicros + (tim[i] % 2 ** 30),
              kind,
              lba: lba[i],
              count: cnt[i],
              offset: 0,
              crc32: crc[i],
              result: res[i],
              ...(data && { data }),
            };
      this.writeLog.ops.push(op);
      if (kind === "write") for (let s = 0; s < cnt[i]; s++) this.written.add(lba[i] + s);
    }
    if (kept && keptAt !== kept.length)
      throw new LinkError({
        code: "frame",
        port: this.options.port,
        what: `the agent on ${this.options.port} kept ${kept.length} bytes for writes of ${keptAt} bytes`,
        hint: "the agent's pool and log disagree: is the agent on the board the one cardsim uploaded?",
      });
    for (const [name, seq] of reply.marks)
      this.writeLog.marks.push({ name, seq: this.baseSeq + seq, timeMicros: this.runMicros });
    if (reply.cut && !this.cutSeen) {
      this.cutSeen = true;
      const [w, torn, seq] = reply.cut;
      this.writeLog.cuts.push({
        atWrite: this.baseWrites + w,
        tornSectors: torn,
        beforeSeq: this.baseSeq + seq,
      });
    }
    for (const ev of reply.ev) this.event(ev, spec);
  }

  private handle(h: number | undefined): object {
    let o = this.handles.get(h ?? -1);
    if (!o) {
      o = { h };
      this.handles.set(h ?? -1, o);
    }
    return o;
  }

  private event(ev: AgentEvent, _spec: Record<string, unknown>): void {
    this.position = { writes: this.baseWrites + ev.at[0], seq: this.baseSeq + ev.at[1] };
    const f = this.files;
    const before = (cur: string | null | false | undefined): void => {
      this.current = cur === false || cur === undefined ? null : fromHex(cur);
    };
    switch (ev.e) {
      case "willOpen":
        before(ev.cur as string | null | false | undefined);
        this.tracked.add(ev.path!.toUpperCase());
        f.willOpen(ev.path!, ev.mode!);
        break;
      case "opened":
        f.opened(this.handle(ev.h), ev.path!, ev.mode!);
        break;
      case "wrote": {
        const bytes = ev.src === "payload" ? this.payloadWrite(ev) : (fromHex(ev.hex) ?? new Uint8Array(0));
        f.wrote(this.handle(ev.h), ev.pos ?? 0, bytes, ev.n ?? bytes.length);
        break;
      }
      case "committed":
        f.committed(this.handle(ev.h), ev.kind!);
        if (ev.kind === "close") this.handles.delete(ev.h ?? -1);
        break;
      case "willRemove":
        before(ev.cur as string | null | false);
        this.tracked.add(ev.path!.toUpperCase());
        f.willRemove(ev.path!);
        break;
      case "removed":
        f.removed(ev.path!);
        break;
      case "willRename": {
        const [c1, c2] = (ev.cur as (string | null | false)[] | undefined) ?? [false, false];
        // track(from) then track(to): each reads its `before` through the stand-in VFS.
        before(c1);
        if (this.files.covers(ev.path ?? "")) this.files.track(ev.path!);
        before(c2);
        f.willRename(ev.path ?? "", ev.dst!);
        break;
      }
      case "renamed":
        this.current = fromHex(ev.now);
        f.renamed(ev.path ?? "", ev.dst!);
        break;
    }
  }

  /** The bytes of a write whose data was staged (a frame, the random stream) at offset `off`. */
  private payloadWrite(ev: AgentEvent): Uint8Array {
    return this.lastPayload.slice(ev.off ?? 0, (ev.off ?? 0) + (ev.n ?? 0));
  }

  /** The card now: the provisioned image with every sector the run wrote read back raw. */
  private async readBackCard(): Promise<RamBlockDevice> {
    const image = this.image.slice();
    const lbas = [...this.written].filter((l) => l < this.sectors).sort((a, b) => a - b);
    for (let i = 0; i < lbas.length;) {
      let j = i + 1;
      while (j < lbas.length && lbas[j] === lbas[j - 1] + 1 && j - i < READBACK_SECTORS) j++;
      const lba = lbas[i];
      const count = j - i;
      const r = (await this.agentCall(
        [
          "import machine",
          `_b = bytearray(${count * 512})`,
          `machine.SDCard(1).readblocks(${lba}, _b)`,
          "print('\"' + bytes(_b).hex() + '\"')",
          "del _b",
        ].join("\n"),
      )) as string;
      image.set(Buffer.from(r, "hex"), lba * 512);
      i = j;
    }
    return new RamBlockDevice(512, this.sectors, image);
  }

  /** The card before the first logged write: the provisioned window, checked by CRC at the first boot. */
  async baseImage(): Promise<Uint8Array> {
    if (!this.keepBase) throw new Error("BoardTarget.baseImage: the target was created without keepBase");
    if (!this.booted)
      throw new CapabilityError("--save-base: the board was never booted (the scenario has no boot step)");
    return this.image.slice();
  }

  async deviceLog(): Promise<string[]> {
    return [...this.log];
  }

  async evidence(): Promise<TargetEvidence> {
    if (!this.powered) await this.resetBoard();
    return { card: await this.readBackCard(), files: this.files.files, mountPoint: this.profile.mountPoint };
  }

  async trace(): Promise<RunTrace> {
    return {
      log: this.writeLog,
      header: {
        sectorSize: 512,
        sectors: this.sectors,
        source: "board",
        scenario: this.scenario.name,
        seed: this.seed,
        profile: this.profile.name,
        firmware: this.scenario.device.firmware,
        engine: "board",
      },
    };
  }

  async close(): Promise<void> {
    const r = this.repl;
    this.repl = null;
    await r?.close();
  }
}

/** The `board` registration for one CLI invocation's port options. */
export function boardTargetRegistration(options: BoardTargetOptions): TargetRegistration {
  return { create: (scenario, runOptions) => BoardTarget.create(scenario, runOptions, options) };
}
