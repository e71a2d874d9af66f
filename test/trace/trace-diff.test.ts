import { describe, expect, it } from "vitest";
import { CowBlockDevice, IOCTL, RamBlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { FatRuntime } from "../../src/fat/js-fatfs-engine.ts";
import { formatWith } from "../../src/fat/mkfs.ts";
import { sectorRoles } from "../../src/fat/sector-roles.ts";
import {
  TracingBlockDevice,
  diffTraces,
  formatTraceDiff,
  parseTrace,
  serialiseTrace,
  type TraceHeaderInput,
  type TraceSource,
} from "../../src/trace/index.ts";

const header = (source: TraceSource, sectors: number, firmware = "4.7.0"): TraceHeaderInput => ({
  sectorSize: 512,
  sectors,
  source,
  scenario: "diff",
  seed: 1,
  profile: "openmv-rt1062",
  firmware,
  engine: "js-fatfs R0.15 per-file",
  data: "none",
});

type Step = ["w", number, number] | ["r", number] | ["s"] | ["i"];

/** A trace from a list of steps on a blank 64-sector device: write (lba, fill), read, sync, ioctl. */
function traceOf(steps: Step[], source: TraceSource, firmware?: string) {
  const t = new TracingBlockDevice(CowBlockDevice.blank(512, 64), new VirtualClock(), undefined, {
    logIoctls: true,
  });
  for (const s of steps) {
    if (s[0] === "w") t.writeblocks(s[1], new Uint8Array(512).fill(s[2]));
    else if (s[0] === "r") t.readblocks(s[1], new Uint8Array(512));
    else if (s[0] === "s") t.ioctl(IOCTL.SYNC, 0);
    else t.ioctl(IOCTL.BLOCK_COUNT, 0);
  }
  return parseTrace(serialiseTrace(t.log, header(source, 64, firmware)), `${source}.jsonl`);
}

describe("diffTraces", () => {
  it("identical traces agree at 100%", () => {
    const steps: Step[] = [["i"], ["r", 0], ["w", 1, 1], ["s"], ["w", 2, 2]];
    const d = diffTraces(traceOf(steps, "sim"), traceOf(steps, "board"));
    expect(d.equal).toBe(true);
    expect(d.writes).toEqual({
      compared: 2,
      equalAtIndex: 2,
      equalAtIndexPercent: 100,
      equalAnyOrder: 2,
      equalAnyOrderPercent: 100,
      firstDivergence: null,
    });
    expect(d.between).toEqual({ compared: 3, differing: 0, differingGaps: [], firstDivergence: null });
    expect(d.headerDifferences).toEqual([]);
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });

  it("reordered writes: equal in any order, not at the same index; the first divergence names both sides", () => {
    const a = traceOf(
      [
        ["w", 1, 1],
        ["w", 2, 2],
        ["w", 3, 3],
        ["w", 4, 4],
      ],
      "sim",
    );
    const b = traceOf(
      [
        ["w", 1, 1],
        ["w", 3, 3],
        ["w", 2, 2],
        ["w", 4, 4],
        ["w", 5, 5],
      ],
      "board",
      "4.8.1",
    );
    const d = diffTraces(a, b, { roleOf: (lba, side) => `sector ${lba} of ${side}` });
    expect(d.a.counts.write).toBe(4);
    expect(d.b.counts.write).toBe(5);
    expect(d.headerDifferences).toEqual(["firmware"]);
    expect(d.writes).toMatchObject({
      compared: 5,
      equalAtIndex: 2,
      equalAtIndexPercent: 40,
      equalAnyOrder: 4,
      equalAnyOrderPercent: 80,
    });
    expect(d.writes.firstDivergence).toMatchObject({
      writeIndex: 1,
      a: { writeIndex: 1, seq: 1, lba: 2, count: 1, role: "sector 2 of a" },
      b: { writeIndex: 1, seq: 1, lba: 3, count: 1, role: "sector 3 of b" },
    });
    expect(d.equal).toBe(false);
  });

  it("reads and ioctls compare as counts between consecutive writes", () => {
    const a = traceOf([["i"], ["r", 0], ["w", 1, 1], ["r", 1], ["s"], ["w", 2, 2]], "sim");
    const b = traceOf([["i"], ["r", 0], ["w", 1, 1], ["r", 1], ["r", 2], ["s"], ["w", 2, 2], ["s"]], "board");
    const d = diffTraces(a, b);
    expect(d.writes.equalAtIndexPercent).toBe(100);
    expect(d.between).toEqual({
      compared: 3,
      differing: 2,
      differingGaps: [0, 1],
      firstDivergence: {
        afterWrite: 0,
        a: { read: 1, sync: 1, erase: 0, ioctl: 0 },
        b: { read: 2, sync: 1, erase: 0, ioctl: 0 },
      },
    });
    expect(d.equal).toBe(false);
    expect(formatTraceDiff(d)).toContain(
      "reads/ioctls between writes: 2 of 3 gaps differ (after writes 0, 1)",
    );
  });
});

describe("a sim-vs-board divergence named by the sector's role on a real volume", () => {
  it("two runs that differ in one file's bytes diverge at that file's first data write", async () => {
    const clock = new VirtualClock();
    const rt = await FatRuntime.load(clock);
    const formatted = new RamBlockDevice(512, 8192);
    formatWith(rt, formatted, { fatType: 16, fats: 2 });
    const base = CowBlockDevice.over(formatted.data);
    const run = (bContent: number) => {
      const dev = base.fork();
      const tracer = new TracingBlockDevice(dev, clock, undefined, { logIoctls: true });
      const e = rt.mount(tracer);
      for (const [path, v] of [
        ["/a.bin", 0x11],
        ["/b.bin", bContent],
      ] as const) {
        const f = e.open(path, { read: false, write: true, disposition: "create-always" });
        f.write(new Uint8Array(3000).fill(v));
        f.close();
      }
      e.unmount();
      return { dev, log: tracer.log };
    };
    const sim = run(0x22);
    const board = run(0x33);
    const a = parseTrace(serialiseTrace(sim.log, header("sim", 8192)), "sim.jsonl");
    const b = parseTrace(serialiseTrace(board.log, header("board", 8192)), "board.jsonl");
    const roles = sectorRoles(sim.dev);
    const d = diffTraces(a, b, { roleOf: roles.roleOf });
    const div = d.writes.firstDivergence!;
    expect(div.a!.lba).toBe(div.b!.lba);
    expect(div.a!.crc32).not.toBe(div.b!.crc32);
    expect(div.a!.role).toMatch(/^data \/b\.bin \(cluster \d+, byte offset 0\)$/);
    // Only /b.bin's 6 data sectors (3000 bytes) differ; FAT, directory and /a.bin writes agree.
    expect(d.writes.compared - d.writes.equalAtIndex).toBe(6);
    expect(d.writes.equalAnyOrder).toBe(d.writes.equalAtIndex);
    expect(d.between.differing).toBe(0);
    const text = formatTraceDiff(d);
    expect(text).toContain(`first divergence at write ${div.writeIndex}:`);
    expect(text).toContain(`— ${div.a!.role}`);
    expect(text).toMatch(/writes equal at the same index: \d+\/\d+ \(\d+(\.\d+)?%\)/);
  });
});
