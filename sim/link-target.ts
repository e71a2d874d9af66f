/**
 * A device's own serial protocol as a scenario target (`--target esp32-link --port P` for the
 * Teensy: the host plays the ESP32). The device side is the profile's `deviceLink`; this file is the
 * runner's side, device-neutral: what no serial link can do is refused before the port is opened
 * (fault plans below the protocol, sweeps), the link's own refusals right after HELLO, before the
 * first step; a link that breaks mid-run is a {@link BoardRunError} with the steps so far (exit 4).
 *
 * The evidence is the card read back over the link and the file histories the link kept, so the
 * runner's oracles (classification with the profile's readers, fsck) are the simulator's, unchanged.
 */
import { LinkError } from "../src/link/index.ts";
import type { DeviceLinkSession } from "../src/profiles/index.ts";
import { BoardRunError } from "./board-target.ts";
import type { TargetOptions } from "./runner.ts";
import { CapabilityError } from "./runner.ts";
import type { Scenario } from "./scenario-schema.ts";
import { engineOf, fatDriver, profileContext, profileOf, provisionedImage } from "./scenario-profile.ts";
import type { TargetRegistration } from "./targets.ts";
import type { ScenarioTarget, Step, StepResult, TargetCapability, TargetEvidence } from "./target.ts";

/** How to reach the device (the CLI's `--port`, `--baud`, `--power-cycle`, `--allow-format`). */
export interface LinkTargetOptions {
  port: string;
  baud?: number;
  powerCycle?: string;
  allowFormat?: boolean;
  /** No reply byte for this long: the device does not answer, ms (default 5 s). */
  replyTimeoutMs?: number;
  onWarning?: (line: string) => void;
}

export class LinkTarget implements ScenarioTarget {
  readonly capabilities: ReadonlySet<TargetCapability>;
  private readonly steps: StepResult[] = [];

  private constructor(
    readonly name: string,
    private readonly port: string,
    private readonly mountPoint: string,
    private readonly session: DeviceLinkSession,
    powerSwitch: boolean,
  ) {
    // `power-cut` is the cut_power step: with the user's switch, between steps (the link refuses cuts
    // at write N before this, as plan faults).
    this.capabilities = new Set<TargetCapability>([
      "card-image",
      ...(powerSwitch ? ["power-cut" as const] : []),
    ]);
  }

  static async create(
    scenario: Scenario,
    run: TargetOptions,
    options: LinkTargetOptions,
  ): Promise<LinkTarget> {
    const profile = profileOf(scenario);
    const link = profile.deviceLink;
    const name = link?.targetName ?? "link";
    const refuse = (why: string): never => {
      throw new CapabilityError(`target '${name}' cannot run scenario '${scenario.name}': ${why}`);
    };
    if (!link) refuse(`profile '${profile.name}' speaks no serial protocol of its own (use --target board)`);
    // A link cuts power with the user's switch, between steps: nothing below the protocol is injected.
    if (scenario.faults.length > 0)
      refuse(
        `faults ${[...new Set(scenario.faults.map((f) => f.kind))].join(", ")} cannot be injected over ` +
          `the ${name} (it cuts power between steps with --power-cycle, as a cut_power step; no cut at write N, ` +
          "torn writes, card faults or card pulls)",
      );
    const session = await link!.open({
      port: options.port,
      ...(options.baud !== undefined && { baud: options.baud }),
      ...(options.powerCycle !== undefined && { powerCycle: options.powerCycle }),
      allowFormat: options.allowFormat ?? false,
      ...(options.replyTimeoutMs !== undefined && { replyTimeoutMs: options.replyTimeoutMs }),
      config: scenario.device,
      ctx: profileContext(scenario, run.seed),
      steps: scenario.steps.map(({ label: _label, ...step }) => step),
      startImage: await provisionedImage(scenario, run.seed),
      fat: await fatDriver(engineOf(scenario)),
      needsLog: scenario.expect.log !== undefined || (scenario.expect.logContains?.length ?? 0) > 0,
      needsFsck: scenario.expect.fsck !== undefined,
      ...(options.onWarning && {
        onWarning: (l: string) => options.onWarning!(`${name} ${options.port}: ${l}`),
      }),
    });
    if (session.refusals.length > 0) {
      await session.close();
      refuse(`on ${options.port}: ${session.refusals.join("; ")}`);
    }
    return new LinkTarget(name, options.port, profile.mountPoint, session, options.powerCycle !== undefined);
  }

  async runStep(step: Step, index: number): Promise<StepResult> {
    try {
      const r = await this.session.runStep(step);
      // Step times are the device's own; the link reports none (golden comparisons take the golden's).
      const result: StepResult = { index, op: step.op, ...r, timeMicros: 0 };
      this.steps.push(result);
      return result;
    } catch (e) {
      if (e instanceof LinkError)
        throw new BoardRunError(
          `step ${index} (${step.op}) on ${this.port}: ${e.message}`,
          [...this.steps],
          await this.session.deviceLog(),
          { cause: e },
        );
      throw e;
    }
  }

  async deviceLog(): Promise<string[]> {
    return this.session.deviceLog();
  }

  async evidence(): Promise<TargetEvidence> {
    try {
      const { card, files } = await this.session.evidence();
      return { card, files, mountPoint: this.mountPoint };
    } catch (e) {
      if (e instanceof LinkError)
        throw new BoardRunError(`reading the card back on ${this.port}: ${e.message}`, [...this.steps], [], {
          cause: e,
        });
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}

/** The registration of a profile's link target for one CLI invocation's port options. */
export function linkTargetRegistration(options: LinkTargetOptions): TargetRegistration {
  return { create: (scenario, run) => LinkTarget.create(scenario, run, options) };
}
