import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { LinkError, RawRepl, evalJson, spawnStream, uploadFile } from "../../src/link/index.ts";

const fixture = fileURLToPath(new URL("./fixtures/fake-board-main.ts", import.meta.url));
const root = fileURLToPath(new URL("../..", import.meta.url));
const board = (...flags: string[]) =>
  spawnStream(process.execPath, ["--import", "tsx", fixture, ...flags], { cwd: root });

describe("spawnStream: a REPL on a child process's stdio", () => {
  it("runs the raw REPL, raw-paste and an upload through pipes", async () => {
    const stream = board();
    const repl = await RawRepl.connect(stream, { softReset: true });
    expect(await evalJson(repl, '{"a": [1, 2]}')).toEqual({ a: [1, 2] });
    const bytes = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7) & 0xff);
    expect(await uploadFile(repl, bytes, "/flash/x.bin")).toMatchObject({ skipped: false, chunks: 3 });
    expect(await uploadFile(repl, bytes, "/flash/x.bin")).toMatchObject({ skipped: true });
    await repl.close();
    expect(stream.end?.reason).toBe("closed");
  });

  it("a process that exits mid-exec: disconnected, with its exit code", async () => {
    const repl = await RawRepl.connect(board("--exit-on-exec"));
    const e = (await repl.exec("run()").catch((err: unknown) => err)) as LinkError;
    expect(e).toBeInstanceOf(LinkError);
    expect(e.code).toBe("disconnected");
    expect(e.message).toContain("exited with code 3");
    expect(e.partialStdout).toBe("about to die\r\n");
    await repl.close();
  });

  it("a command that does not exist: disconnected before any answer", async () => {
    const stream = spawnStream("/nonexistent/cardsim-board");
    const e = (await RawRepl.connect(stream).catch((err: unknown) => err)) as LinkError;
    expect(e).toBeInstanceOf(LinkError);
    expect(e.code).toBe("disconnected");
    expect(e.message).toContain("ENOENT");
  });
});
