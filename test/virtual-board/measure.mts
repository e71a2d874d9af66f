/**
 * Figures for src/virtual-board/README.md (not a test): `npx tsx test/virtual-board/measure.mts`.
 * Per-op figures: the best of three runs, minus the same Python loop with `pass`.
 * Wall-clock times over the real pty, through src/link's client.
 */
import { performance } from "node:perf_hooks";
import { RawRepl, openSerialStream } from "../../src/link/index.ts";
import { startVirtualBoardPty } from "../../src/virtual-board/index.ts";

const t0 = performance.now();
const board = await startVirtualBoardPty({});
const startMs = performance.now() - t0;

async function timeExecs(repl: RawRepl, code: string, n: number): Promise<number> {
  await repl.execOk(code);
  const t = performance.now();
  for (let i = 0; i < n; i++) await repl.execOk(code);
  return (performance.now() - t) / n;
}

/** Wall time of one exec of `body` repeated `n` times in a Python loop, minus an empty loop: µs per iteration. */
async function perOp(repl: RawRepl, setup: string, body: string, n: number): Promise<number> {
  let best = Infinity;
  for (let k = 0; k < 3; k++) best = Math.min(best, await perOpOnce(repl, setup, body, n));
  return best;
}

async function perOpOnce(repl: RawRepl, setup: string, body: string, n: number): Promise<number> {
  await repl.execOk(setup);
  const loop = (b: string) => `for i in range(${n}):\n    ${b}`;
  const t1 = performance.now();
  await repl.execOk(loop("pass"));
  const empty = performance.now() - t1;
  const t2 = performance.now();
  await repl.execOk(loop(body));
  const full = performance.now() - t2;
  return ((full - empty) * 1000) / n;
}

const paste = await RawRepl.connect(await openSerialStream(board.path));
const rawPasteMs = await timeExecs(paste, "pass", 200);
const bigProgram = `x = 0\n${"x += 1\n".repeat(400)}print(x)`;
const rawPaste3kMs = await timeExecs(paste, bigProgram, 50);
const t3 = performance.now();
for (let i = 0; i < 10; i++) await paste.softReset();
const softResetMs = (performance.now() - t3) / 10;

const setup = `
import machine, os, vfs
sd = machine.SDCard(1)
buf = bytearray(512)
buf8 = bytearray(4096)
class LogBdev:
    def __init__(s, d): s.d = d; s.n = 0
    def readblocks(s, b, buf): return s.d.readblocks(b, buf)
    def writeblocks(s, b, buf):
        s.n += 1
        return s.d.writeblocks(b, buf)
    def ioctl(s, op, arg): return s.d.ioctl(op, arg)
`;
const readUs = await perOp(paste, setup, "sd.readblocks(100 + (i & 63), buf)", 5000);
const writeUs = await perOp(paste, setup, "sd.writeblocks(100000 + (i & 63), buf)", 5000);
const read8Us = await perOp(paste, setup, "sd.readblocks(100 + (i & 63), buf8)", 2000);
const logReadUs = await perOp(
  paste,
  `${setup}\nlb = LogBdev(sd)`,
  "lb.readblocks(100 + (i & 63), buf)",
  5000,
);

// FatFs over the Python bdev (the agent's path) vs over the card directly (the boot mount).
const writeFile = (name: string) =>
  `with open('${name}', 'wb') as f:\n    for k in range(64):\n        f.write(buf)`;
await paste.execOk(`${setup}\nos.chdir('/sdcard')`);
const t4 = performance.now();
for (let i = 0; i < 5; i++) await paste.execOk(writeFile(`native${i}.bin`));
const nativeFileMs = (performance.now() - t4) / 5;
await paste.execOk(
  `vfs.umount('/sdcard')\nlb = LogBdev(sd)\nvfs.mount(vfs.VfsFat(lb), '/sdcard')\nos.chdir('/sdcard')`,
);
const t5 = performance.now();
for (let i = 0; i < 5; i++) await paste.execOk(writeFile(`logged${i}.bin`));
const loggedFileMs = (performance.now() - t5) / 5;
const writesPerFile = Number(await paste.execOk("print(lb.n // 5)"));
await paste.close();

const classic = await RawRepl.connect(await openSerialStream(board.path), { rawPaste: false });
const classicMs = await timeExecs(classic, "pass", 100);
const classic3kMs = await timeExecs(classic, bigProgram, 10);
await classic.close();
await board.stop();

const f = (x: number, d = 1) => x.toFixed(d);
console.log(`board start (socat + node + worker + interpreter + boot mounts): ${f(startMs, 0)} ms`);
console.log(`exec round trip, raw-paste, 'pass': ${f(rawPasteMs, 2)} ms`);
console.log(`exec round trip, raw-paste, 2.8 KB program: ${f(rawPaste3kMs, 2)} ms`);
console.log(`exec round trip, classic (256 B chunks, 10 ms pauses), 'pass': ${f(classicMs, 2)} ms`);
console.log(`exec round trip, classic, 2.8 KB program: ${f(classic3kMs, 2)} ms`);
console.log(`soft reset (fresh interpreter, boot mounts, raw banner): ${f(softResetMs, 1)} ms`);
console.log(`machine.SDCard readblocks 512 B from Python: ${f(readUs, 1)} µs`);
console.log(`machine.SDCard writeblocks 512 B from Python: ${f(writeUs, 1)} µs`);
console.log(`machine.SDCard readblocks 4 KiB from Python: ${f(read8Us, 1)} µs`);
console.log(`LogBdev(SDCard).readblocks 512 B from Python: ${f(logReadUs, 1)} µs`);
console.log(`32 KiB file in 512 B writes, VfsFat(SDCard) (FatFs -> card in JS): ${f(nativeFileMs, 1)} ms`);
console.log(
  `32 KiB file in 512 B writes, VfsFat(LogBdev(SDCard)) (FatFs -> Python -> JS): ${f(loggedFileMs, 1)} ms, ${writesPerFile} block writes`,
);
