/**
 * The virtual Teensy behind a pseudo-terminal: `socat pty,raw,echo=0[,link=PATH] EXEC:<node> ...`
 * runs virtual-teensy-entry.ts with the pty on its stdin/stdout (the same arrangement as the
 * camera's src/virtual-board/pty.ts), so any serial client can open it like /dev/ttyACM0.
 */
import { startBehindPty } from "../../link/pty-process.ts";
import type { DebugCapName } from "../../pov/index.ts";
import type { VirtualDeviceOptions, VirtualDevicePty } from "../profile.ts";

/** Environment variable carrying the options as JSON to the entry. */
export const VIRTUAL_TEENSY_OPTIONS_ENV = "CARDSIM_VIRTUAL_TEENSY_OPTIONS";
const READY = /^virtual-teensy: pid (\d+) ready$/m;

/** Options of {@link startVirtualTeensyPty}. */
export interface VirtualTeensyPtyOptions extends VirtualDeviceOptions {
  /** `as-designed` (default) or `hardened` storage. */
  pipeline?: "as-designed" | "hardened";
  /** The debug messages it answers (default all; [] = the poi's five messages only). */
  debugCaps?: readonly DebugCapName[];
  /** The socat executable (default `socat` on PATH). */
  socat?: string;
  /** Called with each line the device logs (stderr), e.g. for a test's diagnostics. */
  onLog?: (line: string) => void;
}

/** Starts socat with the virtual Teensy behind a pty; resolves once it answers. */
export async function startVirtualTeensyPty(
  options: VirtualTeensyPtyOptions = {},
): Promise<VirtualDevicePty> {
  const { link, startTimeoutMs, socat, onLog, ...deviceOptions } = options;
  let tail = "";
  return startBehindPty({
    entry: new URL("./virtual-teensy-entry.ts", import.meta.url),
    optionsEnv: VIRTUAL_TEENSY_OPTIONS_ENV,
    options: deviceOptions,
    readyLine: READY,
    what: "the virtual Teensy",
    ...(link !== undefined && { link }),
    ...(startTimeoutMs !== undefined && { startTimeoutMs }),
    ...(socat !== undefined && { socat }),
    onStderr: (chunk) => {
      tail += chunk.toString();
      const lines = tail.split("\n");
      tail = lines.pop()!;
      for (const l of lines)
        if (l.startsWith("virtual-teensy: ")) onLog?.(l.slice("virtual-teensy: ".length));
    },
  });
}
