/**
 * A test double of a MicroPython board's REPL (the device side), in memory: friendly and raw REPL,
 * `OK` framing, raw-paste with window flow control, soft reset, Ctrl-C. Code is "run" by a JS
 * callback. It follows the byte behaviour of MicroPython's shared/runtime/pyexec.c (non-event-driven
 * REPL, as on mimxrt) so the host client is tested without WebAssembly or hardware.
 */
import type { ByteStream } from "../byte-stream.ts";

/** The streams a fake exec writes to. */
export interface FakeExecIo {
  /** Writes to the board's stdout (at once, so the host sees output while the code "runs"). */
  print(text: string | Uint8Array): void;
  /** Aborted when the host sends Ctrl-C during the run. */
  readonly signal: AbortSignal;
}

/** Runs the code the host sent; a thrown {@link FakePyError} (or any Error) becomes a traceback. */
export type FakeExec = (code: string, io: FakeExecIo) => void | Promise<void>;

/** A Python exception for a fake exec to raise: `type: message` on the traceback's last line. */
export class FakePyError extends Error {
  constructor(
    readonly pythonType: string,
    message: string,
  ) {
    super(message);
    this.name = "FakePyError";
  }
}

/** Options of a {@link FakeReplDevice}. */
export interface FakeDeviceOptions {
  /** What runs the code; default: prints nothing. */
  exec?: FakeExec;
  /**
   * Raw-paste support: `supported` (MicroPython ≥ 1.14), `refused` (answers `R\x00`), `unknown`
   * (older firmware: `\x05A` are ordinary bytes and `\x01` reprints the banner).
   */
  rawPaste?: "supported" | "refused" | "unknown";
  /** Raw-paste flow-control window in bytes (boards: 128, half the 256-byte stdin buffer). */
  windowBytes?: number;
  /** Printed after `MPY: soft reboot` (boot.py's output). */
  bootOutput?: string;
  /** Friendly-REPL banner line. */
  banner?: string;
  /** When false, Ctrl-C does not stop a running exec (a busy loop in C). Default true. */
  interruptible?: boolean;
  /** Simulates a syntax error: the board stops reading raw-paste data after this many bytes. */
  pasteAbortAfterBytes?: number;
  /** Called on every soft reset (e.g. to reset the fake's state). */
  onSoftReset?: () => void;
}

type Mode = "friendly" | "raw" | "paste" | "paste-drain" | "busy";

const te = new TextEncoder();
const td = new TextDecoder();

/** The device side of a raw REPL, driving one end of a stream. */
export class FakeReplDevice {
  /** Every piece of code the host ran, in order. */
  readonly executed: string[] = [];
  /** Soft resets so far. */
  softResets = 0;
  /** Raw-paste bytes received beyond the credit granted (must stay 0 for a correct host). */
  windowViolations = 0;
  /** Largest number of raw-paste bytes ever outstanding beyond what the device consumed. */
  maxPasteBacklog = 0;

  private mode: Mode = "friendly";
  private line: number[] = [];
  private paste: number[] = [];
  private credited = 0;
  private arrivalCredit = 0;
  private inbox: number[] = [];
  /** For each byte in `inbox`: the raw-paste credit granted when it arrived. */
  private inboxCredit: number[] = [];
  private pumping = false;
  private abort: AbortController | null = null;
  private readonly o: Required<Omit<FakeDeviceOptions, "pasteAbortAfterBytes" | "onSoftReset">> &
    Pick<FakeDeviceOptions, "pasteAbortAfterBytes" | "onSoftReset">;

  constructor(
    private readonly stream: ByteStream,
    options: FakeDeviceOptions = {},
  ) {
    this.o = {
      exec: options.exec ?? (() => undefined),
      rawPaste: options.rawPaste ?? "supported",
      windowBytes: options.windowBytes ?? 128,
      bootOutput: options.bootOutput ?? "",
      banner:
        options.banner ?? "MicroPython v1.23.0-fake OpenMV v4.5.0; OpenMV IMXRT1060 with MIMXRT1062DVJ6A",
      interruptible: options.interruptible ?? true,
      pasteAbortAfterBytes: options.pasteAbortAfterBytes,
      onSoftReset: options.onSoftReset,
    };
    stream.onData((chunk) => this.receive(chunk));
  }

  /** Prints the friendly banner as a board does after power-up. */
  boot(): void {
    this.out(`${this.o.banner}\r\nType "help()" for more information.\r\n>>> `);
  }

  /** The REPL's current mode (for assertions). */
  get currentMode(): Mode {
    return this.mode;
  }

  private out(data: string | Uint8Array): void {
    if (this.stream.isClosed) return;
    this.stream.write(typeof data === "string" ? latin1(data) : data).catch(() => undefined);
  }

