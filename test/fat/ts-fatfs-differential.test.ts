/**
 * The differential oracle (issue 9): ts-fatfs in its oracle mode (per-file window, R0.15, FatRuntime
 * glue) must make exactly the device calls js-fatfs makes — same reads, writes (block, length, CRC) and
 * ioctls — with the same results and the same final image, on seeded random workloads. A fixed budget
 * here; `npm run fuzz -- fat` runs the 10,000-workload campaign.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { VirtualClock } from "../../src/clock/index.ts";
import { coverageTable, runCampaign } from "../../src/fat/differential/campaign.ts";
import { runWorkload } from "../../src/fat/differential/workload.ts";
import { FatRuntime } from "../../src/fat/js-fatfs-engine.ts";
import { JS_FATFS_ORACLE, OPENMV_FATFS, TsFatfsDriver } from "../../src/fat/ts-fatfs/index.ts";

let js: FatRuntime;
beforeAll(async () => {
  js = await FatRuntime.load(new VirtualClock());
});

describe("ts-fatfs (per-file, R0.15) against js-fatfs", () => {
  it("equals js-fatfs op for op on 250 seeded workloads covering FAT12/16/32 × 512/4096 and full volumes", () => {
    const report = runCampaign(
      (clock) => {
        js.clock = clock;
        return [js, new TsFatfsDriver(JS_FATFS_ORACLE, clock)];
      },
      250,
      20_000,
    );
    expect(report.divergences).toEqual([]);
    expect(report.equal).toBe(250);
    const table = coverageTable(report);
    for (const vol of ["FAT12/512", "FAT12/4096", "FAT16/512", "FAT16/4096", "FAT32/512", "FAT32/4096"])
      for (const op of ["write", "append", "overwrite", "truncate", "rename", "unlink", "mkdir", "read"])
        expect(report.coverage.get(`${vol}/${op}`) ?? 0, `${vol}/${op}\n${table}`).toBeGreaterThan(0);
    for (const vol of ["FAT12/512", "FAT16/512", "FAT32/512"])
      expect(report.coverage.get(`${vol}/full-volume`) ?? 0, table).toBeGreaterThan(0);
  }, 120_000);

  it("the harness sees a difference: the tiny window does not match js-fatfs", () => {
    const clock = new VirtualClock();
    js.clock = clock;
    const tiny = new TsFatfsDriver(OPENMV_FATFS, clock);
    const outcomes = [1, 2, 3, 4, 5].map((seed) => runWorkload(seed, js, tiny, clock));
    expect(outcomes.some((o) => !o.equal)).toBe(true);
    expect(outcomes.find((o) => !o.equal)?.divergence).toMatch(/device call #\d+|result/);
  });
});
