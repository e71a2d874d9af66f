/**
 * The js-fatfs WASM module (ChaN FatFs R0.15, Emscripten): compiled once per process, instantiated
 * with code page 437 and with the clock imports replaced, so the timestamps FatFs writes come from the
 * virtual clock in UTC, never the host clock or time zone (ARCHITECTURE.md).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import create, * as C from "js-fatfs";
import type { FatFs } from "js-fatfs";
import { calendarFromUnixSeconds } from "../../clock/index.ts";

// Minimal WebAssembly typings: tsconfig has no DOM lib and @types/node 20 does not declare them.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
type WasmModule = object;
interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  instantiate(module: WasmModule, imports: object): Promise<WasmInstance>;
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: WasmModule | undefined;

/** The js-fatfs WASM module, compiled once per process. */
function compiledModule(): WasmModule {
  if (!compiled) {
    const require = createRequire(import.meta.url);
    const wasmPath = require.resolve("js-fatfs/dist/fatfs.wasm");
    compiled = new Wasm.Module(readFileSync(wasmPath));
  }
  return compiled;
}

/**
 * A FatFs instance on a fresh WASM instance whose DiskIO is `diskio` and whose clock reads
 * `unixMillis()` (virtual milliseconds since 1970, UTC).
 */
export function createFatFs(diskio: C.DiskIO, unixMillis: () => number): Promise<FatFs> {
  const holder: { memory?: WasmMemory } = {};
  const module = compiledModule();
  const heap32 = (): Int32Array => new Int32Array(holder.memory!.buffer);
  const opts = {
    diskio,
    codepage: 437,
    // Emscripten Module hook: instantiate from the cached compiled module with the clock imports
    // replaced. Import names from dist/fatfs.js: i = _emscripten_date_now, f = __localtime_js,
    // h = __tzset_js.
    instantiateWasm(
      imports: { a: Record<string, unknown> },
      receiveInstance: (instance: WasmInstance, module: WasmModule) => unknown,
    ): Record<string, never> {
      imports.a["i"] = unixMillis;
      imports.a["f"] = (timeLow: number, timeHigh: number, tmPtr: number): void => {
        utcLocaltime(heap32(), (timeLow >>> 0) + timeHigh * 4294967296, tmPtr);
      };
      imports.a["h"] = (timezone: number, daylight: number, stdName: number, dstName: number): void => {
        const h32 = heap32();
        h32[timezone >> 2] = 0;
        h32[daylight >> 2] = 0;
        const u8 = new Uint8Array(holder.memory!.buffer);
        u8.set([0x55, 0x54, 0x43, 0], stdName); // "UTC"
        u8.set([0x55, 0x54, 0x43, 0], dstName);
      };
      void Wasm.instantiate(module, imports).then((instance) => {
        holder.memory = instance.exports["j"] as WasmMemory;
        receiveInstance(instance, module);
      });
      return {};
    },
  };
  return create(opts);
}

/**
 * Writes the C `struct tm` fields of Emscripten's __localtime_js (tm_sec, tm_min, tm_hour, tm_mday,
 * tm_mon, tm_year-1900, tm_wday, tm_yday, tm_isdst, tm_gmtoff) for `unixSeconds` in UTC.
 */
function utcLocaltime(heap32: Int32Array, unixSeconds: number, tmPtr: number): void {
  const t = calendarFromUnixSeconds(unixSeconds);
  const p = tmPtr >> 2;
  heap32[p] = t.second;
  heap32[p + 1] = t.minute;
  heap32[p + 2] = t.hour;
  heap32[p + 3] = t.day;
  heap32[p + 4] = t.month - 1;
  heap32[p + 5] = t.year - 1900;
  heap32[p + 6] = (t.weekday + 1) % 7; // tm_wday counts from Sunday; CalendarTime.weekday from Monday
  heap32[p + 7] = t.yearday - 1; // tm_yday counts from 0
  heap32[p + 8] = 0; // tm_isdst
  heap32[p + 9] = 0; // tm_gmtoff
}
