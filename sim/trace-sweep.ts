/**
 * Crash sweeps of a recorded write order (issue 11, item 3; the dm-log-writes + replay-log idea): a
 * `cardsim-trace/1` file with every write's bytes (`"data":"inline"`) and the card as it was before
 * its first write make a {@link Recording}, which src/crash sweeps and replays exactly as it does the
 * simulator's own recording — same policies, classes, readers, replay IDs, shards, result format.
 *
 * What the trace cannot say is what the device MEANT each file to hold (the oracle's expected
 * content). It is the scenario's intent, the same on every target because both sides get the same
 * inputs (frames, urandom stream, clock): the simulator's recording of the scenario gives the file
 * histories. When the trace's write order equals the simulator's, the histories apply as they are;
 * otherwise each version is moved to the trace's write count at the same barrier (the k-th sync,
 * which ends the f_sync that committed it: FatFs f_sync → sync_fs → disk_ioctl(CTRL_SYNC)).
 *
 * What is swept: the trace up to its first `cut` line, and, like a simulated sweep, only the steps
 * before the scenario's first `cut_power` or `reboot` (found through the simulator's recording).
 */
import { CowBlockDevice } from "../src/block/index.ts";
import { recordingOf, type FileHistory, type Recording } from "../src/crash/index.ts";
import { InputError } from "../src/input/index.ts";
import { WriteLog, type BlockOp, type Trace } from "../src/trace/index.ts";
import type { Scenario } from "./scenario-schema.ts";
import { cardConfigOf, profileOf } from "./scenario-profile.ts";
import { recordScenario } from "./sweep-runner.ts";

/** How the file histories were fitted to the trace. */
export type HistoryFit = "same-write-order" | "mapped-by-barrier";

/** A trace's recording, with how its histories were obtained. */
export interface TraceRecording {
  readonly recording: Recording;
  readonly histories: HistoryFit;
  /** Writes of the trace that the sweep covers (before the first cut / the scenario's reboot). */
  readonly sweptWrites: number;
  /** Writes of the trace file. */
  readonly traceWrites: number;
}

const swept = (op: BlockOp): boolean => op.kind === "write" || op.kind === "sync" || op.kind === "erase";

/**
 * The sweep's log of a trace: writes, syncs and erases (what the crash engine reads) before `endSeq`,
 * numbered again from 0 as a sweep recording numbers them; marks keep their place.
 */
export function sweepLogOf(trace: Trace, endSeq = Number.MAX_SAFE_INTEGER): WriteLog {
  const log = new WriteLog();
  const newSeq = new Int32Array(trace.log.ops.length + 1);
  for (const op of trace.log.ops) {
    newSeq[op.seq] = log.nextSeq;
    if (op.seq >= endSeq || !swept(op)) continue;
    log.ops.push({ ...op, seq: log.nextSeq });
  }
  newSeq[trace.log.ops.length] = log.nextSeq;
  for (const m of trace.log.marks)
    if (m.seq <= endSeq) log.marks.push({ name: m.name, seq: newSeq[m.seq], timeMicros: m.timeMicros });
  return log;
}

function sameOp(a: BlockOp, b: BlockOp): boolean {
  return (
    a.kind === b.kind &&
    a.lba === b.lba &&
    a.count === b.count &&
    a.offset === b.offset &&
    a.crc32 === b.crc32 &&
    a.result === b.result
  );
}

/** Writes completed before each sync (by sync ordinal), and the total. */
function barriers(log: WriteLog): { before: number[]; writes: number } {
  const before: number[] = [];
  let writes = 0;
  for (const op of log.ops) {
    if (op.kind === "write") writes++;
    else if (op.kind === "sync") before.push(writes);
  }
  return { before, writes };
}

/**
 * Moves each history event from the simulator's write count to the trace's: an event k syncs and d
 * writes into the simulator's log lands d writes after the trace's k-th sync (never past its next).
 */
function mapHistories(files: readonly FileHistory[], sim: WriteLog, trace: WriteLog): FileHistory[] {
  const s = barriers(sim);
  const t = barriers(trace);
  const simSeqOfSync: number[] = [];
  for (const op of sim.ops) if (op.kind === "sync") simSeqOfSync.push(op.seq);
  const at = (writes: number, seq: number): number => {
    if (writes === 0) return 0;
    let k = 0;
    while (k < simSeqOfSync.length && simSeqOfSync[k] < seq) k++;
    const base = k === 0 ? 0 : s.before[k - 1];
    const tBase = k === 0 ? 0 : (t.before[Math.min(k, t.before.length) - 1] ?? 0);
    const limit = k < t.before.length ? t.before[k] : t.writes;
    return Math.min(tBase + (writes - base), limit);
  };
  return files.map((h) => ({
    path: h.path,
    events: h.events.map((e) => ({ ...e, writes: at(e.writes, e.seq) })),
  }));
}

