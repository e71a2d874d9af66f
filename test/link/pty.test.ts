/**
 * Real serial framing: the fake board behind a pseudo-terminal made by socat, the SerialPort-backed
 * stream on the other end (what BoardTarget does with /dev/ttyACM0).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LinkError, RawRepl, openSerialStream, uploadFile } from "../../src/link/index.ts";

const fixture = fileURLToPath(new URL("./fixtures/fake-board-main.ts", import.meta.url));
const root = fileURLToPath(new URL("../..", import.meta.url));

/** Starts socat with the fake board behind a pty linked at `link`; resolves once the link exists. */
async function ptyBoard(link: string, ...flags: string[]): Promise<ChildProcess> {
  const child = spawn(
    "socat",
    [`pty,raw,echo=0,link=${link}`, `EXEC:"${process.execPath} --import tsx ${fixture} ${flags.join(" ")}"`],
    { cwd: root, stdio: ["ignore", "ignore", "pipe"] },
  );
  for (let i = 0; i < 200 && !existsSync(link); i++) await new Promise((r) => setTimeout(r, 10));
  if (!existsSync(link)) throw new Error(`socat did not create ${link}`);
  return child;
}

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });

describe.skipIf(!existsSync("/usr/bin/socat"))("the raw REPL over a real pty (socat)", () => {
  const link = `/tmp/cardsim-link-test-${process.pid}`;
  let socat: ChildProcess;
  beforeAll(async () => {
    socat = await ptyBoard(link);
  });
  afterAll(async () => stop(socat));

  it("enters, soft-resets, runs code by raw-paste, uploads, and a second open is refused as busy", async () => {
    const stream = await openSerialStream(link);
    const repl = await RawRepl.connect(stream, { softReset: true });
    const bytes = Uint8Array.from({ length: 20_000 }, (_, i) => (i * 131) & 0xff);
    const up = await uploadFile(repl, bytes, "/flash/agent.py");
    expect(up).toMatchObject({ skipped: false, bytes: 20_000, chunks: 5 });
    expect(repl.rawPasteSupported).toBe(true);
    expect((await uploadFile(repl, bytes, "/flash/agent.py")).skipped).toBe(true);

    const busy = (await openSerialStream(link).catch((e: unknown) => e)) as LinkError;
    expect(busy).toBeInstanceOf(LinkError);
    expect(busy.code).toBe("port-busy");
    expect(busy.message).toContain(link);

    await repl.close();
    expect(stream.end?.reason).toBe("closed");
  });

  it("the board going away mid-exec (socat killed) is a disconnect", async () => {
    const link2 = `${link}-b`;
    const other = await ptyBoard(link2, "--exit-on-exec");
    const repl = await RawRepl.connect(await openSerialStream(link2));
    const e = (await repl.exec("run()").catch((err: unknown) => err)) as LinkError;
    expect(e).toBeInstanceOf(LinkError);
    expect(e.code, e.message).toBe("disconnected");
    expect(e.partialStdout).toBe("about to die\r\n");
    await repl.close();
    await stop(other);
  });
});
