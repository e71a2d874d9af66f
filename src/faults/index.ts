export * from "./fault-plan.ts";
export * from "./cut-effects.ts";
export * from "./faulty-block-device.ts";
export * from "./materialise.ts";
