import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CowBlockDevice, type BlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { FatRuntime } from "../../src/fat/js-fatfs-engine.ts";
import { OpenMvBoard } from "../../src/openmv/board.ts";
import { openmvFirmware470, type FirmwareProfile } from "../../src/openmv/firmware.ts";
import { parsePrivateKeyFile } from "../../src/openmv/key-files.ts";
import type { RsaPrivateKey } from "../../src/openmv/rsa.ts";

export const KEYS = join(fileURLToPath(new URL(".", import.meta.url)), "../../scenarios/keys/rsa1024");
export const PUB_TEXT = readFileSync(join(KEYS, "221.pub"), "utf8");
export const PRIV: RsaPrivateKey = parsePrivateKeyFile(
  readFileSync(join(KEYS, "221.pem"), "utf8"),
  "221.pem",
);

/** Seconds after the clock's epoch (2025-01-01T00:00:00Z) at which the seed's frame 221_1735689732000 is named. */
export const SEED_FRAME_OFFSET_MICROS = 132_000_000;

let shared: FatRuntime | undefined;
/** One FatFs runtime per test file (a board uses two drives until halt()). */
export async function runtime(clock: VirtualClock): Promise<FatRuntime> {
  shared ??= await FatRuntime.load(clock);
  return shared;
}

export interface BootArgs {
  clock: VirtualClock;
  card: BlockDevice;
  firmware?: FirmwareProfile;
  format?: boolean;
  seed?: number;
}

export async function boot(a: BootArgs): Promise<OpenMvBoard> {
  return OpenMvBoard.boot({
    clock: a.clock,
    card: a.card,
    firmware: a.firmware ?? openmvFirmware470,
    seed: a.seed ?? 7,
    runtime: await runtime(a.clock),
    ...(a.format !== undefined && { format: a.format }),
  });
}

/**
 * A formatted 8 MiB card holding `221.pub` and an empty `myimages/` (as after the reporter's set-up),
 * returned as a forkable base, with a clock at the seed frame's time.
 */
export async function preparedCard(): Promise<{ base: CowBlockDevice; clock: VirtualClock }> {
  const clock = new VirtualClock();
  clock.advance(SEED_FRAME_OFFSET_MICROS);
  const base = CowBlockDevice.blank(512, 16384);
  const b = await boot({ clock, card: base, format: true });
  b.open("221.pub", "w").with((f) => f.write(PUB_TEXT));
  b.os.mkdir("/sdcard/myimages");
  b.halt();
  return { base, clock };
}
