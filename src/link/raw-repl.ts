/**
 * The host side of MicroPython's raw REPL and raw-paste mode, as mpremote speaks it
 * (tools/mpremote/mpremote/transport_serial.py; device side in shared/runtime/pyexec.c). Our own
 * code, written from those behaviours; see README.md in this folder for the frame summary.
 */
import type { ByteStream } from "./byte-stream.ts";
import { BoardPythonError } from "./board-python-error.ts";
import { LinkError, seconds, type LinkErrorCode } from "./link-error.ts";
import { realTimer } from "./real-timer.ts";
import { ReceiveQueue, type ReadResult } from "./receive-queue.ts";
import type { LinkTimer } from "./timer.ts";

const CTRL_A = 0x01;
const CTRL_D = 0x04;
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const BANNER = ascii("raw REPL; CTRL-B to exit\r\n");
const BANNER_PROMPT = ascii("raw REPL; CTRL-B to exit\r\n>");
/** What a device without raw-paste sends after the `ra` already read: its raw-REPL banner again. */
const BANNER_REST = ascii("w REPL; CTRL-B to exit\r\n>");
const SOFT_REBOOT = ascii("soft reboot\r\n");
const EOT = Uint8Array.of(CTRL_D);
const PROMPT = ascii(">");
const utf8 = new TextDecoder();

/** Options of a {@link RawRepl}; times in milliseconds. */
export interface RawReplOptions {
  /** Time source for every timeout and the classic-mode pacing; default the real timer. */
  timer?: LinkTimer;
  /** Longest wait for a banner, a prompt or a flow-control byte (mpremote: 10 s). */
  promptTimeoutMs?: number;
  /** Longest silence while code runs, unless `exec` says otherwise (mpremote: 10 s). */
  execTimeoutMs?: number;
  /** Longest a single write may take (mpremote's serial write timeout: 5 s). */
  writeTimeoutMs?: number;
  /** After Ctrl-C for a timed-out exec: how long the board has to finish the frame. */
  interruptGraceMs?: number;
  /** Wait after `\r\x03` before draining old output, default 10. */
  settleMs?: number;
  /** Try raw-paste first (default true); false always sends classic chunks. */
  rawPaste?: boolean;
  /** Classic raw mode: bytes per chunk (mpremote: 256). */
  classicChunkBytes?: number;
  /** Classic raw mode: pause after each chunk (mpremote: 10 ms). */
  classicChunkDelayMs?: number;
  /**
   * The most bytes one read gathers without its end (a banner, a prompt, a frame's `\x04`): a board
   * or a line that never ends a frame is a `frame` error, not an ever-growing buffer. Default 64 MiB.
   */
  maxFrameBytes?: number;
}

/** Options of one {@link RawRepl.exec}; times in milliseconds. */
export interface ExecOptions {
  /** Longest silence from the board while the code runs; then Ctrl-C and a `timeout` error. */
  timeoutMs?: number;
  /** Longest the whole run may take, output or not. */
  totalTimeoutMs?: number;
}

/** What a piece of code printed on the board. */
export interface ExecResult {
  /** Standard output, UTF-8 decoded (line ends as the board sent them: `\r\n` on a board). */
  stdout: string;
  /** The traceback, when the code raised; empty otherwise. */
  stderr: string;
  stdoutBytes: Uint8Array;
  /** How the code travelled. */
  mode: "raw-paste" | "classic";
}

type ReplState = "unknown" | "raw" | "friendly" | "closed";

/**
 * A MicroPython raw REPL over any {@link ByteStream}. Calls are sequential: await one before the
 * next (except {@link RawRepl.interrupt}, which may be sent while an exec runs).
 */
export class RawRepl {
  private readonly timer: LinkTimer;
  private readonly queue: ReceiveQueue;
  private readonly o: Required<Omit<RawReplOptions, "timer">>;
  private state: ReplState = "unknown";
  private pasteSupport: boolean | undefined;

  constructor(
    readonly stream: ByteStream,
    options: RawReplOptions = {},
  ) {
    this.timer = options.timer ?? realTimer;
    this.queue = new ReceiveQueue(stream, this.timer);
    this.o = {
      promptTimeoutMs: options.promptTimeoutMs ?? 10_000,
      execTimeoutMs: options.execTimeoutMs ?? 10_000,
      writeTimeoutMs: options.writeTimeoutMs ?? 5_000,
      interruptGraceMs: options.interruptGraceMs ?? 2_000,
      settleMs: options.settleMs ?? 10,
      rawPaste: options.rawPaste ?? true,
      classicChunkBytes: options.classicChunkBytes ?? 256,
      classicChunkDelayMs: options.classicChunkDelayMs ?? 10,
      maxFrameBytes: options.maxFrameBytes ?? 64 * 1024 * 1024,
    };
    if (!this.o.rawPaste) this.pasteSupport = false;
  }

