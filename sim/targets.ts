/**
 * The one place where targets, their sweep runners and the FaultPlan validator are plugged in. The
 * built-in simulator (`sim`) is registered by {@link loadTargetPlugins}; tests register scripted
 * fakes with {@link registerTarget} and pass `loadPlugins: false` to the CLI.
 */
import { getProfile, profileNames } from "../src/profiles/index.ts";
import type { RunOracle } from "./oracle.ts";
import { CapabilityError } from "./runner.ts";
import type { FaultValidator } from "./scenario-schema.ts";
import type { SweepRunner, TargetFactory } from "./runner.ts";

/** A target the CLI can run scenarios on (`--target NAME`, default `sim`). */
export interface TargetRegistration {
  /** Builds a fresh target for one run of one scenario. */
  create: TargetFactory;
  /** Crash-state sweeps and replays on this target, when it can do them. */
  sweep?: SweepRunner;
  /** End-of-run oracles, when not the card-image ones (scripted test targets). */
  oracle?: RunOracle;
}

const targets = new Map<string, TargetRegistration>();
let faultValidator: FaultValidator | undefined;

/** Registers (or replaces) the target `name`. */
export function registerTarget(name: string, registration: TargetRegistration): void {
  targets.set(name, registration);
}

/** Removes a target (tests). */
export function unregisterTarget(name: string): void {
  targets.delete(name);
}

export function getTarget(name: string): TargetRegistration | undefined {
  return targets.get(name);
}

export function registeredTargetNames(): string[] {
  return [...targets.keys()].sort();
}

/** Sets the validator of `faults:` entries (src/faults owns the FaultPlan format); undefined clears it. */
export function registerFaultValidator(validator: FaultValidator | undefined): void {
  faultValidator = validator;
}

export function getFaultValidator(): FaultValidator | undefined {
  return faultValidator;
}

let pluginsLoaded = false;

/** Registers the built-in simulated target and the fault validator (once). */
export async function loadTargetPlugins(): Promise<void> {
  if (pluginsLoaded) return;
  pluginsLoaded = true;
  const { SimulatedTarget, validateFaults } = await import("./simulated-target.ts");
  const { simulatedSweepRunner } = await import("./sweep-runner.ts");
  registerTarget("sim", {
    create: (scenario, options) => SimulatedTarget.create(scenario, options),
    sweep: simulatedSweepRunner,
  });
  registerFaultValidator(validateFaults);
  // The serial board needs a port: the CLI replaces this with sim/board-target.ts's registration.
  registerTarget("board", {
    create: () => {
      throw new CapabilityError(
        "--target board needs --port PATH (the board's serial port, e.g. /dev/ttyACM0)",
      );
    },
  });
  // Likewise each profile's own serial link (sim/link-target.ts), e.g. the Teensy's esp32-link.
  for (const name of linkTargetNames())
    registerTarget(name, {
      create: () => {
        throw new CapabilityError(`--target ${name} needs --port PATH (the device's serial port)`);
      },
    });
}

/** The `--target` names of the profiles' own serial links (`esp32-link`). */
export function linkTargetNames(): string[] {
  const names = new Set<string>();
  for (const p of profileNames()) {
    const link = getProfile(p)?.deviceLink;
    if (link) names.add(link.targetName);
  }
  return [...names].sort();
}
