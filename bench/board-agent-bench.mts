/**
 * Figures of the board path on the virtual board over a real pty (socat): agent upload time, the
 * round trip of one agent step, and the cost of the agent's logging block device per write.
 * Run: npx tsx bench/board-agent-bench.mts   (real time: figures, never assertions)
 */
import { RawRepl, execJson, openSerialStream, uploadFile } from "../src/link/index.ts";
import { openMvAgentSource } from "../src/profiles/openmv-rt1062/board/codec.ts";
import { startVirtualBoardPty } from "../src/virtual-board/index.ts";

const board = await startVirtualBoardPty({});
const repl = await RawRepl.connect(await openSerialStream(board.path), { softReset: true });
const ms = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1e6;
try {
  const src = new TextEncoder().encode(openMvAgentSource());
  let t = process.hrtime.bigint();
  await uploadFile(repl, src, "/flash/agent.py", { force: true });
  console.log(`agent upload (${src.length} bytes, forced): ${ms(t).toFixed(0)} ms`);
  t = process.hrtime.bigint();
  await uploadFile(repl, src, "/flash/agent.py");
  console.log(`agent upload skipped (sha256 equal): ${ms(t).toFixed(0)} ms`);
  await repl.execOk("import sys\nsys.path.insert(0, '/flash')\nimport agent");
  const cfg = JSON.stringify({ sectors: 131072, rtc: [2025, 1, 1, 2, 0, 0, 0, 0], id: "221" });
  await execJson(repl, `agent.init('${cfg}')`);
  const n = 30;
  t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await execJson(repl, `agent.run('{"op":"mark","args":{"name":"m${i}"}}')`);
  console.log(`agent step round trip (mark, no card I/O): ${(ms(t) / n).toFixed(1)} ms`);
  const per = (await execJson(
    repl,
    [
      "import time, machine",
      "sd = machine.SDCard(1)",
      "b = bytearray(512)",
      "def loop(dev, n):",
      "    t = time.ticks_us()",
      "    for i in range(n): dev.writeblocks(100000 + i, b)",
      "    return time.ticks_diff(time.ticks_us(), t)",
      "import agent, json",
      "h0 = time.ticks_ms()",
      "raw = loop(sd, 500)",
      "h1 = time.ticks_ms()",
      "logged = loop(agent.BD, 500)",
      "h2 = time.ticks_ms()",
      "print(json.dumps([raw, logged]))",
    ].join("\n"),
  )) as [number, number];
  // Virtual time includes the card model's latency; host time is what the WASM interpreter spends.
  t = process.hrtime.bigint();
  await repl.execOk("for i in range(500): sd.writeblocks(100000 + i, b)");
  const rawHost = ms(t);
  t = process.hrtime.bigint();
  await repl.execOk("for i in range(500): agent.BD.writeblocks(100000 + i, b)");
  const logHost = ms(t);
  console.log(
    `LogBdev per 1-sector write: host ${(((logHost - rawHost) / 500) * 1000).toFixed(0)} µs extra ` +
      `(raw ${((rawHost / 500) * 1000).toFixed(0)} µs, logged ${((logHost / 500) * 1000).toFixed(0)} µs); ` +
      `virtual time raw ${per[0] / 500} µs, logged ${per[1] / 500} µs`,
  );
} finally {
  await repl.close();
  await board.stop();
}
