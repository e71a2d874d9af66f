/**
 * The `teensy41-pov` profile: a Teensy 4.1 LED POV poi storing RGB images (`.pov`) and pattern
 * presets (`.pat`) on its built-in SD card through the seed's SDStorageManager, driven by an ESP32
 * over serial (seed 002). Composes src/pov with the shared storage stack.
 */
import type { BlockDevice } from "../../block/block-device.ts";
import type { FaultPlan } from "../../faults/fault-plan.ts";
import type { FatDriver } from "../../fat/fat-engine.ts";
import { formatExfat } from "../../fat/exfat-mkfs.ts";
import { formatWith, microPythonMkfsWith } from "../../fat/mkfs.ts";
import { renderPov, type PovVariant } from "../../pov/index.ts";
import type { CardFormat, DeviceProfile, ProfileContext } from "../profile.ts";
import { teensyDeviceSchema, TEENSY_FAT_ENGINE, type TeensyDeviceConfig } from "./config.ts";
import { Esp32LinkSession } from "./esp32-link.ts";
import { teensyReaders } from "./readers.ts";
import { TEENSY_MOUNT_POINT, TeensySession } from "./session.ts";
import { TEENSY_STEPS } from "./steps.ts";
import { startVirtualTeensyPty } from "./virtual-teensy-pty.ts";

/** SdFat's `BUSY_TIMEOUT_MICROS` (SdFat src/SdCard/SdioTeensy.cpp): the Teensy's DAT0 busy wait. */
export const SDFAT_BUSY_TIMEOUT_MICROS = 1_000_000;

function provision(
  media: BlockDevice,
  format: CardFormat,
  config: TeensyDeviceConfig,
  ctx: ProfileContext & { fat: FatDriver },
): void {
  // An SDXC card as it ships (SD.format() would also choose exFAT above 32 GB): the SD Association's
  // exFAT layout; `cardFilesystem: exfat` asks for the same on a smaller card. `sdxc-exfat-gpt`: the
  // same volume in a GPT partition (macOS Disk Utility), which Teensyduino's SdFat mounts.
  if (format === "sdxc-exfat-gpt") return void formatExfat(media, { volumeSerial: ctx.seed, gpt: true });
  if (format === "sdxc-exfat" || config.cardFilesystem === "exfat")
    return void formatExfat(media, { volumeSerial: ctx.seed });
  // SD.format() (SdFat) gives a card ≤ 32 GB FAT32 with two FATs; `micropython` is FatFs's default.
  if (format === "mkfs-fat32") formatWith(ctx.fat, media, { fatType: 32, fats: 2 });
  else if (format === "micropython") microPythonMkfsWith(ctx.fat, media);
}

/** Busy timeouts without their own wait take SdFat's (1 s), not the OpenMV driver's 3 s. */
function adjustFaultPlan(plan: FaultPlan): FaultPlan {
  return {
    ...plan,
    faults: plan.faults.map((f) =>
      f.kind === "busy-timeout" && f.timeoutMicros === undefined
        ? { ...f, timeoutMicros: SDFAT_BUSY_TIMEOUT_MICROS }
        : f,
    ),
  };
}

export const teensy41PovProfile: DeviceProfile<TeensyDeviceConfig> = {
  name: "teensy41-pov",
  summary: "Teensy 4.1 POV poi: .pov images and .pat presets via SDStorageManager, ESP32 link (seed 002)",
  deviceSchema: teensyDeviceSchema,
  steps: TEENSY_STEPS,
  pipelines: ["as-designed", "hardened"],
  mountPoint: TEENSY_MOUNT_POINT,
  defaultEngine: TEENSY_FAT_ENGINE,
  readers: teensyReaders,
  provision,
  adjustFaultPlan,
  simulate: (stack, config, ctx) =>
    new TeensySession(stack, { device: config, variant: ctx.pipeline as PovVariant, seed: ctx.seed }),
  virtualDevice: (options) => startVirtualTeensyPty(options),
  deviceLink: { targetName: "esp32-link", open: (run) => Esp32LinkSession.open(run) },
  filePreviews: { ".pov": (bytes, name) => renderPov(bytes, name) },
};
