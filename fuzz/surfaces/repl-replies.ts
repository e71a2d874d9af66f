/**
 * Raw-REPL replies from the board, damaged on their way to the host (src/link): a session (enter,
 * optionally soft reset, a short exec, an exec longer than the raw-paste window, a traceback, an
 * upload with its sha256 check) runs against `FakeReplDevice` over `memoryPair`, and every chunk the
 * device sends may be garbled (bits flipped, bytes set), cut (dropped, truncated), interleaved with
 * other frames' bytes (a banner, `OK`, `\x04>`, `R\x01`, flow-control bytes), duplicated, made
 * oversize (KiBs without a frame end), or be the last the board ever sends (silence, or the cable
 * pulled). Time is a `FakeTimer` (auto-advance), so no timeout waits.
 *
 * A session must end in success, or in a `LinkError` / `BoardPythonError` whose message names the
 * port and says what was expected; any other exception, an unhandled rejection, or a session that
 * never settles (nothing pending on the timer and no bytes in flight) is a crash or a hang.
 */
import fc from "fast-check";
import {
  BoardPythonError,
  FakeTimer,
  LinkError,
  memoryPair,
  RawRepl,
  uploadFile,
  type ByteStream,
  type StreamEnd,
} from "../../src/link/index.ts";
import { FakePyError, FakeReplDevice, fakeFilesExec, type FakeFiles } from "../../src/link/testing/index.ts";
import { HangError, type Surface } from "./harness.ts";

const PORT = "/dev/ttyFUZZ0";
/** The host's frame limit in this campaign (small, so oversize replies reach it). */
export const FUZZ_MAX_FRAME_BYTES = 8192;

const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const PIECES = [
  "raw REPL; CTRL-B to exit\r\n>",
  "OK",
  "\x04",
  "\x04>",
  "\x04\x04>",
  "R\x01\x80\x00\x01",
  "R\x00",
  "\x01",
  "MPY: soft reboot\r\n",
  "Traceback (most recent call last):\r\n",
  ">>> ",
].map(latin1);

type Edit =
  | { op: "flip"; at: number; bit: number }
  | { op: "set"; at: number; v: number }
  | { op: "drop"; at: number; len: number }
  | { op: "truncate"; at: number }
  | { op: "insert"; at: number; piece: number }
  | { op: "dup" }
  | { op: "oversize"; kib: number; fill: number }
  | { op: "silence" }
  | { op: "hangup" };

export interface ReplCase {
  rawPaste: "supported" | "refused" | "unknown";
  softReset: boolean;
  /** Edits by the index of the device's write they apply to. */
  edits: { chunk: number; edit: Edit }[];
}

const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), v: fc.nat(255) }),
  fc.record({ op: fc.constant("drop" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), piece: fc.nat(PIECES.length - 1) }),
  fc.record({ op: fc.constant("dup" as const) }),
  fc.record({
    op: fc.constant("oversize" as const),
    kib: fc.integer({ min: 1, max: 24 }),
    fill: fc.nat(255),
  }),
  fc.record({ op: fc.constant("silence" as const) }),
  fc.record({ op: fc.constant("hangup" as const) }),
);

function applyEdit(chunk: Uint8Array, e: Edit): Uint8Array {
  const at = chunk.length ? (e as { at?: number }).at! % chunk.length : 0;
  switch (e.op) {
    case "flip": {
      const out = chunk.slice();
      if (out.length) out[at] ^= 1 << e.bit;
      return out;
    }
    case "set": {
      const out = chunk.slice();
      if (out.length) out[at] = e.v;
      return out;
    }
    case "drop":
      return Uint8Array.from([...chunk.subarray(0, at), ...chunk.subarray(at + e.len)]);
    case "truncate":
      return chunk.slice(0, at);
    case "insert":
      return Uint8Array.from([...chunk.subarray(0, at), ...PIECES[e.piece], ...chunk.subarray(at)]);
    case "dup":
      return Uint8Array.from([...chunk, ...chunk]);
    case "oversize": {
      // KiBs of output that never ends the frame (the fill avoids the frame bytes \x01-\x04 and `>`).
      const fill = e.fill >= 1 && e.fill <= 4 ? 0x78 : e.fill === 0x3e ? 0x79 : e.fill;
      return Uint8Array.from([...chunk, ...new Uint8Array(e.kib * 1024).fill(fill)]);
    }
    case "silence":
    case "hangup":
      return chunk;
  }
}

/** The host's view of the device end: every chunk the device sent, through the case's edits. */
class DamagedLine implements ByteStream {
  readonly name: string;
  private index = 0;
  private silent = false;

  constructor(
    private readonly inner: ByteStream,
    private readonly edits: Map<number, Edit[]>,
    private readonly hangUp: () => void,
  ) {
    this.name = inner.name;
  }

