/**
 * The serial link: the host side of MicroPython's raw REPL over a byte stream (a serial port, a
 * process's stdio, an in-memory pair), file upload with a sha256 check, JSON helpers.
 */
export * from "./byte-stream.ts";
export * from "./timer.ts";
export { realTimer } from "./real-timer.ts";
export * from "./fake-timer.ts";
export * from "./link-error.ts";
export * from "./board-python-error.ts";
export * from "./receive-queue.ts";
export * from "./memory-pair.ts";
export * from "./raw-repl.ts";
export * from "./py-literal.ts";
export * from "./upload.ts";
export * from "./exec-json.ts";
export * from "./serial-stream.ts";
export * from "./spawn-stream.ts";
export * from "./with-raw-repl.ts";
export * from "./pty-process.ts";
