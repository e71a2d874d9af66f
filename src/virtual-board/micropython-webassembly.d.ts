/**
 * Types for npm `@micropython/micropython-webassembly-pyscript` 1.27.0, which ships none: only what
 * the virtual board uses (measured in ../shared/design/MICROPYTHON-WASM.md).
 */
declare module "@micropython/micropython-webassembly-pyscript/micropython.mjs" {
  /** A Python object seen from JS: attribute access and calls go into the interpreter. */
  export type PyProxy = Record<string, unknown>;

  export interface LoadMicroPythonOptions {
    /** Python heap, bytes (default 1 MiB). */
    heapsize?: number;
    /** Python stack, words (default 2048). */
    pystack?: number;
    /** false: `stdout`/`stderr` get every byte as a 1-byte Uint8Array; true: decoded lines. */
    linebuffer?: boolean;
    stdout?: (data: Uint8Array | string) => void;
    stderr?: (data: Uint8Array | string) => void;
  }

  export interface MicroPythonInstance {
    /** Runs `code` (exec mode); a Python exception arrives as an Error named `PythonError`. */
    runPython(code: string): unknown;
    /** Makes `module`'s properties importable from Python as module `name`. */
    registerJsModule(name: string, module: object): void;
    pyimport(name: string): PyProxy;
    readonly globals: { get(key: string): unknown; set(key: string, value: unknown): void };
    /** Starts the interpreter's own REPL (friendly mode; prints the banner). */
    replInit(): void;
    /** Feeds one byte to the REPL; non-zero when the REPL asks for a soft reset. */
    replProcessChar(chr: number): number;
    /** The Emscripten filesystem under the interpreter's VfsPosix root. */
    readonly FS: {
      mkdir(path: string): void;
      writeFile(path: string, data: string | Uint8Array): void;
    };
  }

  export function loadMicroPython(options?: LoadMicroPythonOptions): Promise<MicroPythonInstance>;
}