  /**
   * Opens a raw REPL on `stream` (optionally with a soft reset) and returns it; on failure the
   * stream is closed before the error is thrown, so a port is never left held.
   */
  static async connect(
    stream: ByteStream,
    options: RawReplOptions & { softReset?: boolean } = {},
  ): Promise<RawRepl> {
    const repl = new RawRepl(stream, options);
    try {
      await repl.enter({ softReset: options.softReset ?? false });
      return repl;
    } catch (e) {
      await repl.close();
      throw e;
    }
  }

  /** The port or stream name. */
  get port(): string {
    return this.stream.name;
  }

  /** Whether the board accepted raw-paste; undefined until the first exec tried it. */
  get rawPasteSupported(): boolean | undefined {
    return this.pasteSupport;
  }

  /** True after a successful `enter` and until a fault leaves the board's state unknown. */
  get inRawRepl(): boolean {
    return this.state === "raw";
  }

  /**
   * Interrupts whatever runs (`\r\x03`), drains old output, asks for the raw REPL (`\r\x01`) and
   * waits for `raw REPL; CTRL-B to exit\r\n>`; then optionally soft-resets.
   */
  async enter(options: { softReset?: boolean } = {}): Promise<void> {
    this.ensureOpen();
    this.state = "unknown";
    await this.send(ascii("\r\x03"), "`\\r\\x03` (interrupt)");
    await this.timer.sleep(this.o.settleMs);
    this.queue.drain();
    await this.send(ascii("\r\x01"), "`\\r\\x01` (enter raw REPL)");
    const r = await this.queue.readUntil(BANNER_PROMPT, {
      totalTimeoutMs: this.o.promptTimeoutMs,
      maxBytes: this.o.maxFrameBytes,
    });
    if (r.end !== "found") throw this.promptFailure(r, "`\\r\\x01`", "the raw REPL banner");
    this.state = "raw";
    if (options.softReset) await this.softReset();
  }

  /**
   * Soft reset from the raw REPL (`\x04` on an empty line): the board prints `OK`, `MPY: soft
   * reboot`, runs boot.py, and comes back to the raw REPL. Returns what it printed in between (boot
   * output). Not a power cut: the board runs finalisers, so open files are closed.
   */
  async softReset(): Promise<string> {
    this.requireRaw("softReset");
    this.state = "unknown";
    await this.send(EOT, "`\\x04` (soft reset)");
    const limits = { totalTimeoutMs: this.o.promptTimeoutMs, maxBytes: this.o.maxFrameBytes };
    const reboot = await this.queue.readUntil(SOFT_REBOOT, limits);
    if (reboot.end !== "found") throw this.promptFailure(reboot, "`\\x04` (soft reset)", "`soft reboot`");
    const boot = await this.queue.readUntil(BANNER, limits);
    if (boot.end !== "found") throw this.promptFailure(boot, "the soft reboot", "the raw REPL banner");
    const prompt = await this.queue.readBytes(1, limits);
    if (prompt.end !== "found" || prompt.data[0] !== PROMPT[0])
      throw this.promptFailure(prompt, "the soft reboot", "the `>` prompt");
    this.state = "raw";
    return utf8.decode(boot.data.subarray(0, boot.data.length - BANNER.length));
  }

  /**
   * Runs `code` and returns what it printed; a Python exception is returned in `stderr`, not
   * thrown (see {@link RawRepl.execOk}). Uses raw-paste when the board supports it, else classic
   * raw mode. A timeout sends Ctrl-C and throws a `timeout` LinkError whose `recovered` says
   * whether the REPL came back.
   */
  async exec(code: string | Uint8Array, options: ExecOptions = {}): Promise<ExecResult> {
    this.requireRaw("exec");
    const bytes = typeof code === "string" ? new TextEncoder().encode(code) : code;
    const control = bytes.findIndex((b) => b >= CTRL_A && b <= CTRL_D);
    if (control >= 0)
      throw new Error(
        `RawRepl.exec on ${this.port}: the code holds byte 0x0${bytes[control]} at offset ${control}, which would end the raw-REPL frame; put data in escaped literals (pyBytesLiteral)`,
      );
    this.state = "unknown";
    let mode: ExecResult["mode"] = "classic";
    if (this.pasteSupport !== false) {
      if (await this.tryRawPaste()) mode = "raw-paste";
    }
    if (mode === "raw-paste") await this.writeRawPaste(bytes);
    else await this.writeClassic(bytes);
    const { stdout, stderr } = await this.follow(options);
    this.state = "raw";
    return { stdout: utf8.decode(stdout), stderr: utf8.decode(stderr), stdoutBytes: stdout, mode };
  }

