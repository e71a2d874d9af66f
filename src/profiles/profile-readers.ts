/**
 * The readers of a registered profile, as a module worker threads can load (functions do not cross
 * threads: a sweep's workers call {@link readers} with the profile's name and data). The built-in
 * profiles' rules come from their own readers modules, so a worker does not load the registry (every
 * profile's steps, schemas and board links: zod, serialport, the pipelines); any other profile is
 * looked up in the registry.
 */
import type { ReaderRule } from "../crash/oracle.ts";
import type { DeviceConfig, ProfileContext } from "./profile.ts";

type ProfileReaders = (config: DeviceConfig, ctx: ProfileContext) => ReaderRule[];

/** Each built-in profile's `readers`, loaded on first use (the OpenMV key parser needs node-forge). */
const BUILT_IN_READERS: Readonly<Record<string, () => Promise<ProfileReaders>>> = {
  "openmv-rt1062": async () => (await import("./openmv-rt1062/readers.ts")).openMvReaders,
  "teensy41-pov": async () => (await import("./teensy41-pov/readers.ts")).teensyReaders,
};

export async function readers(
  profile: string,
  config: DeviceConfig,
  ctx: ProfileContext,
): Promise<ReaderRule[]> {
  const builtIn = Object.hasOwn(BUILT_IN_READERS, profile) ? BUILT_IN_READERS[profile] : undefined;
  if (builtIn) return (await builtIn())(config, ctx);
  const { getProfile } = await import("./index.ts");
  const p = getProfile(profile);
  if (!p) throw new Error(`profile '${profile}' is not registered in this thread`);
  return p.readers(config, ctx);
}

/** Where workers find {@link readers}. */
export const PROFILE_READERS_MODULE = new URL(import.meta.url).href;
