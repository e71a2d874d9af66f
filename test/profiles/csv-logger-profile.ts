/**
 * A toy device profile used only in tests: a plain data logger that appends CSV rows to a file on its
 * card. It proves the profile interface holds: nothing under sim/ knows it, yet the runner, sweeps
 * and replays run it like the camera.
 */
import { z } from "zod";
import type { BlockDevice } from "../../src/block/index.ts";
import { Prng } from "../../src/clock/index.ts";
import type { FatDriver } from "../../src/fat/fat-engine.ts";
import { microPythonMkfsWith } from "../../src/fat/mkfs.ts";
import type {
  CardFormat,
  DeviceProfile,
  DeviceSession,
  ProfileContext,
  Step,
} from "../../src/profiles/index.ts";
import { StepUsageError, stepPath } from "../../src/profiles/index.ts";
import type { StorageStack } from "../../src/stack/index.ts";
import { mountFatVolume, Vfs } from "../../src/vfs/index.ts";

const deviceSchema = z.strictObject({ profile: z.literal("csv-logger"), firmware: z.enum(["1.0"]) });
type LoggerConfig = z.infer<typeof deviceSchema>;

/** A CSV row as the logger writes it: `<index>,<reading>`. */
export const ROW = /^\d+,\d+$/;

class LoggerSession implements DeviceSession {
  private vfs: Vfs | null = null;
  private readonly prng: Prng;
  private readonly lines: string[] = [];
  readonly sleepHooks = { onSleep: () => () => undefined };

  constructor(
    private readonly stack: StorageStack,
    seed: number,
  ) {
    this.prng = new Prng(seed);
  }

  get running(): boolean {
    return this.vfs !== null;
  }

  get os(): Vfs {
    if (!this.vfs) throw new StepUsageError("the logger is not running (add a boot step)");
    return this.vfs;
  }

  async boot(): Promise<void> {
    const vfs = new Vfs();
    mountFatVolume(vfs, this.stack.card, this.stack.fat, "/sd");
    vfs.chdir("/sd");
    this.vfs = vfs;
    this.lines.push("logger: card mounted");
  }

  halt(): void {
    if (!this.vfs) return;
    for (const point of this.vfs.mountPoints()) this.vfs.volumeAt(point)?.engine.unmount();
    this.vfs = null;
  }

  urandom(n: number): Uint8Array {
    return this.prng.fill(new Uint8Array(n));
  }

  sleepMs(ms: number): void {
    this.stack.clock.advance(ms * 1000);
  }

  takeLog(): string[] {
    return this.lines.splice(0);
  }

  async runStep(step: Step, touched: string[]): Promise<unknown> {
    if (step.op !== "log_rows") throw new StepUsageError(`no step '${step.op}' on csv-logger`);
    const path = step.args.file as string;
    const rows = step.args.rows as number;
    touched.push(path.startsWith("/") ? path : `/sd/${path}`);
    const f = this.os.open(path, "a");
    for (let i = 0; i < rows; i++) {
      f.write(`${i},${this.prng.nextInt(1000)}\n`);
      if ((i + 1) % 8 === 0) f.flush();
    }
    f.close();
    this.lines.push(`logger: ${rows} rows to ${path}`);
    return { rows };
  }
}

export const csvLoggerProfile: DeviceProfile<LoggerConfig> = {
  name: "csv-logger",
  summary: "test-only toy: a data logger appending CSV rows",
  deviceSchema,
  steps: {
    log_rows: {
      args: z.strictObject({ file: stepPath, rows: z.int().min(1).max(10_000) }),
      doc: "Append `rows` CSV rows `<i>,<reading>` to file, flushing every 8 rows, then close.",
    },
  },
  pipelines: ["plain"],
  mountPoint: "/sd",
  readers: () => [
    {
      match: ".csv",
      reader: {
        name: "csv",
        check: ({ bytes }) => {
          const text = new TextDecoder().decode(bytes);
          const rows = text.endsWith("\n") ? text.slice(0, -1).split("\n") : [text];
          if (!rows.every((r) => ROW.test(r))) throw new Error("malformed CSV row");
        },
      },
    },
  ],
  provision: (
    media: BlockDevice,
    format: CardFormat,
    _c: LoggerConfig,
    ctx: ProfileContext & { fat: FatDriver },
  ) => {
    if (format !== "none") microPythonMkfsWith(ctx.fat, media);
  },
  simulate: (stack, _config, ctx) => new LoggerSession(stack, ctx.seed),
};
