/**
 * A child process's stdin/stdout as a {@link ByteStream}: a REPL that lives in a process (a
 * virtual board, the unix port of MicroPython, a fake device script).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { StreamCore } from "./byte-stream.ts";
import { LinkError } from "./link-error.ts";
import { realTimer } from "./real-timer.ts";

/** Options of {@link spawnStream}. */
export interface SpawnStreamOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** How much of the child's stderr to keep for error messages, in bytes (default 2000). */
  stderrTailBytes?: number;
  /** On close: milliseconds after SIGTERM before SIGKILL (default 2000). */
  killAfterMs?: number;
}

class ProcessStream extends StreamCore {
  private stderrTail = "";
  private closing = false;

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    tailBytes: number,
    private readonly killAfterMs: number,
  ) {
    super();
    child.stdout!.on("data", (chunk: Buffer) => this.deliver(new Uint8Array(chunk)));
    child.stderr!.on("data", (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString("utf8")).slice(-tailBytes);
    });
    child.stdin!.on("error", () => undefined); // EPIPE after exit: reported through 'exit'
    child.on("error", (err) => this.finish({ reason: "disconnected", detail: err.message }));
    child.on("exit", (code, signal) => {
      const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
      const tail = this.stderrTail.trim() ? `; stderr: ${this.stderrTail.trim().slice(-400)}` : "";
      this.finish({ reason: this.closing ? "closed" : "disconnected", detail: `${how}${tail}` });
    });
  }

  /** The child's process id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.isClosed || !this.child.stdin!.writable)
      return Promise.reject(
        new LinkError({
          code: "disconnected",
          port: this.name,
          what: `${this.name} has exited`,
          hint: "restart it",
        }),
      );
    return new Promise((resolve, reject) =>
      this.child.stdin!.write(bytes, (err) => (err ? reject(err) : resolve())),
    );
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin!.end();
      this.child.kill("SIGTERM");
      // A child that ignores SIGTERM must not hold close() forever.
      const cancel = realTimer.schedule(this.killAfterMs, () => this.child.kill("SIGKILL"));
      await this.closed;
      cancel();
    }
    this.finish({ reason: "closed" });
  }
}

/** The stream {@link spawnStream} returns. */
export type ProcessStreamHandle = StreamCore & { readonly pid: number | undefined };

/** Starts `command args...` with piped stdio; closing the stream ends the process (SIGTERM). */
export function spawnStream(
  command: string,
  args: readonly string[] = [],
  options: SpawnStreamOptions = {},
): ProcessStreamHandle {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["pipe", "pipe", "pipe"] });
  return new ProcessStream(
    [command, ...args].join(" "),
    child,
    options.stderrTailBytes ?? 2000,
    options.killAfterMs ?? 2000,
  );
}
