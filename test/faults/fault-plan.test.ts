import { describe, expect, it } from "vitest";
import { displayPath } from "../../src/input/index.ts";
import { stringify } from "yaml";
import { CowBlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { TracingBlockDevice } from "../../src/trace/index.ts";
import {
  FaultPlanError,
  FaultyBlockDevice,
  parseFaultPlan,
  parseFaultPlanText,
  validateFaultPlanAgainstLog,
} from "../../src/faults/index.ts";

function issuesOf(input: unknown): string[] {
  try {
    parseFaultPlan(input);
  } catch (e) {
    expect(e).toBeInstanceOf(FaultPlanError);
    return (e as FaultPlanError).issues.map((i) => `${displayPath(i.path)}: ${i.message}`);
  }
  throw new Error("plan was accepted");
}

describe("fault plan validation", () => {
  it("names an unknown kind with its position and every allowed kind", () => {
    expect(
      issuesOf({ faults: [{ kind: "power-cut", atWrite: 1 }, { kind: "torn-write" }, { kind: "tornn" }] }),
    ).toEqual([
      "faults[2].kind: unknown kind 'tornn'; expected one of power-cut, torn-write, unsynced-writes, bit-flip, " +
        "collateral, transient-error, busy-timeout, stale-dma, usb-host, metastable",
    ]);
  });

  it("rejects negative sizes, bad enum values and unknown fields, naming each field", () => {
    expect(
      issuesOf({
        seed: -1,
        faults: [
          { kind: "power-cut", atWrite: -3 },
          { kind: "torn-write", sectors: -1, fill: "zero" },
          { kind: "collateral", pageBytes: 0, scope: "block" },
          { kind: "stale-dma", misalignBytes: 32, edge: "both" },
        ],
      }),
    ).toEqual(["seed: expected value >= 0; got number -1"]);
    expect(
      issuesOf({
        faults: [
          { kind: "power-cut", atWrite: -3 },
          { kind: "torn-write", sectors: -1, fill: "zero" },
          { kind: "collateral", pageBytes: 0, scope: "block" },
          { kind: "stale-dma", misalignBytes: 32, edge: "both" },
        ],
      }),
    ).toEqual([
      "faults[0].atWrite: expected value >= 0; got number -3",
      "faults[1].sectors: expected value >= 0; got number -1",
      'faults[1].fill: expected one of old, ff, garbage; got string "zero"',
      'faults[2].scope: expected one of page, allocation-unit; got string "block"',
      "faults[2].pageBytes: expected value > 0; got number 0",
      "faults[3].misalignBytes: expected value <= 31; got number 32",
      "faults[3].edge: unknown field 'edge'; expected one of kind, misalignBytes, reads, maxReadBytes, probability, edges",
    ]);
  });

  it("checks combinations: one cut position, modifiers need a power cut, usb-host needs its schedule", () => {
    expect(issuesOf({ faults: [{ kind: "power-cut", atWrite: 1, atTimeMicros: 5 }] })).toEqual([
      "faults[0]: exactly one of atWrite, atTimeMicros, atMark is required (got 2)",
    ]);
    expect(issuesOf({ faults: [{ kind: "unsynced-writes", policy: "drop-all" }] })).toEqual([
      "faults[0].kind: unsynced-writes needs a power-cut fault in the plan",
    ]);
    expect(
      issuesOf({
        faults: [
          { kind: "power-cut", atWrite: 1 },
          { kind: "unsynced-writes", policy: "drop-some" },
        ],
      }),
    ).toEqual([
      'faults[1].policy: expected one of persist-all, drop-all, random-subset, reorder; got string "drop-some"',
    ]);
    expect(issuesOf({ faults: [{ kind: "usb-host" }] })).toEqual([
      "faults[0].mountAt: missing required field (object)",
    ]);
    expect(issuesOf({ faults: [{ kind: "transient-error", op: "read" }] })).toEqual([
      "faults[0]: exactly one of atOp, probability is required",
    ]);
  });

  it("puts the issues in the error message, with the source name", () => {
    expect(() => parseFaultPlanText("faults:\n  - kind: tornn\n", "plans/x.yaml")).toThrow(
      "invalid fault plan plans/x.yaml: faults[0].kind: unknown kind 'tornn'; expected one of power-cut,",
    );
  });

  it("is plain data: a validated plan survives JSON and YAML round trips unchanged", () => {
    const plan = parseFaultPlan({
      seed: 4,
      faults: [
        { kind: "power-cut", atMark: "after-save", offsetWrites: 3 },
        { kind: "torn-write", sectors: 1, fill: "garbage" },
        { kind: "unsynced-writes", policy: "random-subset", keepProbability: 0.5 },
        { kind: "collateral" },
        { kind: "busy-timeout", op: "write", probability: 0.01 },
      ],
    });
    expect(plan.faults[3]).toEqual({
      kind: "collateral",
      scope: "page",
      fill: "ff",
      pageBytes: 16384,
      allocationUnitBytes: 4194304,
    });
    expect(parseFaultPlan(JSON.parse(JSON.stringify(plan)))).toEqual(plan);
    expect(parseFaultPlanText(stringify(plan))).toEqual(plan);
  });
});

describe("validation against a recorded log and a device", () => {
  const tracer = new TracingBlockDevice(CowBlockDevice.blank(512, 64), new VirtualClock());
  for (let i = 0; i < 5; i++) tracer.writeblocks(i, new Uint8Array(512));
  tracer.mark("m");
  tracer.writeblocks(9, new Uint8Array(512));
  const log = tracer.log;

  it("rejects a cut beyond the last write and unknown marks", () => {
    expect(() =>
      validateFaultPlanAgainstLog(parseFaultPlan({ faults: [{ kind: "power-cut", atWrite: 6 }] }), log),
    ).not.toThrow();
    expect(() =>
      validateFaultPlanAgainstLog(parseFaultPlan({ faults: [{ kind: "power-cut", atWrite: 7 }] }), log),
    ).toThrow("faults[0].atWrite: 7 is beyond the last write of the log; allowed 0..6 (6 writes)");
    expect(() =>
      validateFaultPlanAgainstLog(parseFaultPlan({ faults: [{ kind: "power-cut", atMark: "n" }] }), log),
    ).toThrow("faults[0].atMark: mark 'n' (occurrence 0) not in the log (0 found); marks: m");
    expect(() =>
      validateFaultPlanAgainstLog(
        parseFaultPlan({ faults: [{ kind: "power-cut", atMark: "m", offsetWrites: 2 }] }),
        log,
      ),
    ).toThrow("faults[0].offsetWrites: mark 'm' + 2 writes = write 7, beyond the last write; allowed 0..1");
  });

  it("rejects a torn byte count that is not inside one sector of the device", () => {
    const plan = parseFaultPlan({
      faults: [
        { kind: "power-cut", atWrite: 1 },
        { kind: "torn-write", bytes: 512 },
      ],
    });
    expect(
      () => new FaultyBlockDevice(CowBlockDevice.blank(512, 8), plan, { clock: new VirtualClock() }),
    ).toThrow("faults[1].bytes: must be < the sector size 512, got 512");
  });
});