  /** Like {@link RawRepl.exec}, but a Python exception throws {@link BoardPythonError}; returns stdout. */
  async execOk(code: string | Uint8Array, options: ExecOptions = {}): Promise<string> {
    const r = await this.exec(code, options);
    if (r.stderr !== "") throw new BoardPythonError(this.port, r.stdout, r.stderr);
    return r.stdout;
  }

  /** Sends Ctrl-C: a running exec then ends with `KeyboardInterrupt` in its stderr. */
  async interrupt(): Promise<void> {
    this.ensureOpen();
    await this.send(Uint8Array.of(0x03), "`\\x03` (interrupt)");
  }

  /** Leaves the raw REPL for the friendly one (`\r\x02`); the board prints its banner. */
  async exitRaw(): Promise<void> {
    this.ensureOpen();
    await this.send(ascii("\r\x02"), "`\\r\\x02` (exit raw REPL)");
    this.state = "friendly";
  }

  /** Closes the stream (releases the port); safe to call more than once, never throws. */
  async close(): Promise<void> {
    this.state = "closed";
    try {
      await this.stream.close();
    } catch {
      // Closing is best effort: the port is released by the implementation either way.
    }
  }

  // --- framing -------------------------------------------------------------------------------

  /** `\x05A\x01` → `R\x01` (raw-paste on), `R\x00` (refused) or the banner again (unknown). */
  private async tryRawPaste(): Promise<boolean> {
    await this.send(ascii("\x05A\x01"), "`\\x05A\\x01` (raw-paste request)");
    const limits = { totalTimeoutMs: this.o.promptTimeoutMs, maxBytes: this.o.maxFrameBytes };
    const r = await this.queue.readBytes(2, limits);
    if (r.end !== "found") throw this.promptFailure(r, "`\\x05A\\x01`", "the raw-paste answer");
    if (r.data[0] === 0x52 && r.data[1] === 0x01) {
      this.pasteSupport = true;
      return true;
    }
    this.pasteSupport = false;
    if (r.data[0] === 0x52 && r.data[1] === 0x00) {
      // pyexec.c prints `>` again after refusing.
      const p = await this.queue.readUntil(PROMPT, limits);
      if (p.end !== "found" || p.data.length !== 1) throw this.promptFailure(p, "`R\\x00`", "the `>` prompt");
      return false;
    }
    // A raw REPL without raw-paste treats \x01 as "reset the raw REPL" and prints its banner.
    const rest = await this.queue.readUntil(BANNER_REST, limits);
    if (rest.end !== "found")
      throw this.promptFailure(
        { data: concat(r.data, rest.data), end: rest.end },
        "`\\x05A\\x01`",
        "`R\\x01`, `R\\x00` or the raw REPL banner",
      );
    return false;
  }

  /** Raw-paste: a u16le window, `\x01` per freed window, `\x04` to end (or from the board: abort). */
  private async writeRawPaste(code: Uint8Array): Promise<void> {
    const limits = { totalTimeoutMs: this.o.promptTimeoutMs, maxBytes: this.o.maxFrameBytes };
    const w = await this.queue.readBytes(2, limits);
    if (w.end !== "found") throw this.promptFailure(w, "`R\\x01`", "the raw-paste window size");
    const window = w.data[0] | (w.data[1] << 8);
    if (window === 0) throw this.frameError("a raw-paste window of 0 bytes", w.data);
    let credit = window;
    for (let i = 0; i < code.length;) {
      while (credit === 0 || this.queue.available() > 0) {
        const r = await this.queue.readBytes(1, limits);
        if (r.end !== "found")
          throw this.promptFailure(r, "sending raw-paste data", "a flow-control byte (`\\x01`)");
        if (r.data[0] === CTRL_A) credit += window;
        else if (r.data[0] === CTRL_D) {
          // The board ended the paste early (it stopped reading: a syntax error); acknowledge.
          await this.send(EOT, "`\\x04` (raw-paste abort acknowledgement)");
          return;
        } else throw this.frameError("an unexpected byte during raw-paste", r.data);
      }
      const n = Math.min(credit, code.length - i);
      await this.send(code.subarray(i, i + n), "raw-paste data");
      credit -= n;
      i += n;
    }
    await this.send(EOT, "`\\x04` (end of raw-paste data)");
    const ack = await this.queue.readUntil(EOT, limits);
    if (ack.end !== "found") throw this.promptFailure(ack, "the end of raw-paste data", "`\\x04`");
    if (ack.data.subarray(0, -1).some((b) => b !== CTRL_A))
      throw this.frameError("unexpected bytes before the raw-paste acknowledgement", ack.data);
  }

