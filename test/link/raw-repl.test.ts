import { describe, expect, it } from "vitest";
import { FakeTimer, RawRepl, memoryPair, BoardPythonError, withRawRepl } from "../../src/link/index.ts";
import { FakePyError, FakeReplDevice, type FakeDeviceOptions } from "../../src/link/testing/fake-device.ts";

function setup(device: FakeDeviceOptions = {}, rawPaste = true) {
  const pair = memoryPair("/dev/ttyFAKE");
  const timer = new FakeTimer();
  const board = new FakeReplDevice(pair.device, device);
  board.boot();
  const repl = new RawRepl(pair.host, { timer, rawPaste });
  return { pair, timer, board, repl };
}

const echo: FakeDeviceOptions["exec"] = (code, io) => {
  const m = /^print\((.*)\)$/s.exec(code);
  if (m) io.print(`${m[1]}\r\n`);
  if (code.startsWith("raise ")) throw new FakePyError("OSError", "[Errno 2] ENOENT");
};

describe("RawRepl over an in-memory pair and the fake board", () => {
  it("enters the raw REPL from the friendly one", async () => {
    const { repl, board } = setup();
    await repl.enter();
    expect(repl.inRawRepl).toBe(true);
    expect(board.currentMode).toBe("raw");
  });

  it("runs code by raw-paste and splits stdout from the traceback", async () => {
    const { repl, board } = setup({ exec: echo });
    await repl.enter();
    const ok = await repl.exec("print(42)");
    expect(ok).toEqual({
      stdout: "42\r\n",
      stderr: "",
      stdoutBytes: expect.any(Uint8Array) as unknown,
      mode: "raw-paste",
    });
    const bad = await repl.exec("raise OSError(2)");
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/Traceback[\s\S]*OSError: \[Errno 2\] ENOENT\r\n$/);
    expect(board.executed).toEqual(["print(42)", "raise OSError(2)"]);
    expect(repl.rawPasteSupported).toBe(true);
  });

  it("execOk throws the board's exception with its type and message", async () => {
    const { repl } = setup({ exec: echo });
    await repl.enter();
    const err = await repl.execOk("raise x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BoardPythonError);
    expect((err as BoardPythonError).pythonType).toBe("OSError");
    expect((err as BoardPythonError).pythonMessage).toBe("[Errno 2] ENOENT");
  });

  it("respects the raw-paste window for code much larger than it", async () => {
    const { repl, board } = setup({ windowBytes: 32 });
    await repl.enter();
    const code = "x = " + "1+".repeat(5000) + "1";
    const r = await repl.exec(code);
    expect(r.mode).toBe("raw-paste");
    expect(board.executed).toEqual([code]);
    expect(board.windowViolations).toBe(0);
  });

  it("falls back to classic chunks when the board refuses raw-paste (R\\x00)", async () => {
    const { repl, board } = setup({ exec: echo, rawPaste: "refused" });
    await repl.enter();
    expect((await repl.exec("print(1)")).mode).toBe("classic");
    expect(repl.rawPasteSupported).toBe(false);
    const long = "print(" + "7".repeat(1000) + ")";
    const r = await repl.exec(long);
    expect(r).toMatchObject({ stdout: "7".repeat(1000) + "\r\n", mode: "classic" });
    expect(board.executed).toEqual(["print(1)", long]);
  });

  it("falls back to classic when the board does not know raw-paste (banner echo)", async () => {
    const { repl, board } = setup({ exec: echo, rawPaste: "unknown" });
    await repl.enter();
    expect(await repl.exec("print(5)")).toMatchObject({ stdout: "5\r\n", mode: "classic" });
    expect(await repl.exec("print(6)")).toMatchObject({ stdout: "6\r\n", mode: "classic" });
    expect(board.executed).toEqual(["print(5)", "print(6)"]);
  });

  it("never tries raw-paste when told not to", async () => {
    const { repl, board } = setup({ exec: echo }, false);
    await repl.enter();
    expect((await repl.exec("print(3)")).mode).toBe("classic");
    expect(board.maxPasteBacklog).toBe(0);
  });

  it("classic mode paces 256-byte chunks 10 ms apart on the injected timer", async () => {
    const { repl, timer } = setup({ rawPaste: "refused" });
    await repl.enter();
    const t0 = timer.nowMs();
    await repl.exec("#" + "x".repeat(1023));
    expect(timer.nowMs() - t0).toBe(40);
  });

  it("soft-resets and returns boot output", async () => {
    let resets = 0;
    const { repl, board } = setup({ bootOutput: "boot.py ran\r\n", onSoftReset: () => resets++ });
    await repl.enter({ softReset: true });
    expect(board.softResets).toBe(1);
    expect(await repl.softReset()).toBe("boot.py ran\r\n");
    expect(resets).toBe(2);
    expect(repl.inRawRepl).toBe(true);
  });

  it("an interrupt during a long exec ends it with KeyboardInterrupt", async () => {
    const { repl, timer } = setup({
      exec: async (_code, io) => {
        io.print("started\r\n");
        await timer.sleep(60_000);
      },
    });
    await repl.enter();
    const run = repl.exec("while True: pass", { timeoutMs: 120_000 });
    await timer.sleep(5);
    await repl.interrupt();
    const r = await run;
    expect(r.stdout).toBe("started\r\n");
    expect(r.stderr).toMatch(/KeyboardInterrupt/);
  });

  it("the board ending raw-paste early (a syntax error) is acknowledged and reported", async () => {
    const { repl } = setup({ pasteAbortAfterBytes: 300 });
    await repl.enter();
    const r = await repl.exec("y=(" + "9".repeat(2000));
    expect(r.stderr).toMatch(/SyntaxError: invalid syntax/);
    expect(repl.inRawRepl).toBe(true);
  });

  it("exits to the friendly REPL", async () => {
    const { repl, board } = setup();
    await repl.enter();
    await repl.exitRaw();
    await Promise.resolve();
    await new Promise((r) => setImmediate(r));
    expect(board.currentMode).toBe("friendly");
  });
});

describe("RawRepl guards and helpers", () => {
  it("refuses code holding raw-REPL control bytes instead of breaking the frame", async () => {
    const { repl, board } = setup({ exec: echo });
    await repl.enter();
    await expect(repl.exec("x = '\x04'")).rejects.toThrow(
      /byte 0x04 at offset 5, which would end the raw-REPL frame/,
    );
    expect(repl.inRawRepl).toBe(true);
    expect(board.executed).toEqual([]);
  });

  it("withRawRepl closes the stream after success and after a fault", async () => {
    const a = setup({ exec: echo });
    expect(
      await withRawRepl(a.pair.host, { timer: a.timer }, async (r) => (await r.exec("print(9)")).stdout),
    ).toBe("9\r\n");
    expect(a.pair.host.end).toEqual({ reason: "closed" });
    const b = setup({ exec: () => new Promise(() => undefined), interruptible: false });
    await expect(withRawRepl(b.pair.host, { timer: b.timer }, (r) => r.exec("hang()"))).rejects.toMatchObject(
      { code: "timeout" },
    );
    expect(b.pair.host.isClosed).toBe(true);
  });
});
