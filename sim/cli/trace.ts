/**
 * `cardsim trace diff A B [--card IMG] [--json]`: compares two `cardsim-trace/1` logs (the simulator's
 * and a board's, or two engines') on the write index: counts, % equal at the same index and in any
 * order, the first divergence. With `--card` (a card image, read only) each sector is named by its
 * role: boot, FSInfo, FAT, the directory or file it belongs to.
 *
 * Exit codes: 0 the traces agree, 1 they differ, 2 unusable input (a malformed trace, a missing file).
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ImageFileBlockDevice } from "../../src/block/index.ts";
import { locateFatVolume, PartitionError } from "../../src/fat/partition.ts";
import { sectorRoles } from "../../src/fat/sector-roles.ts";
import { InputError } from "../../src/input/index.ts";
import { diffTraces, formatTraceDiff, readTraceFile } from "../../src/trace/index.ts";

const USAGE = `usage: cardsim trace diff A B [--card IMG] [--json]
  compares two cardsim-trace/1 files (JSON Lines, optionally gzip) on the write index;
  --card names each sector's role from a card image (opened read-only)
`;

export interface TraceCliEnv {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  cwd: string;
}

function defaultEnv(): TraceCliEnv {
  return {
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
    cwd: process.cwd(),
  };
}

export async function traceMain(args: string[], override: Partial<TraceCliEnv> = {}): Promise<number> {
  const env = { ...defaultEnv(), ...override };
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { card: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
  } catch (e) {
    env.stderr(`cardsim trace: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    env.stdout(USAGE);
    return 0;
  }
  const [sub, a, b, ...extra] = positionals;
  if (sub !== "diff" || a === undefined || b === undefined || extra.length > 0) {
    env.stderr(`cardsim trace: expected 'diff A B'\n${USAGE}`);
    return 2;
  }
  try {
    const left = readTraceFile(resolve(env.cwd, a));
    const right = readTraceFile(resolve(env.cwd, b));
    let roleOf: ((lba: number) => string) | undefined;
    if (values.card !== undefined) {
      const image = ImageFileBlockDevice.open(resolve(env.cwd, values.card), {
        blockSize: left.header.sectorSize,
      });
      try {
        // Trace LBAs are the card's: roles of the whole card (sectorRoles finds the partition itself);
        // locateFatVolume only refuses a card without a FAT or exFAT volume, naming why.
        locateFatVolume(image, undefined, values.card);
        roleOf = sectorRoles(image).roleOf;
      } catch (e) {
        image.close();
        throw e;
      }
    }
    const diff = diffTraces(left, right, roleOf ? { roleOf } : {});
    env.stdout(values.json ? `${JSON.stringify(diff, null, 2)}\n` : formatTraceDiff(diff));
    return diff.equal ? 0 : 1;
  } catch (e) {
    if (
      e instanceof InputError ||
      e instanceof PartitionError ||
      (e as NodeJS.ErrnoException).code === "ENOENT"
    ) {
      env.stderr(`cardsim trace: ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }
}
