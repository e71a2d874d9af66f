/**
 * Captures what a report needs from a plain run without changing the runner: a wrapper around the
 * target that notes, after each step, where the block log and the device log stand, and keeps the
 * evidence. After the run, {@link RunCapture.build} turns that into the result's `reportData`.
 */
import { blockSizeOf } from "../../src/block/index.ts";
import type { WriteLog } from "../../src/trace/index.ts";
import type { ScenarioResult, TargetFactory } from "../runner.ts";
import type { Scenario } from "../scenario-schema.ts";
import type { ScenarioTarget, TargetEvidence } from "../target.ts";
import { blockMapData } from "./block-map-data.ts";
import {
  differingSectors,
  expectedSectors,
  fsckSectors,
  intendedContents,
  previewsOf,
  rangesOf,
} from "./card-evidence.ts";
import {
  REPORT_DATA_FORMAT,
  type CutCapture,
  type ReportData,
  type StepCapture,
  type WriteRange,
} from "./report-data.ts";

interface StepMark {
  index: number;
  /** Next op's seq after the step. */
  seq: number;
  /** Device log lines after the step. */
  lines: number;
}

export class RunCapture {
  private readonly marks: StepMark[] = [];
  private log: WriteLog | undefined;
  private evidence: TargetEvidence | undefined;

  /** The factory to give the runner: the same targets, observed. */
  wrap(create: TargetFactory): TargetFactory {
    return async (scenario, options) => {
      const inner = await create(scenario, options);
      const marks = this.marks;
      const capture = async (index: number): Promise<void> => {
        const t = inner.trace ? await inner.trace() : undefined;
        this.log = t?.log;
        marks.push({ index, seq: t?.log.nextSeq ?? 0, lines: (await inner.deviceLog()).length });
      };
      const target: ScenarioTarget = {
        name: inner.name,
        capabilities: inner.capabilities,
        runStep: async (step, index) => {
          const r = await inner.runStep(step, index);
          await capture(index);
          return r;
        },
        deviceLog: () => inner.deviceLog(),
        evidence: async () => (this.evidence = await inner.evidence()),
        close: () => inner.close(),
        ...(inner.cardImage && { cardImage: () => inner.cardImage!() }),
        ...(inner.trace && { trace: () => inner.trace!() }),
      };
      return target;
    };
  }

  /** The report section of `result` (the run the wrapped factory made). */
  async build(scenario: Scenario, result: ScenarioResult): Promise<ReportData> {
    const notes: string[] = [];
    const ev = this.evidence;
    const mountPoint = ev?.mountPoint ?? "";
    const ops = this.log?.ops ?? [];
    if (!this.log) notes.push(`target '${result.target}' keeps no block log: the block map shows no writes`);
    const steps: StepCapture[] = [];
    let from = 0;
    let lineFrom = 0;
    let cut: CutCapture | undefined;
    const cutsBySeq = new Map((this.log?.cuts ?? []).map((c) => [c.beforeSeq, c]));
    const writeIndex = new Map<number, number>();
    ops.filter((o) => o.kind === "write").forEach((o, i) => writeIndex.set(o.seq, i));
    for (const m of this.marks) {
      const writes: WriteRange[] = [];
      for (const op of ops.slice(from, m.seq)) {
        if (op.kind !== "write") continue;
        const c = cutsBySeq.get(op.seq + 1);
        if (op.result !== 0 && c && c.atWrite === writeIndex.get(op.seq))
          cut = {
            step: m.index,
            atWrite: c.atWrite,
            write: [op.lba, op.count],
            tornSectors: c.tornSectors ?? 0,
          };
        else if (op.result === 0) writes.push([op.lba, op.count]);
      }
      if (!cut)
        for (const c of this.log?.cuts ?? [])
          if (c.beforeSeq >= from && c.beforeSeq <= m.seq && c.tornSectors === null)
            cut = { step: m.index, atWrite: c.atWrite, tornSectors: 0 };
      steps.push({ index: m.index, writes, log: [lineFrom, m.lines] });
      from = m.seq;
      lineFrom = m.lines;
    }
    let damaged: WriteRange[] = [];
    let map = null;
    if (ev) {
      const sectorSize = blockSizeOf(ev.card);
      const cutSeqs = new Set(
        (this.log?.cuts ?? []).filter((c) => c.tornSectors !== null).map((c) => c.beforeSeq - 1),
      );
      const expected = expectedSectors(ops, sectorSize, (op) =>
        op.result === 0
          ? op.count
          : cutSeqs.has(op.seq)
            ? (this.log!.cuts.find((c) => c.beforeSeq - 1 === op.seq)?.tornSectors ?? 0)
            : 0,
      );
      damaged = rangesOf(differingSectors(ev.card, expected));
      const last = Math.max(0, ...ops.filter((o) => o.kind === "write").map((o) => o.lba + o.count - 1));
      map = blockMapData(ev.card, mountPoint, last);
    }
    const files = ev
      ? await previewsOf(scenario, ev.card, mountPoint, intendedContents(ev.files), notes)
      : [];
    if (map?.note) notes.push(map.note);
    return {
      format: REPORT_DATA_FORMAT,
      kind: "run",
      mountPoint,
      map,
      steps,
      ...(cut && { cut }),
      damaged,
      fsckSectors: fsckSectors(result.fsck, map, mountPoint),
      files,
      notes,
    };
  }
}