/** Checks that `base` is the card the trace starts from (its size) and makes the sweep's base. */
export function baseOf(trace: Trace, image: Uint8Array, baseFile: string): CowBlockDevice {
  const { sectors, sectorSize } = trace.header;
  const want = sectors * sectorSize;
  if (image.length !== want)
    throw new InputError(baseFile, [
      {
        path: ["size"],
        message:
          `expected ${want} bytes (the trace's ${sectors} sectors of ${sectorSize} bytes, ` +
          `${trace.file}:1), found ${image.length}`,
      },
    ]);
  // A plain Uint8Array view: a Node Buffer's slice() is a view, not a copy, and a copy-on-write
  // device's partial-block write would then modify the base image through it.
  const plain = new Uint8Array(image.buffer, image.byteOffset, image.length);
  return CowBlockDevice.over(plain, sectorSize);
}

/** The header fields of `trace` that must match the scenario it is swept with. */
export function checkTraceFitsScenario(trace: Trace, scenario: Scenario): void {
  const h = trace.header;
  const fail = (field: string, expected: string, found: string): never => {
    throw new InputError(trace.file, [
      { path: [field], line: 1, message: `expected ${expected}, found ${found}` },
    ]);
  };
  if (h.data !== "inline")
    fail(
      "data",
      '"inline" (record the run with --record-data: a sweep needs every write\'s bytes)',
      `"${h.data}"`,
    );
  if (h.scenario !== scenario.name)
    fail("scenario", `"${scenario.name}" (the scenario swept)`, `"${h.scenario}"`);
  if (h.profile !== scenario.device.profile)
    fail("profile", `"${scenario.device.profile}" (the scenario's device)`, `"${h.profile}"`);
  if (h.firmware !== scenario.device.firmware)
    fail("firmware", `"${scenario.device.firmware}" (the scenario's firmware)`, `"${h.firmware}"`);
  const card = cardConfigOf(scenario);
  if (h.source === "sim" && h.sectors !== card.capacitySectors)
    fail("sectors", `${card.capacitySectors} (the scenario's card)`, String(h.sectors));
}

/**
 * The recording of `trace` over `base` for `scenario`: the swept part of the trace's log and the file
 * histories of the simulator's recording, fitted to the trace's write order.
 */
export async function traceRecording(
  scenario: Scenario,
  trace: Trace,
  base: CowBlockDevice,
): Promise<TraceRecording> {
  checkTraceFitsScenario(trace, scenario);
  const seed = trace.header.seed;
  const sim = await recordScenario(scenario, seed);
  const firstCut = trace.log.cuts.reduce((m, c) => Math.min(m, c.beforeSeq), Number.MAX_SAFE_INTEGER);
  let log = sweepLogOf(trace, firstCut);
  const hasStop = scenario.steps.some((s) => s.op === "cut_power" || s.op === "reboot");
  const prefix = log.ops.length >= sim.log.ops.length && sim.log.ops.every((op, i) => sameOp(op, log.ops[i]));
  const same = prefix && (hasStop || log.ops.length === sim.log.ops.length);
  if (hasStop) {
    // The simulated sweep covers the steps before the first cut_power/reboot: end the trace there too.
    const b = barriers(sim.log);
    log = truncated(
      log,
      prefix ? sim.log.ops.length : endAfterBarrier(log, b.before.length, b.writes - (b.before.at(-1) ?? 0)),
    );
  }
  const files = same ? sim.files : mapHistories(sim.files, sim.log, log);
  const recording = recordingOf({
    name: scenario.name,
    seed,
    mountPoint: profileOf(scenario).mountPoint,
    base,
    log,
    files,
  });
  return {
    recording,
    histories: same ? "same-write-order" : "mapped-by-barrier",
    sweptWrites: recording.writeCount,
    traceWrites: trace.writeCount,
  };
}

/** The first `end` ops of a renumbered log (seq = index) and the marks before them. */
function truncated(log: WriteLog, end: number): WriteLog {
  const out = new WriteLog();
  out.ops.push(...log.ops.slice(0, end));
  out.marks.push(...log.marks.filter((m) => m.seq <= end));
  return out;
}

/** The seq just after `tail` writes past the `k`-th sync of `log` (or its end). */
function endAfterBarrier(log: WriteLog, k: number, tail: number): number {
  let syncs = 0;
  let i = 0;
  for (; i < log.ops.length && syncs < k; i++) if (log.ops[i].kind === "sync") syncs++;
  for (let w = 0; i < log.ops.length && w < tail; i++) if (log.ops[i].kind === "write") w++;
  return i;
}
