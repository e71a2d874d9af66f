/**
 * Checking a metastable crash state (src/faults/metastable.ts): its interrupted sectors read
 * differently each time, so the state is rebooted and read twice, one full check after the other on
 * the same metastable device (the second boot reads fresh draws), and each file's two verdicts are
 * compared: when they differ the file is `unstable` (the worst class: the camera may accept it once
 * and refuse it, or read other bytes, the next time). A volume that mounts on one read and not on the
 * other makes every file unstable. Never memoised: the reads are not a function of the bytes.
 */
import type { BlockDevice } from "../block/block-device.ts";
import { MetastableBlockDevice } from "../faults/metastable.ts";
import type { CrashPoint } from "../faults/materialise.ts";
import type { FileOutcome } from "./oracle.ts";
import type { StateResult } from "./sweep-types.ts";

/** What {@link checkTwice} needs of a checker. */
export interface TwiceCheckable {
  readonly materialiser: {
    materialiseDetailed(point: CrashPoint): {
      device: BlockDevice;
      unstable?: Map<number, { old: Uint8Array; new: Uint8Array }>;
    };
  };
  checkDevice(device: BlockDevice, point: CrashPoint, ordinal: number): Promise<StateResult>;
}

function verdict(f: FileOutcome): string {
  return `${f.class}${f.detail ? ` (${f.detail})` : ""}`;
}

/** Merges the two reads of one state. */
export function mergeReads(a: StateResult, b: StateResult): StateResult {
  if (a.volume !== b.volume) {
    const mounted = a.volume === "mounted" ? a : b;
    const other = mounted === a ? b : a;
    return {
      ...mounted,
      class: "unstable",
      files: mounted.files.map((f) => ({
        ...f,
        class: "unstable" as const,
        detail: `read 1: ${a === mounted ? verdict(f) : `unmountable (${other.mountError ?? ""})`}; read 2: ${b === mounted ? verdict(f) : `unmountable (${other.mountError ?? ""})`}`,
      })),
    };
  }
  const byPath = new Map(b.files.map((f) => [f.path, f]));
  let unstable = false;
  const files = a.files.map((f): FileOutcome => {
    const g = byPath.get(f.path);
    if (!g || g.class === f.class) return f;
    unstable = true;
    return { ...f, class: "unstable", matched: -1, detail: `read 1: ${verdict(f)}; read 2: ${verdict(g)}` };
  });
  return { ...a, files, class: unstable ? "unstable" : a.class };
}

/**
 * What fsck reads in a check: for a metastable device a side view with its own stream, so a check
 * with fsck (a sweep) and one without (a replay, a shrink) draw the same reads for the files.
 */
export function fsckView(device: BlockDevice): BlockDevice {
  return device instanceof MetastableBlockDevice ? device.sideView("fsck") : device;
}

/** Materialises a metastable point and checks it on two boots (see the module comment). */
export async function checkTwice(
  checker: TwiceCheckable,
  point: CrashPoint,
  ordinal: number,
): Promise<StateResult> {
  const { device, unstable } = checker.materialiser.materialiseDetailed(point);
  if (!point.metastable || !unstable || unstable.size === 0)
    return checker.checkDevice(device, point, ordinal);
  const view = new MetastableBlockDevice(device, unstable, point.metastable, point.seed);
  const first = await checker.checkDevice(view, point, ordinal);
  const second = await checker.checkDevice(view, point, ordinal);
  return mergeReads(first, second);
}
