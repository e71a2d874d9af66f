/**
 * Power cuts compared on hardware (issue 11, item 4): `cardsim compare X --port P --cut-at N` cuts
 * the board at its write N (the agent's LogBdev: act dead, then reset or `--power-cycle`), reads the
 * card back and classifies it, and compares with the simulator cut at the same point of ITS write
 * order. Indexes may differ between the two logs, so board write N is mapped onto the simulator's
 * trace by the sector it writes (the same volume layout on both sides: the sector stands for its
 * role) and its position: the k-th write of those bytes to that sector, else the k-th write to that
 * sector, else the same index. `--cuts K` spreads K cuts evenly over the board's writes.
 *
 * A board's card has one cache behaviour, the simulator models several (the unsynced-write policies
 * and torn variants of a sweep): at the mapped writes the simulator sweeps every state of the
 * scenario's sweep plan (the default plan when it has none), and the board agrees when its class is
 * among those states' classes (`matched` names the policies that gave it).
 */
import { RamBlockDevice } from "../src/block/index.ts";
import { reboot, worse, type FileClass } from "../src/crash/index.ts";
import type { BlockOp } from "../src/trace/index.ts";
import type { CompareResult, CutComparison, SimCutState } from "./compare-types.ts";
import { InputError } from "../src/input/index.ts";
import { compareRuns, recordRun, recordOnSim, type RunRecord } from "./compare.ts";
import { runScenario, type SweptState, type TargetFactory } from "./runner.ts";
import { DEFAULT_SWEEP_PLAN, type Scenario, type SweepClass, type SweepPlan } from "./scenario-schema.ts";
import { engineOf, fatDriver, profileOf } from "./scenario-profile.ts";
import { SimulatedTarget } from "./simulated-target.ts";
import { recordScenario, simulatedSweepRunner } from "./sweep-runner.ts";

const writesOf = (r: RunRecord): BlockOp[] => r.trace?.log.ops.filter((o) => o.kind === "write") ?? [];

/** The simulator's write index for board write `n` (see the file comment), or null past its log. */
export function mapBoardWrite(board: readonly BlockOp[], sim: readonly BlockOp[], n: number): number | null {
  const w = board[n];
  if (!w) return null;
  const nth = (list: readonly BlockOp[], upto: number, same: (o: BlockOp) => boolean): number =>
    list.slice(0, upto).filter(same).length;
  const sameBytes = (o: BlockOp): boolean => o.lba === w.lba && o.count === w.count && o.crc32 === w.crc32;
  const sameSector = (o: BlockOp): boolean => o.lba === w.lba;
  for (const same of [sameBytes, sameSector]) {
    const k = nth(board, n, same);
    let seen = 0;
    for (let i = 0; i < sim.length; i++)
      if (same(sim[i])) {
        if (seen === k) return i;
        seen++;
      }
  }
  return n < sim.length ? n : null;
}

/** K cut points spread over `writes` writes (the middle of K equal parts), distinct, ascending. */
export function spreadCuts(writes: number, k: number): number[] {
  const cuts = new Set<number>();
  for (let i = 0; i < k; i++) cuts.add(Math.min(writes - 1, Math.floor(((i + 0.5) * writes) / k)));
  return [...cuts].filter((c) => c >= 0).sort((a, b) => a - b);
}

/** The scenario with one more fault: a power cut at write `atWrite` (a cut at a block boundary). */
export function withCut(scenario: Scenario, atWrite: number): Scenario {
  return { ...scenario, faults: [...scenario.faults, { kind: "power-cut", atWrite }] };
}

/**
 * The simulator's crash states at each of `cuts` (its write indexes): one sweep of `plan` (every
 * torn variant × unsynced-write policy × seed) restricted to those cut points, grouped by cut. A
 * sweep covers the writes before the scenario's first `cut_power`/`reboot`: cuts past them are not
 * in the map.
 */
export async function simStatesAtCuts(
  scenario: Scenario,
  plan: SweepPlan,
  cuts: readonly number[],
  seed?: number,
): Promise<Map<number, SimCutState[]>> {
  const out = new Map<number, SimCutState[]>();
  const sweepable = (await recordScenario(scenario, seed ?? scenario.seed)).writeCount;
  const inRange = cuts.filter((c) => c < sweepable);
  for (const c of inRange) out.set(c, []);
  if (inRange.length === 0) return out;
  const { sample: _sample, ...whole } = plan;
  const states: SweptState[] = [];
  await runScenario(
    { ...scenario, sweep: { ...whole, cuts: [...new Set(inRange)].sort((a, b) => a - b) } },
    (sc, o) => SimulatedTarget.create(sc, o),
    {
      ...(seed !== undefined && { seed }),
      sweepRunner: simulatedSweepRunner,
      onSweepState: (st) => void states.push(st),
    },
  );
  for (const st of states)
    out.get(st.cut)?.push({ policy: st.policy, torn: st.torn, class: st.class, replayId: st.replayId });
  return out;
}

