/**
 * The report section of a replayed crash state (`--replay ID --report`): the sweep's recording run is
 * redone (deterministic: the same log as the sweep's) to know the writes before the cut, the write the
 * cut interrupted and its torn prefix, and what each file meant to hold; the state's card (the
 * runner's card image) shows what the unsynced policy and collateral damage did on top.
 */
import { blockCountOf, blockSizeOf } from "../../src/block/index.ts";
import { parseStateReplayId, rebuildState } from "../../src/crash/index.ts";
import type { ScenarioResult } from "../runner.ts";
import type { Scenario } from "../scenario-schema.ts";
import { recordScenario } from "../sweep-runner.ts";
import { blockMapData } from "./block-map-data.ts";
import {
  differingSectors,
  expectedSectors,
  fsckSectors,
  intendedContents,
  previewsOf,
  rangesOf,
} from "./card-evidence.ts";
import { REPORT_DATA_FORMAT, type CutCapture, type ReportData, type WriteRange } from "./report-data.ts";

/** Largest collateral-damage scope the fault model has (src/faults: an allocation unit, 4 MiB by default). */
const AU_BYTES = 4 * 1024 * 1024;

/** The report section of `result`, a `--replay` of a state of `scenario` (rebuilt here, copy-on-write). */
export async function replayReportData(scenario: Scenario, result: ScenarioResult): Promise<ReportData> {
  const notes: string[] = [];
  const replayId = result.replay?.replayId ?? "";
  const { point } = parseStateReplayId(replayId);
  const rec = await recordScenario(scenario, result.seed);
  const sectorSize = blockSizeOf(rec.base);
  const card = rebuildState(rec, replayId).device;
  const writes = rec.log.writes();
  const n = point.completedWrites;
  const inFlight = writes[n];
  const torn = point.torn && point.torn.bytes === 0 ? point.torn.sectors : 0;
  const cut: CutCapture = {
    atWrite: n,
    tornSectors: point.torn ? point.torn.sectors : 0,
    ...(inFlight && { write: [inFlight.lba, inFlight.count] as WriteRange }),
  };
  // What the card holds if every completed write and the torn prefix persisted, nothing else changed.
  const expected = expectedSectors(writes.slice(0, n + 1), sectorSize, (op) =>
    op === inFlight ? torn : op.count,
  );
  const changed = differingSectors(card, expected);
  // Sectors no write touched: collateral damage shows as a change from the card before the run. Only
  // the allocation units the writes touched are compared (a card's AU bounds collateral damage; a
  // 64 GiB card has 134 M sectors).
  const perAu = Math.max(1, Math.floor(AU_BYTES / sectorSize));
  const aus = new Set(
    writes
      .slice(0, n + 1)
      .flatMap((w) => [Math.floor(w.lba / perAu), Math.floor((w.lba + w.count - 1) / perAu)]),
  );
  const want = new Uint8Array(sectorSize);
  const got = new Uint8Array(sectorSize);
  const blocks = blockCountOf(card);
  for (const au of [...aus].sort((a, b) => a - b))
    for (let lba = au * perAu; lba < Math.min(blocks, (au + 1) * perAu); lba++) {
      if (expected.has(lba)) continue;
      rec.base.readblocks(lba, want);
      card.readblocks(lba, got);
      if (Buffer.compare(want, got) !== 0) changed.push(lba);
    }
  const damaged = rangesOf(changed);
  const before = writes.slice(0, n).map((w): WriteRange => [w.lba, w.count]);
  const last = Math.max(0, ...writes.map((w) => w.lba + w.count - 1), ...damaged.map(([s, c]) => s + c - 1));
  const map = blockMapData(card, rec.mountPoint, last);
  if (map.note) notes.push(map.note);
  const files = await previewsOf(scenario, card, rec.mountPoint, intendedContents(rec.files, n), notes);
  return {
    format: REPORT_DATA_FORMAT,
    kind: "replay",
    mountPoint: rec.mountPoint,
    map,
    steps: [],
    cut,
    writesBeforeCut: before,
    damaged,
    fsckSectors: fsckSectors(result.fsck, map, rec.mountPoint),
    files,
    notes,
  };
}
