/**
 * The device-profile plug-in interface (ARCHITECTURE.md, "profiles"): everything the scenario engine
 * needs to know about one device, in the spirit of zen-fs's `Backend` and avr8js's config objects. A
 * profile is data plus a few functions; `sim/` sees devices only through it and the registry.
 *
 * To add a device: write one composition file in `src/profiles/<name>/` that exports a
 * {@link DeviceProfile} and register it in `src/profiles/index.ts` (tests may register their own).
 */
import type { z } from "zod";
import type { BlockDevice } from "../block/block-device.ts";
import type { FileHistory } from "../crash/file-history.ts";
import type { ReaderRule } from "../crash/oracle.ts";
import type { FaultPlan } from "../faults/fault-plan.ts";
import type { FatDriver } from "../fat/fat-engine.ts";
import type { FatDriverKind } from "../fat/drivers.ts";
import type { SleepHookSource } from "../hosts/index.ts";
import type { StorageStack } from "../stack/storage-stack.ts";
import type { Vfs } from "../vfs/vfs.ts";

/** What a target can do; the runner refuses steps or faults a target lacks (zen-fs style capabilities). */
export type TargetCapability =
  | "power-cut" // cut power at an exact block write and reboot
  | "fault-injection" // FaultPlan faults below the FAT layer
  | "usb-host" // a second host writing the card over USB mass storage
  | "crash-sweep" // materialise crash states offline from a write log
  | "card-image"; // export the card image

/** A step of a scenario: one device-level operation, executable by an on-board agent too. */
export interface Step {
  /** Operation name from the vocabulary (common storage ops plus the profile's own). */
  op: string;
  /** Arguments, validated by the step's schema before the target sees them. */
  args: Record<string, unknown>;
  /** 1-based line in the scenario file, for messages. */
  line?: number;
}

/** One entry of a step vocabulary. */
export interface StepSpec {
  /** Strict schema of the step's arguments (without `label`). */
  readonly args: z.ZodType<Record<string, unknown>>;
  /** One line: what the step does on the device, with the call it maps to. */
  readonly doc: string;
  /** Target capability the step needs, if any. */
  readonly needs?: TargetCapability;
}

/** The scenario fields a profile reads besides its own `device:` block. */
export interface ProfileContext {
  /** Directory of the scenario file: key files and other scenario data resolve against it. */
  readonly scenarioDir: string;
  /** The scenario's application variant (`pipeline:`), one of {@link DeviceProfile.pipelines}. */
  readonly pipeline: string;
  /** Seed of the run. */
  readonly seed: number;
  /** The scenario file as the user named it, for messages. */
  readonly scenarioFile?: string;
}

/**
 * How the card is prepared before the run (scenario `card.format`); `sdxc-exfat` is the exFAT an SDXC
 * card ships with (formatExfat, the SD Association's layout); `sdxc-exfat-gpt` the same volume in a
 * GPT partition (a card reformatted by macOS Disk Utility).
 */
export type CardFormat = "micropython" | "mkfs-fat32" | "sdxc-exfat" | "sdxc-exfat-gpt" | "none";

/**
 * A running (or halted) simulated device: what the common storage steps and the device's own steps
 * run on. Made by {@link DeviceProfile.simulate}; one per run, booted and halted many times.
 */
export interface DeviceSession {
  /** Power-on boot: mounts the card (a device error, e.g. OSError ENODEV, is thrown as is). */
  boot(): Promise<void>;
  readonly running: boolean;
  /** Stops at once (power loss or reset): open files are abandoned, nothing more is written. */
  halt(): void;
  /** The device's `os` and `open()` (MicroPython semantics) while running. */
  readonly os: Vfs;
  /** `os.urandom(n)` from the run's seeded stream. */
  urandom(n: number): Uint8Array;
  /** `sleep_ms(ms)` on the virtual clock (work registered through {@link sleepHooks} runs meanwhile). */
  sleepMs(ms: number): void;
  /** Where work that runs during sleeps registers (a PC over USB mass storage). */
  readonly sleepHooks: SleepHookSource;
  /** Lines the device printed since the last call. */
  takeLog(): string[];
  /** Runs one of the profile's own steps, pushing the absolute paths it touched; returns the step value. */
  runStep(step: Step, touched: string[]): Promise<unknown>;
}

