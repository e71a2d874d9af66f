/**
 * The registry of device profiles. Built-in profiles register in `src/profiles/index.ts`; tests may
 * register toys. Scenario loading looks profiles up here, so an unknown `device.profile` is reported
 * with the registered names.
 */
import type { AnyDeviceProfile, DeviceConfig, DeviceProfile } from "./profile.ts";

const profiles = new Map<string, AnyDeviceProfile>();

/** Registers (or replaces) a profile under its name. */
export function registerProfile<C extends DeviceConfig>(profile: DeviceProfile<C>): void {
  profiles.set(profile.name, profile);
}

/** Removes a profile (tests). */
export function unregisterProfile(name: string): void {
  profiles.delete(name);
}

export function getProfile(name: string): AnyDeviceProfile | undefined {
  return profiles.get(name);
}

/** Registered profile names, sorted. */
export function profileNames(): string[] {
  return [...profiles.keys()].sort();
}
