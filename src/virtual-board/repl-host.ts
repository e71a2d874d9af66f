/**
 * The host side of the REPL that the WebAssembly build lacks (ARCHITECTURE.md: it lives in the virtual
 * board, not in the link). The interpreter's own `replProcessChar` does the friendly and raw REPL
 * with exact framing (`OK`, stdout, `\x04`, traceback, `\x04`, `>`); this layer adds:
 * - soft reset: `replProcessChar` only asks for it (non-zero return); a fresh interpreter boots and
 *   the board prints `MPY: soft reboot\r\n`, then the raw REPL banner again when it was in raw mode;
 * - `machine.reset()`: a fresh interpreter boots with the power-on banner (no finalisers run);
 * - raw-paste (`\x05A\x01` → `R\x01`, u16le window 128, `\x01` per window received, `\x04` ends);
 * - `\n` → `\r\n` on output, as the board's cooked stdout does (across chunks).
 */

/** One interpreter as the REPL host drives it. */
export interface ReplSession {
  /** `replInit`: starts the friendly REPL (prints the power-on banner). */
  init(): void;
  /** `replProcessChar`: non-zero when the REPL asks for a reset (Ctrl-D, SystemExit). */
  processChar(c: number): number;
  /** True when the last exec called `machine.reset()`. */
  readonly resetRequested: boolean;
}

/** Why an interpreter boots. */
export type BootKind =
  /** Power on or `machine.reset()`: the power-on banner, friendly REPL. */
  | "power-on"
  /** Soft reset: `MPY: soft reboot`, the REPL mode is kept. */
  | "soft-reset"
  /** A restart after a busy loop was killed: silent, the REPL mode is kept. */
  | "restart";

export type ReplMode = "friendly" | "raw";

/** Raw-paste window the board announces, bytes (128 on boards, DEVICE-FACTS). */
export const RAW_PASTE_WINDOW = 128;

const CTRL_A = 0x01;
const CTRL_B = 0x02;
const CTRL_D = 0x04;
const CTRL_E = 0x05;
const RAW_BANNER = "raw REPL; CTRL-B to exit\r\n>";

/** Options of {@link ReplHost}. */
export interface ReplHostOptions {
  /** Bytes for the serial line, in order. */
  emit: (bytes: Uint8Array) => void;
  /**
   * Sends what {@link emit} buffered now: called when code is about to run (after `OK` or the
   * raw-paste acknowledgement), because a busy loop would hold the buffer back.
   */
  flush?: () => void;
  /**
   * Ends the current interpreter (`soft`: run finalisers) and boots a fresh one (its boot output goes
   * to {@link ReplHost.output}); the host then starts its REPL.
   */
  boot: (kind: BootKind, soft: boolean) => Promise<ReplSession>;
}

