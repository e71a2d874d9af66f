/** Test doubles of the link: a fake MicroPython board REPL and a fake file exec for it. */
export * from "./fake-device.ts";
export * from "./fake-files.ts";
