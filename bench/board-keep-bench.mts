/**
 * The agent's keep-written-bytes mode (`--record-data` on `--target board`) on the virtual board over a
 * real pty: what keeping a write's bytes in the preallocated pool costs per write (heap allocated,
 * from gc.mem_free with the collector off, and host time), and how fast the host fetches the pool
 * (hex lines with a CRC each, one exec per step). Run: npx tsx bench/board-keep-bench.mts
 * (real time: figures, never assertions).
 */
import { RawRepl, execJson, openSerialStream, uploadFile } from "../src/link/index.ts";
import { openMvAgentSource } from "../src/profiles/openmv-rt1062/board/codec.ts";
import { startVirtualBoardPty } from "../src/virtual-board/index.ts";

const board = await startVirtualBoardPty({});
const repl = await RawRepl.connect(await openSerialStream(board.path), { softReset: true });
const ms = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1e6;
const N = 400;
try {
  await uploadFile(repl, new TextEncoder().encode(openMvAgentSource()), "/flash/agent.py");
  await repl.execOk("import sys\nsys.path.insert(0, '/flash')\nimport agent, machine, gc, json");
  for (const sectors of [1, 8]) {
    const bytes = sectors * 512;
    const row: Record<string, number> = {};
    for (const keep of [0, N * bytes]) {
      // The pool is allocated once (as init does), outside the measured loop.
      await repl.execOk(
        `bd = agent.LogBdev(machine.SDCard(1), 131072, ${N + 8}, ${keep})\nb = bytearray(${bytes})\ngc.collect()`,
      );
      const alloc = (await execJson(
        repl,
        [
          "gc.disable()",
          "f0 = gc.mem_free()",
          `for i in range(${N}): bd.writeblocks(100000 + i * ${sectors}, b)`,
          "f1 = gc.mem_free()",
          "gc.enable()",
          "print(json.dumps(f0 - f1))",
        ].join("\n"),
      )) as number;
      await repl.execOk(`bd = agent.LogBdev(machine.SDCard(1), 131072, ${N + 8}, ${keep})\ngc.collect()`);
      const t = process.hrtime.bigint();
      await repl.execOk(`for i in range(${N}): bd.writeblocks(100000 + i * ${sectors}, b)`);
      const host = ms(t);
      row[keep ? "keepAlloc" : "plainAlloc"] = alloc / N;
      row[keep ? "keepUs" : "plainUs"] = (host / N) * 1000;
    }
    console.log(
      `${bytes} B write: heap ${row.plainAlloc.toFixed(1)} B/write plain, ${row.keepAlloc.toFixed(1)} B/write kept; ` +
        `host ${row.plainUs.toFixed(0)} µs plain, ${row.keepUs.toFixed(0)} µs kept ` +
        `(+${(row.keepUs - row.plainUs).toFixed(0)} µs)`,
    );
  }
  // Fetch: a pool of 400 × 4 KiB writes, fetched as BoardTarget does (one exec, a line per chunk).
  await repl.execOk(
    `agent.BD = agent.LogBdev(machine.SDCard(1), 131072, ${N + 8}, ${N * 4096})\nb = bytearray(4096)\n` +
      `for i in range(${N}): agent.BD.writeblocks(100000 + i * 8, b)`,
  );
  for (const chunk of [1024, 2048, 4096, 8192, 16384]) {
    const t = process.hrtime.bigint();
    const out = await repl.execOk(`agent.fetch(0, ${N * 4096}, ${chunk})`, { timeoutMs: 60_000 });
    const took = ms(t);
    console.log(
      `fetch ${N * 4} KiB in ${chunk} B chunks: ${took.toFixed(0)} ms, ` +
        `${((N * 4096) / 1024 / (took / 1000)).toFixed(0)} KiB/s of data (${(out.length / 1024 / (took / 1000)).toFixed(0)} KiB/s on the line)`,
    );
  }
} finally {
  await repl.close();
  await board.stop();
}
