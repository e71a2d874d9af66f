/** The profile interface, the registry, and the built-in profiles (registered on import). */
import { openmvRt1062Profile } from "./openmv-rt1062/index.ts";
import { registerProfile } from "./registry.ts";
import { teensy41PovProfile } from "./teensy41-pov/index.ts";

export * from "./profile.ts";
export * from "./registry.ts";
export * from "./step-args.ts";
export { StepUsageError } from "./step-usage-error.ts";

registerProfile(openmvRt1062Profile);
registerProfile(teensy41PovProfile);