  /** Classic raw mode: chunks with a pause (the board's UART buffer is small), `\x04`, then `OK`. */
  private async writeClassic(code: Uint8Array): Promise<void> {
    const step = this.o.classicChunkBytes;
    for (let i = 0; i < code.length; i += step) {
      await this.send(code.subarray(i, i + step), "code");
      await this.timer.sleep(this.o.classicChunkDelayMs);
    }
    await this.send(EOT, "`\\x04` (end of code)");
    const ok = await this.queue.readBytes(2, {
      totalTimeoutMs: this.o.promptTimeoutMs,
      maxBytes: this.o.maxFrameBytes,
    });
    if (ok.end !== "found") throw this.promptFailure(ok, "sending code", "`OK`");
    if (ok.data[0] !== 0x4f || ok.data[1] !== 0x4b) throw this.frameError("no `OK` after the code", ok.data);
  }

  /** Output frame: stdout, `\x04`, stderr, `\x04`, `>`. */
  private async follow(options: ExecOptions): Promise<{ stdout: Uint8Array; stderr: Uint8Array }> {
    const limits = {
      idleTimeoutMs: options.timeoutMs ?? this.o.execTimeoutMs,
      totalTimeoutMs: options.totalTimeoutMs,
      maxBytes: this.o.maxFrameBytes,
    };
    const out = await this.queue.readUntil(EOT, limits);
    if (out.end === "overflow") throw this.overflowError("the code's stdout", out.data);
    if (out.end !== "found") return this.failedRun(out, limits.idleTimeoutMs, "stdout");
    const err = await this.queue.readUntil(EOT, limits);
    if (err.end === "overflow") throw this.overflowError("the code's traceback", err.data);
    if (err.end !== "found") return this.failedRun(err, limits.idleTimeoutMs, "stderr", out.data);
    const prompt = await this.queue.readBytes(1, {
      totalTimeoutMs: this.o.promptTimeoutMs,
      maxBytes: this.o.maxFrameBytes,
    });
    if (prompt.end !== "found") throw this.promptFailure(prompt, "the code's output", "the `>` prompt");
    if (prompt.data[0] !== PROMPT[0]) throw this.frameError("no `>` prompt after the output", prompt.data);
    return { stdout: out.data.subarray(0, -1), stderr: err.data.subarray(0, -1) };
  }

  /** A run that went quiet (or lost the line): Ctrl-C, let the board finish the frame, report. */
  private async failedRun(
    r: ReadResult,
    timeoutMs: number,
    part: "stdout" | "stderr",
    stdout?: Uint8Array,
  ): Promise<never> {
    const printed = part === "stdout" ? r.data : (stdout ?? new Uint8Array()).subarray(0, -1);
    if (r.end === "closed")
      throw this.disconnectedError("while the code ran", { partialStdout: utf8.decode(printed) });
    await this.send(Uint8Array.of(0x03), "`\\x03` (interrupt after a timeout)");
    const grace = { totalTimeoutMs: this.o.interruptGraceMs, maxBytes: this.o.maxFrameBytes };
    let recovered = false;
    const rest = part === "stdout" ? await this.queue.readUntil(EOT, grace) : { end: "found" as const };
    if (rest.end === "found") {
      const err = await this.queue.readUntil(EOT, grace);
      if (err.end === "found") {
        const p = await this.queue.readBytes(1, grace);
        recovered = p.end === "found" && p.data[0] === PROMPT[0];
      }
    }
    if (recovered) this.state = "raw";
    const silence = seconds(timeoutMs);
    throw new LinkError({
      code: "timeout",
      port: this.port,
      what: `no output from ${this.port} for ${silence} while running code (sent Ctrl-C: ${
        recovered ? "the board stopped it and the raw REPL is back" : "no answer to it either"
      })`,
      hint: recovered
        ? "the code took longer than the timeout: raise the timeout, or look for a loop that waits forever (a blocked sensor, a full card, a sleep)"
        : "the board is stuck or reset (a busy loop Ctrl-C cannot break, a crash, a watchdog): reset or power-cycle it, then reconnect",
      partialStdout: utf8.decode(printed),
      recovered,
    });
  }

