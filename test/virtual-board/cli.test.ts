/**
 * `cardsim virtual-board` as a user starts it: a child process that prints the pty path first, then the
 * board's pid; a raw-REPL client runs code over the pty; SIGTERM stops it cleanly (exit 0).
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { openSerialStream, RawRepl } from "../../src/link/index.ts";

const root = join(import.meta.dirname, "..", "..");

describe("cardsim virtual-board", () => {
  it("prints the pty path, serves the raw REPL there, and stops on SIGTERM", async () => {
    const tsx = createRequire(import.meta.url).resolve("tsx/cli");
    const child = spawn(
      process.execPath,
      [tsx, join(root, "sim/cli/main.ts"), "virtual-board", "--seed", "7"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const path = (await lines.next()).value as string;
    const pid = (await lines.next()).value as string;
    expect(path).toMatch(/^\/dev\/pts\/\d+$/);
    expect(pid).toMatch(/^pid \d+$/);
    const repl = await RawRepl.connect(await openSerialStream(path), { promptTimeoutMs: 5_000 });
    try {
      expect(await repl.execOk("import os\nprint(os.getcwd(), 6 * 7)")).toBe("/sdcard 42\r\n");
    } finally {
      await repl.close();
    }
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, 30_000);

  it("bad options are exit 2 with the usage", async () => {
    const tsx = createRequire(import.meta.url).resolve("tsx/cli");
    const child = spawn(
      process.execPath,
      [tsx, join(root, "sim/cli/main.ts"), "virtual-board", "--seed", "x"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((res) => child.on("exit", (c) => res(c)));
    expect(code).toBe(2);
    expect(err).toMatch(/--seed: expected a non-negative integer, got 'x'/);
  }, 30_000);
});