/** Byte-level REPL host over successive interpreters. */
export class ReplHost {
  private session: ReplSession | null = null;
  private modeNow: ReplMode = "friendly";
  private muted = 0;
  private lastOut = 0;
  private suppressOk = 0;
  private okPending = false;
  private pending: number[] = [];
  private paste: number[] | null = null;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: ReplHostOptions) {}

  /** The REPL's mode as the host tracked it (Ctrl-A enters raw mode, Ctrl-B leaves it). */
  get mode(): ReplMode {
    return this.modeNow;
  }

  /** Interpreter output (every byte, in order): newline translation, muting, `OK` suppression. */
  output(byte: number): void {
    if (this.muted > 0) return;
    if (this.suppressOk > 0) {
      const want = this.suppressOk === 2 ? 0x4f : 0x4b;
      this.suppressOk = byte === want ? this.suppressOk - 1 : 0;
      if (byte === want) return;
    }
    if (byte === 0x0a && this.lastOut !== 0x0d) this.emitBytes([0x0d, 0x0a]);
    else this.emitBytes([byte]);
    this.lastOut = byte;
    if (this.okPending && byte === 0x4b) {
      this.okPending = false;
      this.options.flush?.();
    }
  }

  private emitBytes(bytes: number[]): void {
    this.options.emit(Uint8Array.from(bytes));
  }

  private text(s: string): void {
    this.emitBytes(Array.from(s, (c) => c.charCodeAt(0)));
    this.lastOut = s.charCodeAt(s.length - 1);
  }

  /** Boots the first interpreter. `restartIn`: silent restart in that mode (after a killed worker). */
  async start(restartIn?: ReplMode): Promise<void> {
    if (restartIn) {
      this.modeNow = restartIn;
      await this.reboot("restart", false);
    } else {
      this.modeNow = "friendly";
      await this.reboot("power-on", false);
    }
  }

  /** Feeds bytes from the serial line; calls are processed in order. */
  input(bytes: Uint8Array): Promise<void> {
    this.queue = this.queue.then(() => this.process(bytes));
    return this.queue;
  }

  /** Power cycle: after pending input, `cut` switches the power off and on; a fresh interpreter boots. */
  powerCycle(cut: () => void): Promise<void> {
    this.queue = this.queue.then(async () => {
      this.session = null;
      cut();
      this.paste = null;
      this.pending = [];
      this.modeNow = "friendly";
      await this.reboot("power-on", false);
    });
    return this.queue;
  }

  private async process(bytes: Uint8Array): Promise<void> {
    for (const c of bytes) {
      if (this.paste) {
        await this.pasteByte(c);
        continue;
      }
      if (this.modeNow === "raw" && this.rawPasteRequest(c)) continue;
      const held = this.pending;
      this.pending = [];
      for (const p of held) await this.feed(p);
      await this.feed(c);
    }
  }

  /** Recognises `\x05A\x01`; true when `c` was taken as part of it. */
  private rawPasteRequest(c: number): boolean {
    const n = this.pending.length;
    if ((n === 0 && c === CTRL_E) || (n === 1 && c === 0x41)) {
      this.pending.push(c);
      return true;
    }
    if (n === 2 && c === CTRL_A) {
      this.pending = [];
      this.paste = [];
      this.emitBytes([0x52, 0x01, RAW_PASTE_WINDOW & 0xff, RAW_PASTE_WINDOW >> 8]);
      return true;
    }
    return false;
  }

  private async pasteByte(c: number): Promise<void> {
    const code = this.paste!;
    if (c !== CTRL_D) {
      code.push(c);
      if (code.length % RAW_PASTE_WINDOW === 0) this.emitBytes([CTRL_A]);
      return;
    }
    this.paste = null;
    this.emitBytes([CTRL_D]);
    this.options.flush?.();
    // Run it through the raw REPL as if typed; its `OK` is not part of the raw-paste frame.
    const s = this.session!;
    for (const b of code) s.processChar(b);
    this.suppressOk = 2;
    await this.feed(CTRL_D);
    this.suppressOk = 0;
  }

  private async feed(c: number): Promise<void> {
    const s = this.session;
    if (!s) return;
    if (c === CTRL_A) this.modeNow = "raw";
    else if (c === CTRL_B && this.modeNow === "raw") this.modeNow = "friendly";
    // In raw mode Ctrl-D runs the code: `OK` must reach the line before the code starts.
    this.okPending = c === CTRL_D && this.modeNow === "raw" && this.suppressOk === 0;
    const rc = s.processChar(c);
    this.okPending = false;
    if (rc === 0) return;
    if (s.resetRequested) {
      this.modeNow = "friendly";
      await this.reboot("power-on", false);
    } else {
      await this.reboot("soft-reset", true);
    }
  }

  private async reboot(kind: BootKind, soft: boolean): Promise<void> {
    this.session = null;
    if (kind === "soft-reset") this.text("MPY: soft reboot\r\n");
    const session = await this.options.boot(kind, soft);
    // The interpreter's banner is the board's power-on banner; in raw mode (and after a restart)
    // the board shows only the raw REPL banner (or nothing: the restart's frame is already out).
    const quiet = kind === "restart" || this.modeNow === "raw";
    if (quiet) this.muted++;
    try {
      session.init();
      if (this.modeNow === "raw") session.processChar(CTRL_A);
    } finally {
      if (quiet) this.muted--;
    }
    if (kind !== "restart" && this.modeNow === "raw") this.text(RAW_BANNER);
    this.session = session;
  }
}
