/**
 * The one place where targets, the sweep runner and the FaultPlan validator are plugged in.
 *
 * The simulator registers itself from `sim/simulated-target.ts`: when that file exists, the CLI
 * imports it (once, before running anything) and the module calls, at import time,
 *
 *   registerTarget("sim", { create: (scenario, opts) => ..., sweep: mySweepRunner });
 *   registerFaultValidator((faults) => ...);   // optional: checks `faults:` entries at load time
 *
 * Tests register scripted fakes the same way and pass `loadPlugins: false` to the CLI.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { FaultValidator } from "./scenario-schema.ts";
import type { SweepRunner, TargetFactory } from "./runner.ts";

/** A target the CLI can run scenarios on (`--target NAME`, default `sim`). */
export interface TargetRegistration {
  /** Builds a fresh target for one run of one scenario. */
  create: TargetFactory;
  /** Crash-state sweeps and replays on this target, when it can do them. */
  sweep?: SweepRunner;
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

/** Modules that register targets when present, relative to this file. */
const PLUGIN_MODULES = ["./simulated-target.ts"];
let pluginsLoaded = false;

/** Imports the plug-in modules that exist (once). */
export async function loadTargetPlugins(): Promise<void> {
  if (pluginsLoaded) return;
  pluginsLoaded = true;
  for (const rel of PLUGIN_MODULES) {
    const url = new URL(rel, import.meta.url);
    if (existsSync(fileURLToPath(url))) await import(url.href);
  }
}
