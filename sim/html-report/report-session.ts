/**
 * What `--report` adds to a `cardsim scenario` run: the target wrapper of a plain run, the replay IDs
 * behind each sweep matrix cell (the first state of each class, by ordinal), and the result's
 * `reportData` once the run is over. One object per CLI invocation.
 */
import type { ScenarioResult, SweptState, TargetFactory } from "../runner.ts";
import type { Scenario } from "../scenario-schema.ts";
import { replayReportData } from "./replay-capture.ts";
import type { CellReplay, ReportData } from "./report-data.ts";
import { RunCapture } from "./run-capture.ts";

/** A result with its optional report section (what `--out` writes with `--report`). */
export type ReportedResult = ScenarioResult & { reportData?: ReportData };

export class ReportSession {
  private readonly run = new RunCapture();
  private readonly cells = new Map<string, CellReplay>();

  wrap(create: TargetFactory): TargetFactory {
    return this.run.wrap(create);
  }

  /** For the runner's `onSweepState`. */
  readonly onSweepState = (s: SweptState): void => {
    const key = `${s.cut}\u0000${s.policy}\u0000${s.torn}`;
    let cell = this.cells.get(key);
    if (!cell) this.cells.set(key, (cell = { cut: s.cut, policy: s.policy, torn: s.torn, byClass: {} }));
    cell.byClass[s.class] ??= s.replayId;
  };

  /** The report section of `result` (a run, a sweep or a replay made through {@link wrap}). */
  async finish(scenario: Scenario, result: ScenarioResult): Promise<ReportData> {
    const data = result.replay
      ? await replayReportData(scenario, result)
      : await this.run.build(scenario, result);
    if (result.sweep) data.cells = [...this.cells.values()];
    return data;
  }
}
