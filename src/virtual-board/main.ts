/**
 * The virtual board: the WebAssembly MicroPython with the simulator as its hardware, serving the
 * REPL on a byte stream (stdin/stdout; `pty.ts` puts it behind a pseudo-terminal).
 *
 * Threads: the board (interpreter + simulated stack) runs in a worker; this thread moves bytes,
 * keeps a mirror of the card's and the flash's changed blocks, and restarts the worker when it must
 * be killed: Ctrl-C cannot stop a busy Python loop in this build, and the power switch cannot wait
 * for one. The mirror is what the card holds after that (every completed write), so a killed
 * worker costs the interpreter's state, never the card's.
 *
 * Real time exists only here, in the serial framing: how long a Ctrl-C waits before the worker is
 * killed. The board itself runs on its virtual clock.
 */
import { readFileSync, writeFileSync, openSync, writeSync, closeSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { Worker } from "node:worker_threads";
import { CardImageError } from "../block/index.ts";
import { parseFaultPlan, parseFaultPlanText, type FaultPlan } from "../faults/index.ts";
import { firmwareByVersion } from "../openmv/firmware.ts";
import { cardConfigFor, type HardwareSpec, type Medium } from "./hardware.ts";
import type { FatDriverKind } from "../fat/drivers.ts";
import type { FromWorker, ToWorker, WorkerStart } from "./protocol.ts";
import type { ReplMode } from "./repl-host.ts";

/** Options of the virtual board (the CLI's `cardsim virtual-board` flags). */
export interface VirtualBoardOptions {
  /** OpenMV firmware version (error texts, stale-DMA bug), default "4.7.0" as the reporter's. */
  firmware?: string;
  /** Card image (e.g. `cardsim image mkfs` output or a `dd` dump); default a fresh formatted 64 MiB card. */
  card?: string;
  /** Write the card's changes back into `card` when the board stops (default: the image is never written). */
  cardWritable?: boolean;
  /** Write the whole card image here when the board stops (for fsck, mtools, `cardsim image`). */
  saveCard?: string;
  /** Fault plan file (YAML or JSON, `cardsim-faults` plan), applied to the card as on the simulator. */
  faults?: string;
  /** Seed of `os.urandom`, `random`, the sensor's frames (default 0): same seed, same bytes. */
  seed?: number;
  /** `machine.unique_id()` as 16 hex digits (default the simulator's). */
  uniqueId?: string;
  /** How long a Ctrl-C may wait for a running exec before the worker is killed, ms (default 250). */
  interruptGraceMs?: number;
  /** The FAT engine behind VfsFat (default `ts-fatfs`, the board's own FatFs mode; `js-fatfs` the oracle). */
  engine?: FatDriverKind;
}

/** A running virtual board. */
export interface VirtualBoard {
  /** The power switch (SIGUSR1): the card loses power as in a cut, a fresh interpreter boots. */
  powerCycle(): void;
  /** Stops the board (writes the card back / saves it when asked); safe to call twice. */
  stop(): Promise<void>;
  /** Settles when the board has stopped (after {@link stop}, the end of input, or a fatal error). */
  readonly closed: Promise<void>;
  /** The card's whole content now (base image plus every completed write). */
  cardImage(): Uint8Array;
  /** How many times the worker was killed and restarted (Ctrl-C on a busy loop, power switch while busy). */
  readonly workerRestarts: number;
}

/** Bad virtual-board options (user input): names the option and what was expected. */
export class VirtualBoardOptionError extends Error {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`--${option}: ${message}`);
    this.name = "VirtualBoardOptionError";
  }
}

const KEYBOARD_INTERRUPT =
  'Traceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\nKeyboardInterrupt: \r\n';

