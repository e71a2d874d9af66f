/**
 * The virtual board: the WebAssembly MicroPython as an OpenMV RT1062 whose hardware is the simulator
 * (README.md in this folder). `cardsim virtual-board` calls {@link startVirtualBoardPty}.
 */
export * from "./main.ts";
export * from "./pty.ts";
export { OPTIONS_ENV, READY_LINE } from "./protocol.ts";
