/**
 * The naive way to reach a crash state, kept as a reference and a baseline: re-run the workload from
 * scratch on a fork of the base card behind a {@link FaultyBlockDevice} that cuts power at write N.
 * The crash engine must give the same surviving bytes without re-running anything (tests compare the
 * two; the bench measures the ratio).
 */
import type { CowBlockDevice } from "../block/cow-block-device.ts";
import { Prng } from "../clock/prng.ts";
import { VirtualClock } from "../clock/virtual-clock.ts";
import { parseFaultPlan, type FaultPlan } from "../faults/fault-plan.ts";
import { FaultyBlockDevice } from "../faults/faulty-block-device.ts";
import type { CrashPoint } from "../faults/materialise.ts";
import type { FatDriver } from "../fat/fat-engine.ts";
import { mountFatVolume } from "../vfs/mount-card.ts";
import type { VfsConfig } from "../vfs/vfs-config.ts";
import { Vfs } from "../vfs/vfs.ts";
import { DEFAULT_MOUNT_POINT, type Workload } from "./record.ts";

/** The fault plan (power cut at write N plus the cut effects) that a crash point denotes online. */
export function planOfCrashPoint(point: CrashPoint): FaultPlan {
  const faults: unknown[] = [{ kind: "power-cut", atWrite: point.completedWrites }];
  faults.push({ kind: "unsynced-writes", ...point.unsynced });
  if (point.torn) faults.push({ kind: "torn-write", ...point.torn });
  if (point.collateral) faults.push({ kind: "collateral", ...point.collateral });
  if (point.bitFlips) faults.push({ kind: "bit-flip", ...point.bitFlips });
  return parseFaultPlan({ version: 1, seed: point.seed, faults });
}

/** Options of {@link rerunToCrashPoint}. */
export interface RerunOptions {
  base: CowBlockDevice;
  workload: Workload;
  seed: number;
  point: CrashPoint;
  runtime: FatDriver;
  config?: VfsConfig;
}

/**
 * Runs the workload again from the base with a power cut at the point's write (the workload sees EIO
 * from then on and usually raises; that is expected) and returns the surviving card (a fork of base).
 */
export async function rerunToCrashPoint(options: RerunOptions): Promise<CowBlockDevice> {
  const clock = new VirtualClock();
  options.runtime.clock = clock;
  const media = options.base.fork();
  const faulty = new FaultyBlockDevice(media, planOfCrashPoint(options.point), { clock });
  const vfs = new Vfs(options.config);
  const volume = mountFatVolume(vfs, faulty, options.runtime, DEFAULT_MOUNT_POINT, {
    ...(options.config && { config: options.config }),
  });
  vfs.chdir(DEFAULT_MOUNT_POINT);
  try {
    await options.workload({
      vfs,
      os: vfs,
      open: ((path: string, mode?: string) => vfs.open(path, mode)) as Vfs["open"],
      clock,
      seed: options.seed,
      prng: new Prng(options.seed),
      mountPoint: DEFAULT_MOUNT_POINT,
      mark: (name) => faulty.mark(name),
    });
  } catch {
    // The power cut surfaces as an OSError in the workload: the run ends there.
  }
  // A cut at the very end (after the last write) never fires during the run: cut now.
  faulty.cutNow();
  volume.engine.unmount();
  return media;
}
