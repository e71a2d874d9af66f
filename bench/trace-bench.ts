/** Reading `cardsim-trace/1`: 100,000 ops (half of them 512-byte writes), gzip, with and without data. */
import { crc32 } from "node:zlib";
import { parseTrace, serialiseTrace, WriteLog } from "../src/trace/index.ts";

export async function run(): Promise<void> {
  const log = new WriteLog();
  const block = new Uint8Array(512).fill(0xa5);
  const crc = crc32(block);
  for (let i = 0; i < 100_000; i++) {
    const kind = i % 10 === 9 ? "sync" : i % 2 === 0 ? "write" : "read";
    log.ops.push({
      seq: i,
      timeMicros: i * 10,
      kind,
      lba: kind === "sync" ? 0 : i % 4096,
      count: kind === "sync" ? 0 : 1,
      offset: 0,
      crc32: kind === "sync" ? 0 : crc,
      result: 0,
      ...(kind === "write" && { data: block }),
    });
  }
  for (const data of ["none", "inline"] as const) {
    const bytes = serialiseTrace(
      log,
      {
        sectorSize: 512,
        sectors: 4096,
        source: "sim",
        scenario: "bench",
        seed: 1,
        profile: "openmv-rt1062",
        firmware: "4.7.0",
        engine: "bench",
        data,
      },
      { gzip: true },
    );
    const t0 = process.hrtime.bigint();
    parseTrace(bytes, "bench");
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    console.log(
      `read 100k ops, data ${data}: ${ms.toFixed(0)} ms (${(bytes.length / 1e6).toFixed(1)} MB gzip)`,
    );
  }
}