/** The worker's bootstrap: register tsx's ESM hooks in the thread (Node 20 does not pass them on). */
function workerBootstrap(): string {
  const require = createRequire(import.meta.url);
  const api = join(dirname(require.resolve("tsx/package.json")), "dist", "esm", "api", "index.mjs");
  const entry = new URL("./worker.ts", import.meta.url).href;
  return `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
}

function loadPlan(options: VirtualBoardOptions): FaultPlan {
  const seed = options.seed ?? 0;
  if (!options.faults) return parseFaultPlan({ version: 1, seed, faults: [] });
  let text: string;
  try {
    text = readFileSync(options.faults, "utf8");
  } catch (e) {
    throw new VirtualBoardOptionError("faults", `cannot read ${options.faults}: ${(e as Error).message}`);
  }
  return parseFaultPlanText(text, options.faults);
}

function loadCard(path: string | undefined): Uint8Array | null {
  if (path === undefined) return null;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new CardImageError(path, `cannot read card image: ${(e as Error).message}`);
  }
  if (bytes.length === 0 || bytes.length % 512 !== 0)
    throw new CardImageError(path, `image is ${bytes.length} bytes; expected a non-zero multiple of 512`);
  // Shared, so a restarted worker does not copy it again; the board never writes its base.
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.length));
  shared.set(bytes);
  return shared;
}

function uniqueIdOf(hex: string | undefined): Uint8Array | undefined {
  if (hex === undefined) return undefined;
  if (!/^[0-9a-fA-F]{16}$/.test(hex))
    throw new VirtualBoardOptionError("unique-id", `expected 16 hex digits, got '${hex}'`);
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

/**
 * Starts the virtual board on `stdin`/`stdout` and resolves once its first interpreter is up (the
 * power-on banner is then on `stdout`). Bad options throw before anything starts.
 */
export async function runVirtualBoard(
  options: VirtualBoardOptions & { stdin: Readable; stdout: Writable },
): Promise<VirtualBoard> {
  const firmware = firmwareByVersion(options.firmware ?? "4.7.0").version;
  const plan = loadPlan(options);
  const cardImage = loadCard(options.card);
  const uniqueId = uniqueIdOf(options.uniqueId);
  const board = new BoardProcess(options, { firmware, plan, cardImage, uniqueId });
  await board.startWorker(undefined);
  return board;
}

interface Fixed {
  firmware: string;
  plan: FaultPlan;
  cardImage: Uint8Array | null;
  uniqueId: Uint8Array | undefined;
}

class BoardProcess implements VirtualBoard {
  readonly closed: Promise<void>;
  workerRestarts = 0;
  private resolveClosed!: () => void;
  private worker: Worker | null = null;
  private ready = false;
  private held: Uint8Array[] = [];
  private inFlight = 0;
  /** Messages the worker has not answered with `idle` yet, in order: the head is the one it runs. */
  private pending: { kind: "input" | "other"; seq: number }[] = [];
  private posted = 0;
  private generation = 0;
  private mode: ReplMode = "friendly";
  private clockMicros = 0;
  private rtcOffsetMillis = 0;
  private firstStart = true;
  private stopping = false;
  private readonly mirror: Record<Medium, Map<number, Uint8Array>> = { card: new Map(), flash: new Map() };

  constructor(
    private readonly options: VirtualBoardOptions & { stdin: Readable; stdout: Writable },
    private readonly fixed: Fixed,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    options.stdin.on("data", (chunk: Buffer) => this.input(new Uint8Array(chunk)));
    options.stdin.on("end", () => void this.stop());
  }

  private spec(): HardwareSpec {
    return {
      firmware: this.fixed.firmware,
      cardImage: this.fixed.cardImage,
      plan: this.fixed.plan,
      cardOverlay: [...this.mirror.card],
      flashOverlay: [...this.mirror.flash],
      clockMicros: this.clockMicros,
      rtcOffsetMillis: this.rtcOffsetMillis,
      firstStart: this.firstStart,
      ...(this.options.engine && { engine: this.options.engine }),
    };
  }

  /** Starts a worker; `restartIn` boots it silently into that REPL mode (after a kill). */
  startWorker(restartIn: ReplMode | undefined): Promise<void> {
    const start: WorkerStart = {
      hardware: this.spec(),
      seed: this.options.seed ?? 0,
      ...(this.fixed.uniqueId && { uniqueId: this.fixed.uniqueId }),
      ...(restartIn && { restartIn }),
    };
    this.firstStart = false;
    this.ready = false;
    this.inFlight = 0;
    this.pending = [];
    const gen = ++this.generation;
    const worker = new Worker(workerBootstrap(), { eval: true, workerData: start });
    this.worker = worker;
    return new Promise<void>((resolve, reject) => {
      worker.on("message", (m: FromWorker) => {
        if (gen !== this.generation) return;
        this.onMessage(m);
        if (m.t === "ready") resolve();
        if (m.t === "fatal") reject(new Error(`virtual board: ${m.message}`));
      });
      worker.on("error", (e) => {
        if (gen !== this.generation) return;
        reject(e);
        this.fail(`virtual board worker failed: ${e.stack ?? e.message}`);
      });
      worker.on("exit", () => {
        if (gen === this.generation && !this.stopping) this.fail("virtual board worker exited");
      });
    });
  }

  private onMessage(m: FromWorker): void {
    switch (m.t) {
      case "out":
        this.options.stdout.write(m.bytes);
        break;
      case "media":
        this.mirror[m.medium].set(m.lba, m.data);
        this.clockMicros = Math.max(this.clockMicros, m.clockMicros);
        break;
      case "idle":
        this.inFlight = Math.max(0, this.inFlight - 1);
        this.pending.shift();
        this.mode = m.mode;
        this.clockMicros = m.clockMicros;
        this.rtcOffsetMillis = m.rtcOffsetMillis;
        break;
      case "ready":
        this.ready = true;
        this.inFlight = 1; // the idle that follows "ready"
        this.pending = [{ kind: "other", seq: ++this.posted }];
        for (const bytes of this.held.splice(0)) this.post({ t: "input", bytes });
        break;
      case "fatal":
        this.fail(`virtual board: ${m.message}`);
        break;
    }
  }

  private post(m: ToWorker): void {
    this.inFlight++;
    this.pending.push({ kind: m.t === "input" ? "input" : "other", seq: ++this.posted });
    this.worker!.postMessage(m);
  }

  private input(bytes: Uint8Array): void {
    if (this.stopping) return;
    if (!this.ready) {
      this.held.push(bytes);
      return;
    }
    // Python busy on earlier input (not a boot or a power cycle, which end by themselves): a Ctrl-C
    // that the interpreter does not answer within the grace ends in a worker restart.
    const running = this.pending[0];
    this.post({ t: "input", bytes });
    if (running?.kind === "input" && bytes.includes(0x03)) {
      const gen = this.generation;
      setTimeout(() => {
        if (gen === this.generation && this.pending[0]?.seq === running.seq && !this.stopping)
          void this.restart("interrupt");
      }, this.options.interruptGraceMs ?? 250);
    }
  }

  powerCycle(): void {
    if (this.stopping) return;
    if (this.ready && this.inFlight === 0) this.post({ t: "power" });
    else void this.restart("power");
  }

  /**
   * Kills the worker and starts another on the mirror. `interrupt`: Ctrl-C on a busy loop — the
   * exec's frame ends with KeyboardInterrupt and the REPL comes back in its mode (its variables are
   * gone; the card, clock and flash are kept). `power`: the power switch while Python ran — the card
   * keeps every completed write (no unsynced-write policy is applied on this path).
   */
  private async restart(why: "interrupt" | "power"): Promise<void> {
    const old = this.worker;
    this.generation++;
    this.ready = false;
    this.workerRestarts++;
    await old?.terminate();
    if (why === "interrupt") {
      this.options.stdout.write(
        this.mode === "raw" ? `\x04${KEYBOARD_INTERRUPT}\x04>` : `${KEYBOARD_INTERRUPT}>>> `,
      );
    }
    try {
      await this.startWorker(why === "interrupt" ? this.mode : undefined);
    } catch (e) {
      this.fail(`virtual board restart failed: ${(e as Error).message}`);
    }
  }

  cardImage(): Uint8Array {
    const config = cardConfigFor({ cardImage: this.fixed.cardImage });
    const out = new Uint8Array(config.capacitySectors * config.sectorBytes);
    if (this.fixed.cardImage) out.set(this.fixed.cardImage);
    for (const [lba, data] of this.mirror.card) out.set(data, lba * config.sectorBytes);
    return out;
  }

  private fail(message: string): void {
    if (this.stopping) return;
    process.stderr.write(`${message}\n`);
    void this.stop();
  }

  async stop(): Promise<void> {
    if (this.stopping) return this.closed;
    this.stopping = true;
    this.generation++;
    await this.worker?.terminate();
    try {
      if (this.options.cardWritable && this.options.card) this.writeBack(this.options.card);
      if (this.options.saveCard) writeFileSync(this.options.saveCard, this.cardImage());
    } finally {
      this.resolveClosed();
    }
  }

  private writeBack(path: string): void {
    const fd = openSync(path, "r+");
    try {
      for (const [lba, data] of this.mirror.card) writeSync(fd, data, 0, data.length, lba * 512);
    } finally {
      closeSync(fd);
    }
  }
}
