export * from "./record.ts";
export * from "./reboot.ts";
export * from "./oracle.ts";
export * from "./invariants.ts";
export * from "./sweep.ts";
export { serialiseRecording, deserialiseRecording, loadReaders } from "./worker-pool.ts";
export * from "./naive.ts";
