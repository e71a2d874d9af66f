import { describe, expect, it } from "vitest";
import { FakeTimer, LinkError, RawRepl, memoryPair, type ByteStream } from "../../src/link/index.ts";
import { FakeReplDevice } from "../../src/link/testing/index.ts";

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** A device end that answers every chunk it receives with `reply(chunk)`. */
function responder(device: ByteStream, reply: (chunk: Uint8Array) => string | undefined): void {
  device.onData((chunk) => {
    const r = reply(chunk);
    if (r !== undefined) void device.write(ascii(r));
  });
}

async function failure(p: Promise<unknown>): Promise<LinkError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(LinkError);
  return e as LinkError;
}

describe("serial faults give typed errors naming the port and what to check", () => {
  it("no answer at all: 10 s after \\r\\x01 (on the fake timer), and the stream is released", async () => {
    const pair = memoryPair("/dev/ttyACM0");
    const timer = new FakeTimer();
    const e = await failure(RawRepl.connect(pair.host, { timer }));
    expect(e.code).toBe("no-answer");
    expect(e.port).toBe("/dev/ttyACM0");
    expect(e.message).toBe(
      "no answer from /dev/ttyACM0 within 10 s after `\\r\\x01`: is the board running MicroPython, does it speak MicroPython's REPL on its stdio?",
    );
    expect(timer.nowMs()).toBeGreaterThanOrEqual(10_000);
    expect(pair.host.isClosed).toBe(true);
  });

  it("garbage on the line (wrong baud): shows the first bytes escaped", async () => {
    const pair = memoryPair("/dev/ttyACM0");
    responder(pair.device, () => "\xf0\x0f\xff\x80\x00~\r\n");
    const e = await failure(RawRepl.connect(pair.host, { timer: new FakeTimer() }));
    expect(e.code).toBe("garbage");
    expect(e.message).toContain('"\\xf0\\x0f\\xff\\x80\\x00~\\r\\n');
    expect(e.message).toContain("unexpected bytes from /dev/ttyACM0 while waiting for the raw REPL banner");
    expect(e.received?.length).toBeGreaterThan(0);
  });

  it("hints name the baud of a serial stream", async () => {
    const pair = memoryPair("/dev/ttyACM0");
    const serialish: ByteStream = Object.assign(Object.create(pair.host) as ByteStream, { baud: 9600 });
    const e = await failure(new RawRepl(serialish, { timer: new FakeTimer() }).enter());
    expect(e.message).toContain("is another program (OpenMV IDE, screen, mpremote) holding the port");
    expect(e.message).toContain("is the baud 115200 (this link: 9600)?");
  });

  it("a disconnect mid-exec keeps what was printed", async () => {
    const pair = memoryPair("/dev/ttyACM0");
    const timer = new FakeTimer();
    new FakeReplDevice(pair.device, {
      exec: async (_code, io) => {
        io.print("step 1 done\r\n");
        await timer.sleep(100);
        pair.disconnect("USB cable pulled");
      },
    });
    const repl = await RawRepl.connect(pair.host, { timer });
    const e = await failure(repl.exec("run()"));
    expect(e.code).toBe("disconnected");
    expect(e.message).toMatch(
      /^\/dev\/ttyACM0 disconnected while the code ran \(USB cable pulled\): was the board unplugged/,
    );
    expect(e.partialStdout).toBe("step 1 done\r\n");
    expect(repl.inRawRepl).toBe(false);
    await repl.close();
  });

  it("an exec that never answers: timeout, Ctrl-C, the REPL is back and usable", async () => {
    const pair = memoryPair("/dev/ttyACM0");
    const timer = new FakeTimer();
    let calls = 0;
    new FakeReplDevice(pair.device, {
      exec: (_code, io) => {
        calls++;
        if (calls === 1) {
          io.print("waiting for the sensor\r\n");
          return new Promise(() => undefined);
        }
        io.print("fine\r\n");
      },
    });
    const repl = await RawRepl.connect(pair.host, { timer });
    const t0 = timer.nowMs();
    const e = await failure(repl.exec("sensor.snapshot()", { timeoutMs: 3000 }));
    expect(e.code).toBe("timeout");
    expect(e.recovered).toBe(true);
    expect(e.partialStdout).toBe("waiting for the sensor\r\n");
    expect(e.message).toContain(
      "no output from /dev/ttyACM0 for 3 s while running code (sent Ctrl-C: the board stopped it",
    );
    expect(timer.nowMs() - t0).toBe(3000);
    expect(repl.inRawRepl).toBe(true);
    expect((await repl.exec("x")).stdout).toBe("fine\r\n");
  });

  it("an exec Ctrl-C cannot stop: timeout, not recovered, enter() is needed", async () => {
    const pair = memoryPair("/dev/ttyACM0");
    const timer = new FakeTimer();
    new FakeReplDevice(pair.device, { interruptible: false, exec: () => new Promise(() => undefined) });
    const repl = await RawRepl.connect(pair.host, { timer });
    const e = await failure(repl.exec("while True: pass"));
    expect(e).toMatchObject({ code: "timeout", recovered: false });
    expect(e.message).toContain("no answer to it either");
    expect(e.hint).toContain("power-cycle");
    await expect(repl.exec("1")).rejects.toThrow(/not in the raw REPL/);
    await repl.close();
    expect(pair.host.isClosed).toBe(true);
  });

  it("a garbled frame: no OK after the code in classic mode", async () => {
    const pair = memoryPair("/dev/ttyACM0");
    responder(pair.device, (chunk) => {
      if (chunk.includes(0x01) && chunk.length <= 2) return "raw REPL; CTRL-B to exit\r\n>";
      if (chunk.at(-1) === 0x04) return "Ok\x04\x04>";
      return undefined;
    });
    const repl = await RawRepl.connect(pair.host, { timer: new FakeTimer(), rawPaste: false });
    const e = await failure(repl.exec("print(1)"));
    expect(e.code).toBe("frame");
    expect(e.message).toContain(
      'garbled raw-REPL frame from /dev/ttyACM0: no `OK` after the code (received 2 bytes: "Ok")',
    );
  });

  it("a garbled frame: a stray byte during raw-paste", async () => {
    const pair = memoryPair("/dev/ttyACM0");
    responder(pair.device, (chunk) => {
      if (chunk.length === 2 && chunk[1] === 0x01) return "raw REPL; CTRL-B to exit\r\n>";
      if (chunk.length === 3 && chunk[0] === 0x05) return "R\x01\x10\x00\x01";
      return "?";
    });
    const repl = await RawRepl.connect(pair.host, { timer: new FakeTimer() });
    const e = await failure(repl.exec("x = 1\n".repeat(20)));
    expect(e.code).toBe("frame");
    expect(e.message).toContain('an unexpected byte during raw-paste (received 1 bytes: "?")');
  });

  it("no answer to the raw-paste request", async () => {
    const pair = memoryPair("/dev/ttyACM0");
    responder(pair.device, (chunk) =>
      chunk.length === 2 && chunk[1] === 0x01 ? "raw REPL; CTRL-B to exit\r\n>" : undefined,
    );
    const repl = await RawRepl.connect(pair.host, { timer: new FakeTimer(), promptTimeoutMs: 2000 });
    const e = await failure(repl.exec("1"));
    expect(e.code).toBe("no-answer");
    expect(e.message).toContain("no answer from /dev/ttyACM0 within 2 s after `\\x05A\\x01`");
  });

  it("a write that never completes: write-timeout", async () => {
    const pair = memoryPair("/dev/ttyACM0");
    const stuck: ByteStream = Object.assign(Object.create(pair.host) as ByteStream, {
      write: () => new Promise<void>(() => undefined),
    });
    const e = await failure(new RawRepl(stuck, { timer: new FakeTimer() }).enter());
    expect(e.code).toBe("write-timeout");
    expect(e.message).toContain("writing `\\r\\x03` (interrupt) to /dev/ttyACM0 did not finish within 5 s");
  });

  it("a stream that ended before use: disconnected, not a hang", async () => {
    const pair = memoryPair("/dev/ttyACM0");
    pair.disconnect("board reset");
    await pair.host.closed;
    const e = await failure(new RawRepl(pair.host, { timer: new FakeTimer() }).enter());
    expect(e.code).toBe("disconnected");
    expect(e.message).toContain("(board reset)");
  });

  it("a frame that never ends (oversize output): a frame error at maxFrameBytes, not an ever-growing buffer", async () => {
    const pair = memoryPair("/dev/ttyACM0");
    // 20 KiB of output and a run that never ends: the frame's \x04 never comes.
    new FakeReplDevice(pair.device, {
      exec: (_code, io) => {
        io.print("y".repeat(20 * 1024));
        return new Promise<void>(() => undefined);
      },
    });
    const repl = await RawRepl.connect(pair.host, { timer: new FakeTimer(), maxFrameBytes: 4096 });
    const e = await failure(repl.exec("print(1)"));
    expect(e.code).toBe("frame");
    expect(e.message).toMatch(
      /^garbled raw-REPL frame from \/dev\/ttyACM0: \d+ bytes without the end of the code's stdout \(at most 4096 bytes/,
    );
    expect(e.received!.length).toBeGreaterThan(4096);
    expect(repl.inRawRepl).toBe(false);
  });

  it("a banner that never comes amid endless noise: a frame error naming what was awaited", async () => {
    const pair = memoryPair("/dev/ttyACM0");
    responder(pair.device, () => "z".repeat(3000));
    const e = await failure(RawRepl.connect(pair.host, { timer: new FakeTimer(), maxFrameBytes: 1024 }));
    expect(e.code).toBe("frame");
    expect(e.message).toContain("without the end of the raw REPL banner after `\\r\\x01`");
    expect(pair.host.isClosed).toBe(true);
  });
});