  get closed(): Promise<StreamEnd> {
    return this.inner.closed;
  }
  get isClosed(): boolean {
    return this.inner.isClosed;
  }
  get end(): StreamEnd | null {
    return this.inner.end;
  }
  write(bytes: Uint8Array): Promise<void> {
    return this.inner.write(bytes);
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  onData(receiver: (chunk: Uint8Array) => void): void {
    this.inner.onData((chunk) => {
      if (this.silent) return;
      let out = chunk;
      for (const e of this.edits.get(this.index++) ?? []) {
        if (e.op === "silence") this.silent = true;
        if (e.op === "hangup") {
          this.silent = true;
          queueMicrotask(this.hangUp);
        }
        out = applyEdit(out, e);
      }
      if (out.length) receiver(out);
    });
  }
}

/** Whether an error is the link's answer to a bad reply: typed, naming the port, saying what was expected. */
export function isCleanLinkFailure(e: unknown): boolean {
  if (e instanceof BoardPythonError) return e.message.includes(PORT);
  return e instanceof LinkError && e.port === PORT && e.message.includes(PORT) && e.hint.length > 0;
}

/**
 * Awaits `work`, turning a deadlock into a HangError: nothing pending on the fake timer, and no
 * progress for many turns of the event loop (the in-memory bytes travel as microtasks, so a session
 * that still runs always has a timer or a byte in flight). Virtual time past an hour is a hang too.
 */
async function settleOrHang<T>(work: Promise<T>, timer: FakeTimer): Promise<T> {
  let done = false;
  const tracked = work.finally(() => (done = true));
  tracked.catch(() => undefined);
  let idle = 0;
  while (!done) {
    await new Promise<void>((r) => setImmediate(r));
    idle = timer.pendingCount === 0 ? idle + 1 : 0;
    if (idle > 50) throw new HangError("the session waits with no timer pending and no byte in flight");
    if (timer.nowMs() > 3_600_000) throw new HangError("over an hour of virtual time");
  }
  return tracked;
}

export function replSurface(): Surface<ReplCase> & { stats: Map<string, number> } {
  /** Sessions by outcome: `ok`, a LinkError's code, or `BoardPythonError` (a test checks the spread). */
  const stats = new Map<string, number>();
  const payload = Uint8Array.from({ length: 700 }, (_, i) => (i * 29) & 0xff);
  const longCode = `print('${"x".repeat(300)}')`;
  return {
    stats,
    name: "raw-REPL replies (src/link)",
    arbitrary: fc.record({
      rawPaste: fc.constantFrom("supported" as const, "refused" as const, "unknown" as const),
      softReset: fc.boolean(),
      edits: fc.array(fc.record({ chunk: fc.nat(60), edit: editArb }), { minLength: 0, maxLength: 4 }),
    }),
    run: async (c) => {
      const timer = new FakeTimer();
      const pair = memoryPair(PORT);
      const files: FakeFiles = new Map();
      const onFiles = fakeFilesExec(files);
      const device = new FakeReplDevice(pair.device, {
        rawPaste: c.rawPaste,
        bootOutput: "boot.py ran\r\n",
        exec: (code, io) => {
          if (code.startsWith("raise ")) throw new FakePyError("OSError", "[Errno 5] EIO");
          if (code.startsWith("print(")) return void io.print(`${code.length}\r\n`);
          return onFiles(code, io);
        },
      });
      device.boot();
      const edits = new Map<number, Edit[]>();
      for (const { chunk, edit } of c.edits) edits.set(chunk, [...(edits.get(chunk) ?? []), edit]);
      const line = new DamagedLine(pair.host, edits, () => pair.disconnect("fuzz: cable pulled"));
      const unhandled: unknown[] = [];
      const onUnhandled = (e: unknown): void => void unhandled.push(e);
      process.on("unhandledRejection", onUnhandled);
      const session = async (): Promise<void> => {
        const repl = await RawRepl.connect(line, {
          timer,
          softReset: c.softReset,
          maxFrameBytes: FUZZ_MAX_FRAME_BYTES,
        });
        try {
          const a = await repl.exec("print('ok')");
          const b = await repl.exec(longCode);
          const e = await repl.exec("raise OSError(5)");
          await uploadFile(repl, payload, "/x.bin");
          // Nothing checks a reply's bytes (the protocol has no checksum), but their shapes hold.
          for (const r of [a, b, e])
            if (typeof r.stdout !== "string" || typeof r.stderr !== "string")
              throw new Error("exec result shape");
        } finally {
          await repl.close();
        }
      };
      let verdict: "ok" | "rejected" | { error: unknown };
      try {
        await settleOrHang(session(), timer);
        verdict = "ok";
      } catch (e) {
        verdict = isCleanLinkFailure(e) ? "rejected" : { error: e };
        if (verdict === "rejected") {
          const k = e instanceof LinkError ? e.code : "BoardPythonError";
          stats.set(k, (stats.get(k) ?? 0) + 1);
        }
      }
      if (verdict === "ok") stats.set("ok", (stats.get("ok") ?? 0) + 1);
      await new Promise<void>((r) => setImmediate(r));
      process.off("unhandledRejection", onUnhandled);
      if (unhandled.length) throw new Error(`unhandled rejection: ${String(unhandled[0])}`);
      if (typeof verdict === "object") throw verdict.error;
      return verdict;
    },
    show: (c) => JSON.stringify(c),
  };
}
