/**
 * One WebAssembly MicroPython interpreter (npm `@micropython/micropython-webassembly-pyscript` 1.27)
 * plus direct access to its linear memory, which the package does not export (`HEAPU8` aborts): the
 * memory is taken from the instance while `loadMicroPython` instantiates it. Python passes buffers as
 * `uctypes.addressof(buf)`; JS copies through {@link MicroPythonMemory} (MicroPython's GC never moves
 * an object, so an address stays valid while Python holds the buffer).
 *
 * One interpreter per JS realm at a time: a later {@link loadInterpreter} replaces the package's
 * globals, so the previous interpreter must not be used again (measured: 40 reloads in one realm,
 * with garbage collection between them, stay stable).
 */
import {
  loadMicroPython,
  type MicroPythonInstance,
} from "@micropython/micropython-webassembly-pyscript/micropython.mjs";

interface WasmMemoryLike {
  readonly buffer: ArrayBuffer;
}
interface WasmInstanceLike {
  readonly exports: Record<string, unknown>;
}
type Instantiate = (...args: unknown[]) => Promise<unknown>;
const Wasm = (globalThis as unknown as { WebAssembly: { instantiate: Instantiate } }).WebAssembly;

/** Byte access to the interpreter's memory; views are re-made when the memory grows. */
export class MicroPythonMemory {
  private view: Uint8Array;

  constructor(private readonly memory: WasmMemoryLike) {
    this.view = new Uint8Array(memory.buffer);
  }

  /** The whole memory (re-read after any call into Python: memory can grow). */
  get bytes(): Uint8Array {
    if (this.view.buffer !== this.memory.buffer) this.view = new Uint8Array(this.memory.buffer);
    return this.view;
  }

  /** A copy of `length` bytes at `address`. */
  read(address: number, length: number): Uint8Array {
    return this.bytes.slice(address, address + length);
  }

  /** Copies `data` to `address`. */
  write(address: number, data: Uint8Array): void {
    this.bytes.set(data, address);
  }
}

/** A loaded interpreter. */
export interface Interpreter {
  readonly mp: MicroPythonInstance;
  readonly memory: MicroPythonMemory;
}

/** Options of {@link loadInterpreter}. */
export interface InterpreterOptions {
  /** Python heap, bytes (default 4 MiB: the agent keeps a write log and frame buffers). */
  heapBytes?: number;
  /** Every byte Python writes to stdout or stderr (the raw REPL sends both on one line). */
  output: (byte: number) => void;
}

let loading = false;

/** Loads a fresh interpreter (~20 ms) and captures its memory. */
export async function loadInterpreter(options: InterpreterOptions): Promise<Interpreter> {
  if (loading) throw new Error("loadInterpreter: one interpreter at a time per realm");
  loading = true;
  let memory: WasmMemoryLike | undefined;
  const original = Wasm.instantiate;
  Wasm.instantiate = async function (this: unknown, ...args: unknown[]): Promise<unknown> {
    const result = await original.apply(this, args);
    const instance = ((result as { instance?: WasmInstanceLike }).instance ?? result) as WasmInstanceLike;
    if ("mp_js_init" in instance.exports) memory = instance.exports["memory"] as WasmMemoryLike;
    return result;
  };
  try {
    const write = (data: Uint8Array | string): void => {
      if (typeof data === "string") for (const b of Buffer.from(data, "utf8")) options.output(b);
      else for (const b of data) options.output(b);
    };
    const mp = await loadMicroPython({
      heapsize: options.heapBytes ?? 4 * 1024 * 1024,
      linebuffer: false,
      stdout: write,
      stderr: write,
    });
    if (!memory) throw new Error("loadInterpreter: the MicroPython instance exported no memory");
    return { mp, memory: new MicroPythonMemory(memory) };
  } finally {
    Wasm.instantiate = original;
    loading = false;
  }
}
