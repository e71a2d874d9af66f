/**
 * The virtual Teensy behind a pseudo-terminal: `socat pty,raw,echo=0[,link=PATH] EXEC:<node> ...`
 * runs virtual-teensy-entry.ts with the pty on its stdin/stdout (the same arrangement as the
 * camera's src/virtual-board/pty.ts), so any serial client can open it like /dev/ttyACM0.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { InputError } from "../../input/index.ts";
import type { VirtualDeviceOptions, VirtualDevicePty } from "../profile.ts";

/** Environment variable carrying the options as JSON to the entry. */
export const VIRTUAL_TEENSY_OPTIONS_ENV = "CARDSIM_VIRTUAL_TEENSY_OPTIONS";
const READY = /^virtual-teensy: pid (\d+) ready$/m;

/** Options of {@link startVirtualTeensyPty}. */
export interface VirtualTeensyPtyOptions extends VirtualDeviceOptions {
  /** `as-designed` (default) or `hardened` storage. */
  pipeline?: "as-designed" | "hardened";
  /** The socat executable (default `socat` on PATH). */
  socat?: string;
  /** Called with each line the device logs (stderr), e.g. for a test's diagnostics. */
  onLog?: (line: string) => void;
}

function socatSafe(what: string, s: string): string {
  if (/[\s,:!"'\\]/.test(s))
    throw new InputError(
      undefined,
      [{ path: [what], message: "a character socat cannot take" }],
      `${what} '${s}' contains a character socat's EXEC address cannot take (space , : ! quotes \\)`,
    );
  return s;
}

/** Starts socat with the virtual Teensy behind a pty; resolves once it answers. */
export async function startVirtualTeensyPty(
  options: VirtualTeensyPtyOptions = {},
): Promise<VirtualDevicePty> {
  const require = createRequire(import.meta.url);
  const tsx = socatSafe("tsx", require.resolve("tsx/esm"));
  const entry = socatSafe("entry", fileURLToPath(new URL("./virtual-teensy-entry.ts", import.meta.url)));
  const node = socatSafe("node", process.execPath);
  const { link, startTimeoutMs, socat, onLog, ...deviceOptions } = options;
  const pty = ["pty", "raw", "echo=0", ...(link ? [`link=${socatSafe("link", link)}`] : [])].join(",");
  const child: ChildProcess = spawn(
    socat ?? "socat",
    ["-d", "-d", pty, `EXEC:${node} --import ${tsx} ${entry}`],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, [VIRTUAL_TEENSY_OPTIONS_ENV]: JSON.stringify(deviceOptions) },
    },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let log = "";
  const timeoutMs = startTimeoutMs ?? 20_000;
  const { path, pid } = await new Promise<{ path: string; pid: number }>((resolve, reject) => {
    let ptyPath: string | undefined;
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`the virtual Teensy did not start within ${timeoutMs / 1000} s; socat said:\n${log}`));
    }, timeoutMs);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run socat (${e.message}): install it (apt-get install socat)`));
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`socat exited (${child.exitCode}) before the virtual Teensy was up:\n${log}`));
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      ptyPath ??= /PTY is (\S+)/.exec(log)?.[1];
      const ready = READY.exec(log);
      if (ptyPath && ready) {
        clearTimeout(timer);
        resolve({ path: ptyPath, pid: Number(ready[1]) });
      }
    });
  });
  let tail = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    tail += chunk.toString();
    const lines = tail.split("\n");
    tail = lines.pop()!;
    for (const l of lines) if (l.startsWith("virtual-teensy: ")) onLog?.(l.slice("virtual-teensy: ".length));
  });
  return {
    path,
    pid,
    exited,
    powerCycle: () => process.kill(pid, "SIGUSR1"),
    stop: async () => {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // already gone
      }
      const timer = setTimeout(() => child.kill("SIGTERM"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