  private receive(chunk: Uint8Array): void {
    // A correct host sends raw-paste data only against credit it has seen, i.e. granted before
    // the data arrived.
    const visible = this.mode === "paste" ? this.credited : 0;
    for (const c of chunk) {
      // Ctrl-C while code runs is the interrupt character, caught before the input buffer.
      if (this.mode === "busy" && c === 0x03) this.abort?.abort();
      else {
        this.inbox.push(c);
        this.inboxCredit.push(visible);
      }
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.inbox.length > 0 && !this.stream.isClosed) {
        const c = this.inbox.shift()!;
        this.arrivalCredit = this.inboxCredit.shift()!;
        // Most bytes are handled synchronously; await only a run (keeps the fake fast).
        const running = this.step(c);
        if (running) await running;
      }
    } finally {
      this.pumping = false;
    }
  }

  private step(c: number): Promise<void> | undefined {
    switch (this.mode) {
      case "friendly":
        return this.friendly(c);
      case "raw":
        return this.raw(c);
      case "paste":
        return this.pasteByte(c);
      case "paste-drain":
        // pyexec.c mp_reader_stdin_close: after an early end, discard until Ctrl-C or Ctrl-D.
        if (c === 0x03 || c === 0x04) {
          this.mode = "busy";
          return this.frame(() => {
            throw new FakePyError("SyntaxError", "invalid syntax");
          });
        }
        return;
      case "busy":
        return;
    }
  }

  private friendly(c: number): undefined {
    if (c === 0x01) {
      this.out("\r\n");
      this.mode = "raw";
      this.out("raw REPL; CTRL-B to exit\r\n>");
    } else if (c === 0x02) {
      this.out("\r\n");
      this.boot();
    } else if (c === 0x03) {
      this.line = [];
      this.out("\r\n>>> ");
    } else if (c === 0x04) {
      this.out("\r\n");
      this.softReset();
    } else if (c === 0x0d) {
      this.line = [];
      this.out("\r\n>>> ");
    } else {
      this.line.push(c);
      this.out(Uint8Array.of(c));
    }
  }

  private raw(c: number): Promise<void> | undefined {
    if (c === 0x01) {
      const isPaste = this.line.length === 2 && this.line[0] === 0x05;
      if (isPaste && this.o.rawPaste === "supported" && this.line[1] === 0x41) {
        this.line = [];
        this.startPaste();
        return;
      }
      if (isPaste && this.o.rawPaste !== "unknown") {
        this.line = [];
        this.out("R\x00>");
        return;
      }
      this.line = [];
      this.out("raw REPL; CTRL-B to exit\r\n>");
    } else if (c === 0x02) {
      this.line = [];
      this.mode = "friendly";
      this.out("\r\n");
      this.boot();
    } else if (c === 0x03) {
      this.line = [];
    } else if (c === 0x04) {
      this.out("OK");
      if (this.line.length === 0) {
        this.out("\r\n");
        this.softReset();
        return;
      }
      const code = td.decode(Uint8Array.from(this.line));
      this.line = [];
      return this.run(code);
    } else {
      this.line.push(c);
    }
  }

  private startPaste(): void {
    const w = this.o.windowBytes;
    this.mode = "paste";
    this.paste = [];
    // The window size is one window of credit and the trailing \x01 a second (pyexec.c).
    this.credited = 2 * w;
    this.out(Uint8Array.of(0x52, 0x01, w & 0xff, w >> 8, 0x01));
  }

  private pasteByte(c: number): Promise<void> | undefined {
    if (c === 0x04 || c === 0x03) {
      this.out("\x04");
      const code = td.decode(Uint8Array.from(this.paste));
      this.paste = [];
      if (c === 0x03) {
        this.mode = "busy";
        return this.frame(() => {
          throw new FakePyError("KeyboardInterrupt", "");
        });
      }
      return this.run(code);
    }
    this.paste.push(c);
    if (this.paste.length > this.arrivalCredit) this.windowViolations++;
    this.maxPasteBacklog = Math.max(this.maxPasteBacklog, this.inbox.length + 1);
    if (this.o.pasteAbortAfterBytes !== undefined && this.paste.length >= this.o.pasteAbortAfterBytes) {
      this.out("\x04");
      this.paste = [];
      this.mode = "paste-drain";
      return;
    }
    if (this.paste.length % this.o.windowBytes === 0) {
      this.credited += this.o.windowBytes;
      this.out("\x01");
    }
  }

  private async run(code: string): Promise<void> {
    this.executed.push(code);
    this.mode = "busy";
    await this.frame((io) => this.o.exec(code, io));
  }

  /** stdout, `\x04`, traceback, `\x04`, then back to the raw REPL's `>`. */
  private async frame(body: (io: FakeExecIo) => void | Promise<void>): Promise<void> {
    const abort = new AbortController();
    this.abort = abort;
    const io: FakeExecIo = {
      print: (t) => this.out(typeof t === "string" ? te.encode(t) : t),
      signal: abort.signal,
    };
    let failure: unknown = null;
    try {
      const work = Promise.resolve().then(() => body(io));
      if (this.o.interruptible) {
        const interrupted = new Promise<never>((_, reject) => {
          const fire = (): void => reject(new FakePyError("KeyboardInterrupt", ""));
          if (abort.signal.aborted) fire();
          else abort.signal.addEventListener("abort", fire, { once: true });
        });
        interrupted.catch(() => undefined);
        await Promise.race([work, interrupted]);
      } else await work;
    } catch (e) {
      failure = e;
    }
    this.abort = null;
    this.out("\x04");
    if (failure !== null) {
      const type = failure instanceof FakePyError ? failure.pythonType : "Exception";
      const message = failure instanceof Error ? failure.message : JSON.stringify(failure);
      this.out(
        te.encode(
          `Traceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\n${type}: ${message}\r\n`,
        ),
      );
    }
    this.out("\x04>");
    this.mode = "raw";
  }

  private softReset(): void {
    this.softResets++;
    this.o.onSoftReset?.();
    this.out(`MPY: soft reboot\r\n${this.o.bootOutput}`);
    if (this.mode === "raw") this.out("raw REPL; CTRL-B to exit\r\n>");
    else this.boot();
  }
}

function latin1(s: string): Uint8Array {
  return Uint8Array.from(s, (ch) => ch.charCodeAt(0) & 0xff);
}
