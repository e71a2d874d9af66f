/**
 * How a scenario reaches its device profile and its card: the registered profile, the context the
 * profile reads, the card geometry, the fault plan as the device experiences it, the FAT driver.
 */
import {
  generic128gSdxcConfig,
  generic32gSdhcConfig,
  generic64gSdxcConfig,
  tiny64mTestConfig,
  type SdCardConfig,
} from "../src/card/index.ts";
import { RamBlockDevice, readAll } from "../src/block/index.ts";
import { VirtualClock } from "../src/clock/index.ts";
import { parseFaultPlan, type FaultPlan } from "../src/faults/index.ts";
import { loadFatDriver, type FatDriverKind } from "../src/fat/drivers.ts";
import type { FatDriver } from "../src/fat/fat-engine.ts";
import { getProfile, type AnyDeviceProfile, type ProfileContext } from "../src/profiles/index.ts";
import type { Scenario } from "./scenario-schema.ts";

/** Card presets by scenario name. */
export const CARD_PRESETS: Readonly<Record<string, SdCardConfig>> = {
  "test-64m": tiny64mTestConfig,
  "sdhc-32g": generic32gSdhcConfig,
  "sdxc-64g": generic64gSdxcConfig,
  "sdxc-128g": generic128gSdxcConfig,
};

const sharedDrivers = new Map<FatDriverKind, Promise<FatDriver>>();
/** One FAT driver of each kind per process, shared by every target (each boot frees its drives at halt). */
export function fatDriver(kind: FatDriverKind = "js-fatfs"): Promise<FatDriver> {
  let d = sharedDrivers.get(kind);
  if (!d) {
    d = loadFatDriver(new VirtualClock(), kind);
    sharedDrivers.set(kind, d);
  }
  return d;
}

/** The FAT engine a scenario runs on: its `engine:`, else its profile's, else js-fatfs. */
export function engineOf(scenario: Scenario): FatDriverKind {
  return scenario.engine ?? profileOf(scenario).defaultEngine ?? "js-fatfs";
}

/** The scenario's profile (registered: the scenario loader checked it). */
export function profileOf(scenario: Scenario): AnyDeviceProfile {
  const p = getProfile(scenario.device.profile);
  if (!p) throw new Error(`profile '${scenario.device.profile}' is not registered`);
  return p;
}

/** The card geometry a scenario asks for. */
export function cardConfigOf(scenario: Scenario): SdCardConfig {
  const preset = CARD_PRESETS[scenario.card.preset];
  if (scenario.card.sizeMiB === undefined) return preset;
  return { ...preset, capacitySectors: (scenario.card.sizeMiB * 1024 * 1024) / preset.sectorBytes };
}

/** What a profile reads from the scenario besides its device block. */
export function profileContext(scenario: Scenario, seed: number): ProfileContext {
  return { scenarioDir: scenario.dir, pipeline: scenario.pipeline, seed, scenarioFile: scenario.file };
}

/** Scenario faults → the validated FaultPlan as the device experiences it. */
export function faultPlanOf(scenario: Scenario, seed: number): FaultPlan {
  const plan = parseFaultPlan({ version: 1, seed, faults: scenario.faults }, scenario.file);
  return profileOf(scenario).adjustFaultPlan?.(plan, scenario.device) ?? plan;
}

/**
 * The card as the simulator provisions it for `scenario`, as an image: what a serial target writes to
 * the device's card before the run. A driver of its own on a clock at zero, as the simulator
 * provisions at virtual time 0.
 */
export async function provisionedImage(scenario: Scenario, seed: number): Promise<Uint8Array> {
  const fat = await loadFatDriver(new VirtualClock(), engineOf(scenario));
  const media = new RamBlockDevice(512, cardConfigOf(scenario).capacitySectors);
  profileOf(scenario).provision(media, scenario.card.format, scenario.device, {
    ...profileContext(scenario, seed),
    fat,
  });
  return readAll(media);
}
