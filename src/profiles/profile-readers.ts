/**
 * The readers of a registered profile, as a module worker threads can load (functions do not cross
 * threads: a sweep's workers call {@link readers} with the profile's name and data).
 */
import type { ReaderRule } from "../crash/oracle.ts";
import type { DeviceConfig, ProfileContext } from "./profile.ts";
import { getProfile } from "./index.ts";

export function readers(profile: string, config: DeviceConfig, ctx: ProfileContext): ReaderRule[] {
  const p = getProfile(profile);
  if (!p) throw new Error(`profile '${profile}' is not registered in this thread`);
  return p.readers(config, ctx);
}

/** Where workers find {@link readers}. */
export const PROFILE_READERS_MODULE = new URL(import.meta.url).href;
