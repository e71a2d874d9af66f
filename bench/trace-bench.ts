/** Reading `cardsim-trace/1`: 100,000 ops (half of them 512-byte writes), gzip, with and without data. */
import { parseTrace, serialiseTrace } from "../src/trace/index.ts";
import { syntheticLog } from "../test/trace/synthetic-log.ts";

export async function run(): Promise<void> {
  const log = syntheticLog(100_000);
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
