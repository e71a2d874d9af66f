/**
 * A scripted fake target and sweep runner for the runner/CLI tests: fully deterministic, no storage
 * model behind it. Faults it understands (in the scenario's `faults:`):
 *   { kind: "fake-corrupt", path }      read_back of path fails with OSError: Unsupported format!
 *                                       and the file classifies `silent`
 *   { kind: "fake-fsck", finding }      fsck reports one finding of that kind
 */
import { createHash } from "node:crypto";
import type { Scenario } from "../../sim/scenario-schema.ts";
import { ReplayIdError } from "../../sim/runner.ts";
import type { ReplayResult, SweepRunner, SweepRunOptions } from "../../sim/runner.ts";
import type { RunOracle } from "../../sim/oracle.ts";
import type { ScenarioTarget, Step, StepResult, TargetCapability, TargetEvidence } from "../../sim/target.ts";
import type { SweepCell, SweepPartial } from "../../sim/shard.ts";
import { RamBlockDevice } from "../../src/block/index.ts";
import { tornKey } from "../../src/crash/index.ts";
import { sweepSpecOf } from "../../sim/scenario-schema.ts";
import { SWEEP_CLASSES } from "../../sim/scenario-schema.ts";
import type { SweepClass } from "../../sim/scenario-schema.ts";

const ALL_CAPS: TargetCapability[] = [
  "power-cut",
  "fault-injection",
  "usb-host",
  "crash-sweep",
  "card-image",
];

function abs(path: string): string {
  return path.startsWith("/") ? path : `/sdcard/${path}`;
}

