/**
 * worker_threads entry of the virtual board: the whole simulated stack (hardware.ts) and one
 * interpreter at a time, so Python calls the stack synchronously. Input arrives as messages; output,
 * media changes (for the main thread's mirror) and "idle" go back.
 */
import { readdirSync, readFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { BoardHardware, type Medium } from "./hardware.ts";
import { HostModule } from "./host-module.ts";
import { loadInterpreter } from "./interpreter.ts";
import type { FromWorker, ToWorker, WorkerStart } from "./protocol.ts";
import { ReplHost, type BootKind, type ReplSession } from "./repl-host.ts";

const PYTHON_DIR = new URL("./python/", import.meta.url);

/** The shim modules, read once: name → source. */
const PYTHON_SOURCES: ReadonlyMap<string, string> = new Map(
  readdirSync(PYTHON_DIR)
    .filter((f) => f.endsWith(".py"))
    .map((f) => [f, readFileSync(new URL(f, PYTHON_DIR), "utf8")]),
);

/**
 * Runs once per interpreter: imports the shims while the interpreter's own filesystem is still
 * mounted at `/`, puts them in place of the builtin `os`, `time` and `vfs`, seeds `random`, leaves
 * `/` empty as on the board and mounts /flash and /sdcard (cardsim_board._boot).
 */
function bootScript(seed: number): string {
  return [
    "import sys, random",
    "sys.path.append('/cardsim')",
    "import cardsim_board, machine, mimxrt, image, sensor, ucryptolib, cardsim_time, cardsim_os, cardsim_vfs",
    "sys.modules['cryptolib'] = ucryptolib",
    "sys.modules['time'] = sys.modules['utime'] = cardsim_time",
    "sys.modules['os'] = sys.modules['uos'] = cardsim_os",
    "cardsim_vfs._builtin.umount('/')",
    "sys.modules['vfs'] = cardsim_vfs",
    `random.seed(${seed >>> 0})`,
    "cardsim_board._boot()",
    "del sys, random, cardsim_board, machine, mimxrt, image, sensor, ucryptolib, cardsim_time, cardsim_os, cardsim_vfs",
  ].join("\n");
}

async function main(start: WorkerStart): Promise<void> {
  const port = parentPort!;
  const post = (m: FromWorker): void => port.postMessage(m);
  let outBuf: number[] = [];
  const flush = (): void => {
    if (outBuf.length === 0) return;
    post({ t: "out", bytes: Uint8Array.from(outBuf) });
    outBuf = [];
  };
  let clockOf = (): number => 0;
  const hw = await BoardHardware.create(start.hardware, (medium: Medium, lba, data) =>
    post({ t: "media", medium, lba, data: data.slice(), clockMicros: clockOf() }),
  );
  clockOf = () => hw.clock.nowMicros;
  let host: HostModule | null = null;

  const repl: ReplHost = new ReplHost({
    emit: (bytes) => {
      for (const b of bytes) outBuf.push(b);
      if (outBuf.length >= 4096) flush();
    },
    flush,
    boot: async (_kind: BootKind, soft: boolean): Promise<ReplSession> => {
      host?.shutdown(soft);
      host = null;
      const interp = await loadInterpreter({ output: (b) => repl.output(b) });
      interp.mp.FS.mkdir("/cardsim");
      for (const [name, src] of PYTHON_SOURCES) interp.mp.FS.writeFile(`/cardsim/${name}`, src);
      const h = new HostModule(hw, interp.memory, {
        seed: start.seed,
        ...(start.uniqueId && { uniqueId: start.uniqueId }),
      });
      host = h;
      interp.mp.registerJsModule("_cardsim", h.exports());
      try {
        interp.mp.runPython(bootScript(start.seed));
      } catch (e) {
        // A failing boot (e.g. the card's mount) prints its traceback, as the board's boot does.
        const msg = e instanceof Error ? e.message : String(e);
        for (const b of Buffer.from(`boot: ${msg}\n`, "utf8")) repl.output(b);
      }
      return {
        init: () => interp.mp.replInit(),
        processChar: (c) => interp.mp.replProcessChar(c),
        get resetRequested() {
          return h.resetRequested;
        },
      };
    },
  });

  const idle = (): void => {
    flush();
    post({
      t: "idle",
      mode: repl.mode,
      clockMicros: hw.clock.nowMicros,
      rtcOffsetMillis: hw.clock.rtcOffsetMillis,
    });
  };

  let work: Promise<void> = repl.start(start.restartIn);
  await work;
  post({ t: "ready" });
  idle();

  port.on("message", (m: ToWorker) => {
    if (m.t === "input") work = repl.input(m.bytes);
    else
      work = repl.powerCycle(() => {
        // The power switch: open files are abandoned, the card loses power as in a cut (the fault
        // plan's unsynced-write policy and the card's cache decide what survives), power returns.
        host?.shutdown(false);
        host = null;
        hw.faulty.cutNow();
        hw.faulty.reboot();
      });
    work.then(idle, (e: unknown) => {
      flush();
      post({ t: "fatal", message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    });
  });
}

main(workerData as WorkerStart).catch((e: unknown) => {
  parentPort!.postMessage({
    t: "fatal",
    message: e instanceof Error ? (e.stack ?? e.message) : String(e),
  } satisfies FromWorker);
});
