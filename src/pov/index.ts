/** The Teensy 4.1 POV poi (seed 002): file formats, SDStorageManager, POV engine, ESP32 protocol. */
export * from "./format-error.ts";
export * from "./pov-format.ts";
export * from "./pat-format.ts";
export * from "./sd-error.ts";
export * from "./sd-storage.ts";
export * from "./pov-engine.ts";
export * from "./esp32-protocol.ts";
export * from "./esp32-server.ts";
export * from "./png.ts";
export * from "./pov-render.ts";
export * from "./esp32-debug.ts";
