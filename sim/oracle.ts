/**
 * The runner's oracles: what every file of a run ended as and what fsck says of the card, computed
 * from a target's evidence (the card after the run and the file histories) with the profile's own
 * readers. The same code serves the simulator and a board target (which reads its card back).
 */
import type { BlockDevice } from "../src/block/index.ts";
import { classifyEndOfRun, type EndOfRunClass } from "../src/crash/index.ts";
import { fsck } from "../src/fat/fsck.ts";
import type { Scenario } from "./scenario-schema.ts";
import { engineOf, fatDriver, profileContext, profileOf } from "./scenario-profile.ts";
import type { TargetEvidence } from "./target.ts";

/** One fsck finding (src/fat fsck); `kind` is what `expect.fsck` lists (e.g. `lost-clusters`). */
export interface FsckFinding {
  kind: string;
  message: string;
  path?: string;
}

/** fsck of a card, read only. */
export function fsckFindings(card: BlockDevice): FsckFinding[] {
  return fsck(card).findings.map((f) => ({
    kind: f.kind,
    message: f.message,
    ...(f.path !== undefined && { path: f.path }),
  }));
}

/** The end-of-run oracles; tests of the runner may inject scripted ones. */
export interface RunOracle {
  classify(
    scenario: Scenario,
    seed: number,
    evidence: TargetEvidence,
    paths: readonly string[],
  ): Promise<Record<string, EndOfRunClass>>;
  fsck(evidence: TargetEvidence): Promise<FsckFinding[]>;
}

/** The oracles on the card image: mount, read each file, classify with the profile's readers. */
export const cardOracle: RunOracle = {
  async classify(scenario, seed, evidence, paths) {
    const profile = profileOf(scenario);
    return classifyEndOfRun(evidence.card, evidence.files, paths, {
      runtime: await fatDriver(engineOf(scenario)),
      mountPoint: evidence.mountPoint,
      readers: profile.readers(scenario.device, profileContext(scenario, seed)),
    });
  },
  async fsck(evidence) {
    return fsckFindings(evidence.card);
  },
};
