/**
 * A program behind a pseudo-terminal: `socat -d -d pty,raw,echo=0[,link=PATH] EXEC:<node> --import
 * <tsx> <entry>` runs a TypeScript entry with the pty on its stdin/stdout, so any serial client
 * (serialport, mpremote, screen) can open it like /dev/ttyACM0. The virtual board and the virtual
 * Teensy both start this way; the entry prints a ready line with its pid on stderr once it serves.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/** What {@link startBehindPty} starts. */
export interface PtyProcessOptions {
  /** The TypeScript entry module (a `file:` URL). */
  readonly entry: URL;
  /** Environment variable the entry reads its options from, and the options (sent as JSON). */
  readonly optionsEnv: string;
  readonly options: unknown;
  /** The entry's stderr line once it serves; group 1 is its pid. */
  readonly readyLine: RegExp;
  /** Name for messages ("the virtual board"). */
  readonly what: string;
  /** Make PATH a symlink to the pty (socat's `link=`). */
  readonly link?: string;
  /** How long to wait for the ready line, ms (default 20 s). */
  readonly startTimeoutMs?: number;
  /** The socat executable (default `socat` on PATH). */
  readonly socat?: string;
  /** Receives the process's stderr (socat's log and the entry's) once it is up. */
  readonly onStderr?: (chunk: Buffer) => void;
}

/** A process serving behind a pty. */
export interface PtyProcess {
  /** The pty's device path (e.g. /dev/pts/3). */
  readonly path: string;
  /** The entry's pid (SIGUSR1 to it is the virtual devices' power switch). */
  readonly pid: number;
  /** The power switch: SIGUSR1 to the entry. */
  powerCycle(): void;
  /** SIGTERM to the entry, then socat after 5 s at most; resolves when socat has exited. */
  stop(): Promise<void>;
  /** Settles when socat has exited. */
  readonly exited: Promise<void>;
}

/** socat's address syntax gives `,` `:` `!` `"` `'` and spaces meanings: refuse them in paths. */
function socatSafe(what: string, s: string): string {
  if (/[\s,:!"'\\]/.test(s))
    throw new Error(
      `${what} '${s}' contains a character socat's EXEC address cannot take (space , : ! quotes \\)`,
    );
  return s;
}

/** Starts the entry behind a pty and resolves once its ready line appears. */
export async function startBehindPty(o: PtyProcessOptions): Promise<PtyProcess> {
  const require = createRequire(import.meta.url);
  const tsx = socatSafe("tsx", require.resolve("tsx/esm"));
  const entry = socatSafe("entry", fileURLToPath(o.entry));
  const node = socatSafe("node", process.execPath);
  const pty = ["pty", "raw", "echo=0", ...(o.link ? [`link=${socatSafe("link", o.link)}`] : [])].join(",");
  const child: ChildProcess = spawn(
    o.socat ?? "socat",
    ["-d", "-d", pty, `EXEC:${node} --import ${tsx} ${entry}`],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, [o.optionsEnv]: JSON.stringify(o.options) },
    },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const timeoutMs = o.startTimeoutMs ?? 20_000;
  let log = "";
  const { path, pid } = await new Promise<{ path: string; pid: number }>((resolve, reject) => {
    let ptyPath: string | undefined;
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`${o.what} did not start within ${timeoutMs / 1000} s; socat said:\n${log}`));
    }, timeoutMs);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run socat (${e.message}): install it (apt-get install socat)`));
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`socat exited (${child.exitCode}) before ${o.what} was up:\n${log}`));
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      ptyPath ??= /PTY is (\S+)/.exec(log)?.[1];
      const ready = o.readyLine.exec(log);
      if (ptyPath && ready) {
        clearTimeout(timer);
        resolve({ path: ptyPath, pid: Number(ready[1]) });
      }
    });
  });
  // Keep draining socat's log (and the entry's stderr) so neither blocks.
  child.stderr!.on("data", (chunk: Buffer) => o.onStderr?.(chunk));
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