function sha(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

export class FakeTarget implements ScenarioTarget {
  readonly name = "fake";
  readonly capabilities: ReadonlySet<TargetCapability>;
  private timeMicros = 0;
  private readonly files = new Map<string, string>();
  private readonly log: string[] = [];
  closed = false;

  constructor(
    private readonly scenario: Scenario,
    private readonly seed: number,
    caps: TargetCapability[] = ALL_CAPS,
  ) {
    this.capabilities = new Set(caps);
  }

  private corrupt(path: string): boolean {
    return this.scenario.faults.some((f) => f.kind === "fake-corrupt" && abs(String(f.path)) === path);
  }

  runStep(step: Step, index: number): Promise<StepResult> {
    this.timeMicros += 1000 * (index + 1);
    const a = step.args as Record<string, string | number | undefined>;
    const base = { index, op: step.op, timeMicros: this.timeMicros };
    switch (step.op) {
      case "save":
      case "mkdir": {
        const path = abs(String(a.path));
        const content = `${path}:${this.seed}`;
        this.files.set(path, content);
        return Promise.resolve({
          ...base,
          status: "ok",
          files: [{ path, size: content.length, sha256: sha(content) }],
        });
      }
      case "read_back": {
        const path = abs(String(a.path));
        if (!this.files.has(path)) {
          this.log.push(`ERROR, [IMG] Failed read raw image file:${path}, error: Could not find the file`);
          return Promise.resolve({
            ...base,
            status: "error",
            error: { type: "OSError", message: "Could not find the file" },
            files: [],
          });
        }
        if (this.corrupt(path)) {
          this.log.push(`ERROR, [IMG] Failed read raw image file:${path}, error: Unsupported format!`);
          return Promise.resolve({
            ...base,
            status: "error",
            error: { type: "OSError", message: "Unsupported format!" },
            files: [],
          });
        }
        return Promise.resolve({ ...base, status: "ok", files: [] });
      }
      case "remove": {
        const path = abs(String(a.path));
        this.files.delete(path);
        return Promise.resolve({ ...base, status: "ok", files: [{ path, size: null, sha256: null }] });
      }
      default:
        return Promise.resolve({ ...base, status: "ok", files: [] });
    }
  }

  deviceLog(): Promise<string[]> {
    return Promise.resolve([...this.log]);
  }

  classify(paths: readonly string[]): Promise<Record<string, "intact" | "silent" | "absent">> {
    return Promise.resolve(
      Object.fromEntries(
        paths.map((p) => [p, !this.files.has(p) ? "absent" : this.corrupt(p) ? "silent" : "intact"]),
      ),
    );
  }

  fsck(): Promise<{ kind: string; message: string }[]> {
    return Promise.resolve(
      this.scenario.faults
        .filter((f) => f.kind === "fake-fsck")
        .map((f) => ({ kind: String(f.finding), message: `fake ${String(f.finding)}` })),
    );
  }

  /** Evidence for {@link fakeOracle}: a blank card and the target itself. */
  evidence(): Promise<FakeEvidence> {
    return Promise.resolve({
      card: new RamBlockDevice(512, 8),
      files: [],
      mountPoint: "/sdcard",
      target: this,
    });
  }

  cardImage(): Promise<Uint8Array> {
    return Promise.resolve(new TextEncoder().encode(`card of ${this.scenario.name} seed ${this.seed}\n`));
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

interface FakeEvidence extends TargetEvidence {
  readonly target: FakeTarget;
}

/** The runner's oracles for fake targets: their scripted classify and fsck. */
export const fakeOracle: RunOracle = {
  classify: (_scenario, _seed, evidence, paths) => (evidence as FakeEvidence).target.classify(paths),
  fsck: (evidence) => (evidence as FakeEvidence).target.fsck(),
};

/** Class of state `ordinal` of a fake sweep: a fixed function of (seed, ordinal). */
/** The classes the fake sweep draws: those of a sweep without metastable reads (no `unstable`). */
const FAKE_CLASSES = SWEEP_CLASSES.filter((c) => c !== "unstable");

function fakeClass(seed: number, ordinal: number): SweepClass {
  const h = createHash("sha256").update(`${seed}:${ordinal}`).digest();
  return FAKE_CLASSES[h[0] % FAKE_CLASSES.length];
}

interface FakeState {
  ordinal: number;
  cut: number;
  policy: string;
  torn: string;
}

/** The fake scenario has 3 writes per step; the plan's cuts select among them. */
function enumerate(scenario: Scenario, options: Pick<SweepRunOptions, "plan">): FakeState[] {
  const writes = scenario.steps.length * 3;
  const c = options.plan.cuts;
  const cuts =
    c === "every-write" || c === "barriers" || c === "marks"
      ? Array.from({ length: writes }, (_, i) => i)
      : Array.isArray(c)
        ? c
        : Array.from({ length: Math.ceil(writes / c.logSpaced) }, (_, i) => i * c.logSpaced);
  const states: FakeState[] = [];
  for (const cut of cuts)
    for (const policy of options.plan.policies)
      for (const torn of options.plan.torn)
        states.push({
          ordinal: states.length,
          cut,
          policy,
          torn: tornKey(sweepSpecOf({ ...options.plan, torn: [torn] }).torn?.[0]),
        });
  if (options.plan.sample) {
    const step = Math.max(1, Math.floor(states.length / options.plan.sample));
    return states.filter((_, i) => i % step === 0).slice(0, options.plan.sample);
  }
  return states;
}

/** Counts how many times run() was called (tests check the CLI does not run sweeps it should not). */
export class FakeSweepRunner implements SweepRunner {
  runs = 0;

  run(scenario: Scenario, options: SweepRunOptions): Promise<SweepPartial> {
    this.runs++;
    const all = enumerate(scenario, options);
    const mine = options.shard
      ? all.filter((s) => s.ordinal % options.shard!.count === options.shard!.index - 1)
      : all;
    const totals = { states: 0, intact: 0, previous: 0, detected: 0, silent: 0, unmountable: 0 };
    const cells = new Map<string, SweepCell>();
    const earliest: SweepPartial["earliest"] = {};
    mine.forEach((s, i) => {
      const cls = fakeClass(options.seed, s.ordinal);
      totals.states++;
      totals[cls as keyof typeof totals]++;
      const key = `${s.cut}/${s.policy}/${s.torn}`;
      let cell = cells.get(key);
      if (!cell) {
        cell = {
          cut: s.cut,
          policy: s.policy as SweepCell["policy"],
          torn: s.torn,
          counts: { states: 0, intact: 0, previous: 0, detected: 0, silent: 0, unmountable: 0 },
        };
        cells.set(key, cell);
      }
      cell.counts.states++;
      cell.counts[cls]++;
      if (cls !== "intact" && !earliest[cls])
        earliest[cls] = {
          replayId: `c${s.cut}.${s.policy}.${s.torn}`,
          cut: s.cut,
          ordinal: s.ordinal,
        };
      options.onProgress?.(i + 1, mine.length);
    });
    // Deliberately unsorted output: the runner must normalise it.
    return Promise.resolve({ ...totals, matrix: [...cells.values()].reverse(), earliest });
  }

  replay(
    _scenario: Scenario,
    replayId: string,
    options: { seed: number; wantCardImage: boolean },
  ): Promise<ReplayResult> {
    const m = /^c(\d+)\.([a-z-]+)\.(.+)$/.exec(replayId);
    if (!m)
      return Promise.reject(
        new ReplayIdError(`no crash state '${replayId}' (expected c<cut>.<policy>.<torn>)`),
      );
    const state = { cut: Number(m[1]), policy: m[2], torn: m[3] };
    const cls = fakeClass(options.seed, state.cut);
    return Promise.resolve({
      replayId,
      ...state,
      class: cls,
      files: { "/sdcard/a.jpg": cls === "unmountable" ? "absent" : cls },
      fsck: [],
      log: [`replayed ${replayId}`],
      ...(options.wantCardImage ? { cardImage: new TextEncoder().encode(`state ${replayId}\n`) } : {}),
    });
  }
}