/** What the board target sends for one step: the agent's step spec (JSON) and the inputs it stages. */
export interface BoardStepPlan {
  /** `{op, args, ...}` plus where the staged inputs lie (frames, the urandom stream). */
  readonly spec: Record<string, unknown>;
  /** Bytes staged on the board before the step (offsets in {@link spec} point into it). */
  readonly payload: Uint8Array;
}

/** One run's host side of the agent: the inputs the simulator would use, step by step. */
export interface BoardSession {
  /** The id the device's scripts put in file names. */
  readonly deviceId: string;
  /** A fresh boot of the board (input streams restart as the simulated device's do). */
  boot(): void;
  /** The spec and inputs of `step`. */
  plan(step: Step): BoardStepPlan;
  /** What the board used of the inputs (random bytes, frames), so the next step continues from there. */
  used(step: Step, reply: { randomBytes: number; framesCaptured: number }): void;
  /** Files the device expects on its internal flash (keys), uploaded before the run. */
  flashFiles(): { path: string; bytes: Uint8Array }[];
}

/** How the serial board target (sim/board-target.ts) speaks to this profile's on-board agent. */
export interface BoardCodec<Config = DeviceConfig> {
  /** Name of the on-board agent program (e.g. `agent.py`), uploaded to /flash. */
  readonly agent: string;
  /** The agent's source text. */
  agentSource(): string;
  /** The `pipeline:` values the agent implements (others are refused before the run). */
  readonly pipelines: readonly string[];
  /** The host side for one run. */
  session(config: Config, ctx: ProfileContext): BoardSession;
}

/** One step's result over a {@link DeviceLink} (the runner adds index, op and time). */
export interface LinkStepResult {
  status: "ok" | "error";
  error?: { type: string; message: string };
  files: { path: string; size: number | null; sha256: string | null }[];
  value?: unknown;
}

/** What a {@link DeviceLink} session is opened with: the port, and the run as the simulator starts it. */
export interface DeviceLinkRun<Config = DeviceConfig> {
  readonly port: string;
  readonly baud?: number;
  /** A shell command that switches the device's power off and on (`kill -USR1 PID` for a virtual one). */
  readonly powerCycle?: string;
  /** Writing the card's first sectors to the scenario's starting state is allowed. */
  readonly allowFormat: boolean;
  /** No reply byte for this long means the device does not answer, ms. */
  readonly replyTimeoutMs?: number;
  readonly config: Config;
  readonly ctx: ProfileContext;
  readonly steps: readonly Step[];
  /** The card as the simulator provisions it (sectors [0, N) of the device's card). */
  readonly startImage: Uint8Array;
  /** The FAT engine the scenario's oracles read the card with. */
  readonly fat: FatDriver;
  /** The scenario expects log lines (`expect.log` / `logContains`). */
  readonly needsLog: boolean;
  /** The scenario expects fsck findings. */
  readonly needsFsck: boolean;
  readonly onWarning?: (line: string) => void;
}

/** A run over a {@link DeviceLink}: steps, then the evidence the runner's oracles read. */
export interface DeviceLinkSession {
  /** Why this run cannot be done on the device found at the port (empty: it can). */
  readonly refusals: readonly string[];
  runStep(step: Step): Promise<LinkStepResult>;
  deviceLog(): Promise<string[]>;
  /** The card after the run as read back over the link, and the files' histories. */
  evidence(): Promise<{ card: BlockDevice; files: FileHistory[] }>;
  close(): Promise<void>;
}

/**
 * The device's own serial protocol with the host as its peer (the Teensy's ESP32 link): the scenario
 * target `--target <targetName>` (sim/link-target.ts). Link failures are LinkErrors (src/link).
 */