/** A board's state class after a cut: its worst file (absent counts as intact), or unmountable. */
export async function boardStateClass(scenario: Scenario, board: RunRecord): Promise<SweepClass> {
  if (board.card) {
    const boot = reboot(RamBlockDevice.fromImage(board.card.slice()), {
      runtime: await fatDriver(engineOf(scenario)),
      mountPoint: profileOf(scenario).mountPoint,
    });
    if (!boot.mounted) return "unmountable";
    boot.shutdown();
  }
  let worst: FileClass = "intact";
  for (const c of Object.values(board.result.files)) if (c !== "absent") worst = worse(worst, c);
  return worst;
}

/**
 * Runs each board cut, and compares the board's state class with the simulator's crash states at the
 * mapped write (see the file comment); each file's class after the simulator's plain cut there is
 * kept beside it. `sim` and `board` are the uncut runs (their traces give the mapping).
 */
export async function compareCuts(
  scenario: Scenario,
  uncut: { sim: RunRecord; board: RunRecord },
  boardCuts: readonly number[],
  createBoard: TargetFactory,
  seed?: number,
  plan: SweepPlan = DEFAULT_SWEEP_PLAN,
): Promise<CutComparison[]> {
  const boardWrites = writesOf(uncut.board);
  const simWrites = writesOf(uncut.sim);
  const mapped = boardCuts.map((n) => mapBoardWrite(boardWrites, simWrites, n));
  const states = await simStatesAtCuts(
    scenario,
    plan,
    mapped.filter((m): m is number => m !== null),
    seed,
  );
  const out: CutComparison[] = [];
  for (const [i, n] of boardCuts.entries()) {
    const m = mapped[i];
    const onBoard = await recordRun(withCut(scenario, n), createBoard, {
      card: true,
      ...(seed !== undefined && { seed }),
    });
    const onSim = m === null ? undefined : await recordOnSim(withCut(scenario, m), seed);
    const boardClass = await boardStateClass(scenario, onBoard);
    // Past the sweep's range (after a reboot) the plain cut is the one state the simulator has.
    const simStates =
      m === null
        ? []
        : (states.get(m) ?? [
            {
              policy: "plain-cut",
              torn: "none",
              class: await boardStateClass(scenario, onSim!),
              replayId: "",
            },
          ]);
    const matched = simStates.filter((s) => s.class === boardClass).map((s) => `${s.policy}/${s.torn}`);
    out.push({
      boardWrite: n,
      simWrite: m,
      sim: onSim?.result.files ?? null,
      board: onBoard.result.files,
      boardClass,
      simStates,
      matched,
      agree: matched.length > 0,
    });
  }
  return out;
}

/** `result` with its cut comparisons: a cut whose classes or fsck differ is a difference (severity 3). */
export function withCuts(result: CompareResult, cuts: readonly CutComparison[]): CompareResult {
  const differences = [...result.differences];
  for (const c of cuts)
    if (!c.agree)
      differences.push({
        area: "cut",
        what: `cut at board write ${c.boardWrite} (sim write ${c.simWrite ?? "none"}) class`,
        sim: [...new Set(c.simStates.map((s) => s.class))],
        board: c.boardClass,
        severity: 3,
      });
  differences.sort((x, y) => y.severity - x.severity);
  const failing = differences.some((d) => d.area !== "trace" || result.strictTrace);
  return { ...result, cuts: [...cuts], differences, verdict: failing ? "differ" : "agree" };
}

/** Where to cut: board write `at` (`--cut-at N`), or `count` cuts spread over its writes (`--cuts K`). */
export type CutPlan = { at: number } | { count: number };

/**
 * The scenario compared uncut, then at the planned cuts. A scenario with a sweep block is compared as
 * its plain run (a board does not sweep: the cuts are its sweep).
 */
export async function compareWithCuts(
  scenario: Scenario,
  createBoard: TargetFactory,
  options: {
    port: string;
    strictTrace?: boolean;
    liveSensor?: boolean;
    seed?: number;
    nowMillis?: () => number;
  },
  plan: CutPlan,
): Promise<CompareResult> {
  const { sweep: _sweep, ...rest } = scenario;
  const plain: Scenario = rest;
  const t0 = options.nowMillis?.() ?? 0;
  const sim = await recordOnSim(plain, options.seed);
  const board = await recordRun(plain, createBoard, {
    card: true,
    ...(options.seed !== undefined && { seed: options.seed }),
  });
  const writes = writesOf(board).length;
  if ("at" in plan && plan.at >= writes)
    throw new InputError(undefined, [
      { path: ["--cut-at"], message: `the board's run has writes 0..${writes - 1}, got ${plan.at}` },
    ]);
  const points = "at" in plan ? [plan.at] : spreadCuts(writes, plan.count);
  const cuts = await compareCuts(
    plain,
    { sim, board },
    points,
    createBoard,
    options.seed,
    scenario.sweep ?? DEFAULT_SWEEP_PLAN,
  );
  const result = compareRuns(plain, sim, board, {
    port: options.port,
    ...(options.strictTrace !== undefined && { strictTrace: options.strictTrace }),
    ...(options.liveSensor !== undefined && { liveSensor: options.liveSensor }),
  });
  return withCuts({ ...result, wallMillis: (options.nowMillis?.() ?? 0) - t0 }, cuts);
}
