export * from "./virtual-clock.ts";
export * from "./prng.ts";