export interface DeviceLink<Config = DeviceConfig> {
  readonly targetName: string;
  open(run: DeviceLinkRun<Config>): Promise<DeviceLinkSession>;
}

/**
 * A device profile. `Config` is the parsed `device:` block; every block has `profile` (the profile's
 * name) and `firmware` (shown in results).
 */
export interface DeviceProfile<Config extends { profile: string; firmware: string } = DeviceConfig> {
  readonly name: string;
  /** One line for `cardsim profiles`. */
  readonly summary: string;
  /** Schema of the scenario's `device:` block; its errors name the allowed values (firmware versions...). */
  readonly deviceSchema: z.ZodType<Config>;
  /** The profile's own steps, added to the common storage ops. */
  readonly steps: Readonly<Record<string, StepSpec>>;
  /** Allowed values of the scenario's `pipeline:` (the first is the default). */
  readonly pipelines: readonly [string, ...string[]];
  /** Where the device mounts the card: file paths in scenarios and histories start with it. */
  readonly mountPoint: string;
  /** The FAT engine that gives this device's write order (a scenario's `engine:` may choose another). */
  readonly defaultEngine?: FatDriverKind;
  /** The outcome oracles: how the device's own code reads each kind of file back. */
  readers(config: Config, ctx: ProfileContext): ReaderRule[];
  /** Formats the card and puts the files the device expects on it, before the run (not logged). */
  provision(
    media: BlockDevice,
    format: CardFormat,
    config: Config,
    ctx: ProfileContext & { fat: FatDriver },
  ): void;
  /** The scenario's fault plan as this device experiences it (a firmware that lacks a bug drops its fault). */
  adjustFaultPlan?(plan: FaultPlan, config: Config): FaultPlan;
  /** A device session on the shared storage stack. */
  simulate(stack: StorageStack, config: Config, ctx: ProfileContext): DeviceSession;
  /** Used by the serial board target; absent when the device has no on-board agent. */
  readonly boardCodec?: BoardCodec<Config>;
  /** Used by the serial link target; absent when the device speaks no protocol of its own. */
  readonly deviceLink?: DeviceLink<Config>;
  /**
   * The device as a process behind a pty speaking its own serial protocol
   * (`cardsim virtual-board --profile NAME`); absent when the CLI's default board serves it.
   */
  readonly virtualDevice?: (options: VirtualDeviceOptions) => Promise<VirtualDevicePty>;
  /** Renderers of the device's file kinds by extension (`.pov`), for `cardsim <kind> show`. */
  readonly filePreviews?: Readonly<Record<string, (bytes: Uint8Array, name: string) => FilePreview>>;
}

/** Options of {@link DeviceProfile.virtualDevice} (the `cardsim virtual-board` flags). */
export interface VirtualDeviceOptions {
  /** Make PATH a symlink to the pty. */
  link?: string;
  firmware?: string;
  /** Start from this card image (read only unless {@link cardWritable}). */
  card?: string;
  cardWritable?: boolean;
  /** A fault plan file (YAML/JSON) applied to the card. */
  faults?: string;
  seed?: number;
  /** Write the whole card image here when the device stops. */
  saveCard?: string;
  /** How long to wait for the device to come up, ms. */
  startTimeoutMs?: number;
}

/** A virtual device running behind a pty. */
export interface VirtualDevicePty {
  readonly path: string;
  /** The device process's pid (SIGUSR1: power switch). */
  readonly pid: number;
  powerCycle(): void;
  stop(): Promise<void>;
  readonly exited: Promise<void>;
}

/** What a file renderer shows: lines of text and, when it draws, a PNG. */
export interface FilePreview {
  readonly summary: readonly string[];
  readonly png?: Uint8Array;
}

/** The fields every `device:` block has. */
export interface DeviceConfig {
  profile: string;
  firmware: string;
  [key: string]: unknown;
}

/** A profile with its config type erased (what registries and the runner hold). */
export type AnyDeviceProfile = DeviceProfile<DeviceConfig>;
