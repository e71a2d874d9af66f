/**
 * Process entry of the virtual Teensy as `socat` runs it behind a pty (virtual-teensy-pty.ts):
 * options as JSON in {@link VIRTUAL_TEENSY_OPTIONS_ENV}, the ESP32 protocol on stdin/stdout, the
 * device's log on stderr. SIGUSR1 is the power switch; SIGINT/SIGTERM/SIGHUP and the end of stdin stop it.
 */
import { realTimer } from "../../link/index.ts";
import type { DebugCapName } from "../../pov/index.ts";
import type { VirtualDeviceOptions } from "../profile.ts";
import { runVirtualTeensy } from "./virtual-teensy.ts";
import { VIRTUAL_TEENSY_OPTIONS_ENV } from "./virtual-teensy-pty.ts";

async function main(): Promise<void> {
  const options = JSON.parse(process.env[VIRTUAL_TEENSY_OPTIONS_ENV] ?? "{}") as VirtualDeviceOptions & {
    pipeline?: "as-designed" | "hardened";
    debugCaps?: DebugCapName[];
  };
  const teensy = await runVirtualTeensy({
    ...options,
    stdin: process.stdin,
    stdout: process.stdout,
    timer: realTimer,
  });
  process.on("SIGUSR1", () => void teensy.powerCycle());
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => void teensy.stop());
  process.stderr.write(`virtual-teensy: pid ${process.pid} ready\n`);
  await teensy.closed;
  process.exit(0);
}

main().catch((e: unknown) => {
  process.stderr.write(`virtual-teensy: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
});