  // --- writes and errors ----------------------------------------------------------------------

  /** Writes with the write timeout; every failure becomes a LinkError. */
  private async send(bytes: Uint8Array, what: string): Promise<void> {
    if (this.queue.streamEnd || this.stream.isClosed) throw this.disconnectedError(`before sending ${what}`);
    let cancel: () => void = () => undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      cancel = this.timer.schedule(this.o.writeTimeoutMs, () => resolve("timeout"));
    });
    const write = this.stream.write(bytes).then(() => "done" as const);
    write.catch(() => undefined);
    try {
      const r = await Promise.race([write, timeout]);
      if (r === "timeout")
        throw new LinkError({
          code: "write-timeout",
          port: this.port,
          what: `writing ${what} to ${this.port} did not finish within ${seconds(this.o.writeTimeoutMs)}`,
          hint: "is the board still connected and reading (a board that hangs stops draining the USB endpoint)?",
        });
    } catch (e) {
      if (e instanceof LinkError && e.code === "write-timeout") throw e;
      throw this.disconnectedError(`while sending ${what}`, { cause: e });
    } finally {
      cancel();
    }
  }

  private promptFailure(r: ReadResult, after: string, expected: string): LinkError {
    if (r.end === "overflow") return this.overflowError(`${expected} after ${after}`, r.data);
    if (r.end === "closed")
      return this.disconnectedError(`while waiting for ${expected} after ${after}`, { received: r.data });
    const code: LinkErrorCode = r.data.length === 0 ? "no-answer" : "garbage";
    const serial = this.stream.baud !== undefined;
    const baud = serial
      ? `is the baud 115200${this.stream.baud === 115200 ? "" : ` (this link: ${this.stream.baud})`}`
      : "does it speak MicroPython's REPL on its stdio";
    const holders = serial ? ", is another program (OpenMV IDE, screen, mpremote) holding the port" : "";
    return new LinkError({
      code,
      port: this.port,
      what:
        code === "no-answer"
          ? `no answer from ${this.port} within ${seconds(this.o.promptTimeoutMs)} after ${after}`
          : `unexpected bytes from ${this.port} while waiting for ${expected} after ${after}`,
      hint:
        code === "no-answer"
          ? `is the board running MicroPython${holders}, ${baud}?`
          : `${baud} (921600 and 12000000 speak OpenMV's debug protocol), is the board running MicroPython${holders}?`,
      received: code === "garbage" ? r.data : undefined,
    });
  }

  /** More than `maxFrameBytes` arrived while waiting for the end of `what`. */
  private overflowError(what: string, received: Uint8Array): LinkError {
    return this.frameError(
      `${received.length} bytes without the end of ${what} (at most ${this.o.maxFrameBytes} bytes are read while waiting for it; expected \`\\x04\` or the prompt)`,
      received,
    );
  }

  private frameError(what: string, received: Uint8Array): LinkError {
    this.state = "unknown";
    return new LinkError({
      code: "frame",
      port: this.port,
      what: `garbled raw-REPL frame from ${this.port}: ${what}`,
      hint: "is another program writing to the port, or is the line noisy? Reconnect (enter() again) to resynchronise",
      received,
    });
  }

  private disconnectedError(
    when: string,
    extra: { received?: Uint8Array; partialStdout?: string; cause?: unknown } = {},
  ): LinkError {
    const end = this.queue.streamEnd;
    const detail = end?.detail ? ` (${end.detail})` : "";
    const closedByUs = end?.reason === "closed" || this.state === "closed";
    this.state = closedByUs ? "closed" : "unknown";
    return new LinkError({
      code: "disconnected",
      port: this.port,
      what: closedByUs ? `${this.port} was closed ${when}` : `${this.port} disconnected ${when}${detail}`,
      hint: closedByUs
        ? "the link was closed by this program; open a new one"
        : "was the board unplugged or reset (machine.reset(), a crash, a watchdog, the power switch)? Check the cable and reconnect",
      ...extra,
      received: extra.received && extra.received.length > 0 ? extra.received : undefined,
    });
  }

  private ensureOpen(): void {
    if (this.state === "closed") throw new Error(`RawRepl on ${this.port} is closed`);
  }

  private requireRaw(call: string): void {
    this.ensureOpen();
    if (this.state !== "raw")
      throw new Error(
        `RawRepl.${call} on ${this.port}: not in the raw REPL (call enter() first, or again after a fault)`,
      );
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
