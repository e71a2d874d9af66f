/**
 * Serial link throughput: bytes of code per second through the raw REPL, raw-paste (window flow
 * control) against classic raw mode (256-byte chunks, 10 ms apart, as mpremote), over the
 * in-memory pair and over a real pty (socat) to the fake board in a child process; and uploadFile
 * of a binary file over the pty. The fake board runs nothing, so this is the link's own cost.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  FakeTimer,
  RawRepl,
  memoryPair,
  openSerialStream,
  uploadFile,
  type ByteStream,
} from "../src/link/index.ts";
import { FakeReplDevice } from "../src/link/testing/index.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const fixture = fileURLToPath(new URL("../test/link/fixtures/fake-board-main.ts", import.meta.url));
const code = (bytes: number) => "#" + "x".repeat(bytes - 1);
const rate = (bytes: number, ms: number) => `${(((bytes / ms) * 1000) / 1024).toFixed(1)} KiB/s`;

async function measure(repl: RawRepl, bytes: number, rounds: number): Promise<number> {
  await repl.exec(code(1000)); // settles raw-paste detection
  const t = performance.now();
  for (let i = 0; i < rounds; i++) await repl.exec(code(bytes));
  return performance.now() - t;
}

async function memory(rawPaste: boolean, fake: boolean, bytes: number, rounds: number): Promise<string> {
  const pair = memoryPair();
  new FakeReplDevice(pair.device);
  const repl = await RawRepl.connect(pair.host, { rawPaste, timer: fake ? new FakeTimer() : undefined });
  const ms = await measure(repl, bytes, rounds);
  await repl.close();
  return rate(bytes * rounds, ms);
}

async function overPty(fn: (stream: ByteStream) => Promise<string>): Promise<string> {
  const link = `/tmp/cardsim-link-bench-${process.pid}`;
  const socat = spawn(
    "socat",
    [`pty,raw,echo=0,link=${link}`, `EXEC:"${process.execPath} --import tsx ${fixture}"`],
    {
      cwd: root,
      stdio: "ignore",
    },
  );
  try {
    for (let i = 0; i < 300 && !existsSync(link); i++) await new Promise((r) => setTimeout(r, 10));
    return await fn(await openSerialStream(link));
  } finally {
    socat.kill("SIGTERM");
  }
}

async function pty(rawPaste: boolean, bytes: number, rounds: number): Promise<string> {
  return overPty(async (stream) => {
    const repl = await RawRepl.connect(stream, { rawPaste });
    const ms = await measure(repl, bytes, rounds);
    await repl.close();
    return rate(bytes * rounds, ms);
  });
}

async function ptyUpload(rawPaste: boolean, bytes: number): Promise<string> {
  return overPty(async (stream) => {
    const repl = await RawRepl.connect(stream, { rawPaste });
    const data = Uint8Array.from({ length: bytes }, (_, i) => (i * 131 + (i >> 7)) & 0xff);
    await repl.exec("1");
    const t = performance.now();
    const r = await uploadFile(repl, data, "/flash/agent.py");
    const ms = performance.now() - t;
    await repl.close();
    return `${rate(bytes, ms)} (${r.chunks} chunks, ${ms.toFixed(0)} ms)`;
  });
}

export async function run(): Promise<void> {
  console.log(
    `memory pair, raw-paste, real timer (256 KiB x 8): ${await memory(true, false, 256 * 1024, 8)}`,
  );
  console.log(`memory pair, classic, real timer (16 KiB x 2): ${await memory(false, false, 16 * 1024, 2)}`);
  console.log(
    `memory pair, classic, fake timer, no pacing wait (256 KiB x 8): ${await memory(false, true, 256 * 1024, 8)}`,
  );
  if (!existsSync("/usr/bin/socat")) {
    console.log("pty figures skipped: socat is not installed");
    return;
  }
  console.log(`pty, raw-paste (256 KiB x 4): ${await pty(true, 256 * 1024, 4)}`);
  console.log(`pty, classic (16 KiB x 2): ${await pty(false, 16 * 1024, 2)}`);
  console.log(`pty, uploadFile 64 KiB binary, raw-paste: ${await ptyUpload(true, 64 * 1024)}`);
  console.log(`pty, uploadFile 16 KiB binary, classic: ${await ptyUpload(false, 16 * 1024)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
