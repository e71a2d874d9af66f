import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  BoardPythonError,
  FakeTimer,
  LinkError,
  RawRepl,
  evalJson,
  execJson,
  memoryPair,
  pyBytesLiteral,
  pyStringLiteral,
  remoteSha256,
  uploadFile,
} from "../../src/link/index.ts";
import {
  FakeReplDevice,
  fakeFilesExec,
  parsePyBytes,
  type FakeFiles,
  type FakeFilesOptions,
} from "../../src/link/testing/index.ts";

async function board(rawPaste: "supported" | "unknown" = "supported", opts: FakeFilesOptions = {}) {
  const files: FakeFiles = new Map();
  const pair = memoryPair("/dev/ttyACM0");
  const device = new FakeReplDevice(pair.device, { exec: fakeFilesExec(files, opts), rawPaste });
  const repl = await RawRepl.connect(pair.host, { timer: new FakeTimer() });
  return { files, device, repl };
}

const sample = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + (i >> 8)) & 0xff);

describe("Python literals", () => {
  it("every byte value survives a bytes literal, and no control byte appears in it", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const lit = pyBytesLiteral(all);
    expect(parsePyBytes(lit)).toEqual(all);
    expect([...lit].every((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) < 0x7f)).toBe(true);
    expect(pyBytesLiteral(Uint8Array.from([0x27, 0x5c, 0x41, 0x04]))).toBe("b'\\'\\\\A\\x04'");
  });

  it("strings escape quotes, backslashes and non-ASCII", () => {
    expect(pyStringLiteral("/sdcard/it's\\é€")).toBe("'/sdcard/it\\'s\\\\\\xe9\\u20ac'");
  });
});

describe("uploadFile (mpremote fs cp with a sha256 check)", () => {
  it("writes a new file in 4 KiB raw-paste chunks and verifies its hash", async () => {
    const { files, repl } = await board();
    const data = sample(10_000);
    const progress: number[] = [];
    const r = await uploadFile(repl, data, "/flash/agent.py", { onProgress: (w) => progress.push(w) });
    expect(r).toEqual({
      skipped: false,
      sha256: createHash("sha256").update(data).digest("hex"),
      bytes: 10_000,
      chunks: 3,
    });
    expect(progress).toEqual([4096, 8192, 10_000]);
    expect(files.get("/flash/agent.py")).toEqual(data);
  });

  it("skips an unchanged file (one exec, the hash) unless forced", async () => {
    const { device, repl } = await board();
    const data = sample(3000);
    await uploadFile(repl, data, "/flash/agent.py");
    const before = device.executed.length;
    expect(await uploadFile(repl, data, "/flash/agent.py")).toMatchObject({ skipped: true, chunks: 0 });
    expect(device.executed.length - before).toBe(1);
    expect(await uploadFile(repl, data, "/flash/agent.py", { force: true })).toMatchObject({
      skipped: false,
      chunks: 1,
    });
  });

  it("a changed file is rewritten", async () => {
    const { files, repl } = await board();
    await uploadFile(repl, sample(100), "/flash/a.py");
    const next = sample(200).reverse();
    expect((await uploadFile(repl, next, "/flash/a.py")).skipped).toBe(false);
    expect(files.get("/flash/a.py")).toEqual(next);
  });

  it("classic mode (no raw-paste) uses 256-byte chunks like mpremote", async () => {
    const { files, repl } = await board("unknown");
    const data = sample(1000);
    expect(await uploadFile(repl, data, "/flash/a.bin")).toMatchObject({ chunks: 4 });
    expect(repl.rawPasteSupported).toBe(false);
    expect(files.get("/flash/a.bin")).toEqual(data);
  });

  it("an empty file", async () => {
    const { files, repl } = await board();
    expect(await uploadFile(repl, new Uint8Array(), "/flash/empty")).toMatchObject({
      skipped: false,
      chunks: 0,
    });
    expect(files.get("/flash/empty")).toEqual(new Uint8Array());
    expect(await remoteSha256(repl, "/flash/empty")).toBe(createHash("sha256").digest("hex"));
    expect(await remoteSha256(repl, "/flash/none")).toBeNull();
  });

  it("bytes corrupted on the way: upload-mismatch naming both hashes", async () => {
    const { repl } = await board("supported", { corruptWrites: true });
    const e = (await uploadFile(repl, sample(500), "/flash/a.py").catch((x: unknown) => x)) as LinkError;
    expect(e).toBeInstanceOf(LinkError);
    expect(e.code).toBe("upload-mismatch");
    expect(e.message).toMatch(
      /\/flash\/a\.py on \/dev\/ttyACM0 has sha256 [0-9a-f]{64} after upload, expected [0-9a-f]{64}/,
    );
  });
  it("a reply that is not a hash names the port (found by the raw-REPL fuzz surface)", async () => {
    const pair = memoryPair("/dev/ttyACM0");
    new FakeReplDevice(pair.device, { exec: (_code, io) => io.print("bsent\r\n") });
    const repl = await RawRepl.connect(pair.host, { timer: new FakeTimer() });
    const e = (await remoteSha256(repl, "/x.bin").catch((x: unknown) => x)) as LinkError;
    expect(e).toBeInstanceOf(LinkError);
    expect(e.message).toMatch(
      /^the sha256 that \/dev\/ttyACM0 printed for \/x\.bin is not 64 hex digits: "bsent"/,
    );
  });

  it("a close that fails after the last chunk is the error, not a later 'not in the raw REPL' (fuzz finding)", async () => {
    const files: FakeFiles = new Map();
    const pair = memoryPair("/dev/ttyACM0");
    const onFiles = fakeFilesExec(files);
    new FakeReplDevice(pair.device, {
      exec: (code, io) => {
        // The board goes away while it closes the file.
        if (code.startsWith("_f.close()")) return void pair.disconnect("board reset");
        return onFiles(code, io);
      },
    });
    const repl = await RawRepl.connect(pair.host, { timer: new FakeTimer() });
    const e = (await uploadFile(repl, sample(300), "/flash/a.py").catch((x: unknown) => x)) as LinkError;
    expect(e).toBeInstanceOf(LinkError);
    expect(e.code).toBe("disconnected");
    expect(e.message).toContain("/dev/ttyACM0 disconnected while the code ran (board reset)");
  });
});

describe("execJson / evalJson", () => {
  it("parses the JSON line an expression prints", async () => {
    const { repl } = await board();
    expect(await evalJson(repl, '{"ok": true, "n": 3}')).toEqual({ ok: true, n: 3 });
  });

  it("ignores log lines before the JSON line and reports a non-JSON line", async () => {
    const pair = memoryPair("/dev/ttyACM0");
    new FakeReplDevice(pair.device, {
      exec: (code, io) => io.print(code === "a" ? "log: hello\r\n[1, 2]\r\n" : "not json\r\n"),
    });
    const repl = await RawRepl.connect(pair.host, { timer: new FakeTimer() });
    expect(await execJson(repl, "a")).toEqual([1, 2]);
    const e = (await execJson(repl, "b").catch((x: unknown) => x)) as LinkError;
    expect(e.code).toBe("frame");
    expect(e.message).toContain('is not JSON: "not json"');
  });

  it("a Python exception is a BoardPythonError", async () => {
    const { repl } = await board();
    // Closing a file that was never opened: the fake raises NameError as the board would.
    const e = await repl.execOk("_f.close()").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BoardPythonError);
    expect((e as BoardPythonError).pythonType).toBe("NameError");
  });
});
