/**
 * The `openmv-rt1062` profile: an OpenMV RT1062 camera (MicroPython, OpenMV firmware 4.x) running the
 * reporter's capture → save → read back → encrypt → decrypt pipeline (seed 000). This file composes
 * src/openmv (the board and its firmware releases) and src/pipeline (the scripts) into a
 * {@link DeviceProfile}.
 */
import { z } from "zod";
import type { BlockDevice } from "../../block/block-device.ts";
import { formatExfat } from "../../fat/exfat-mkfs.ts";
import { formatWith, microPythonMkfsWith, MkfsError } from "../../fat/mkfs.ts";
import { locateFatVolume } from "../../fat/partition.ts";
import { InputError } from "../../input/index.ts";
import { FatError, type FatDriver } from "../../fat/fat-engine.ts";
import { FIRMWARE_PROFILES, firmwareByVersion } from "../../openmv/firmware.ts";
import { pipelineByName } from "../../pipeline/index.ts";
import type { CardFormat, DeviceProfile, ProfileContext } from "../profile.ts";
import { faultPlanForFirmware } from "./firmware-faults.ts";
import { openMvBoardCodec } from "./board/codec.ts";
import { openMvReaders } from "./readers.ts";
import { OPENMV_STEPS } from "./steps.ts";
import { OpenMvSession, PROVISIONED_PUB, readKeyFile } from "./session.ts";

const FIRMWARE_VERSIONS = FIRMWARE_PROFILES.map((f) => f.version) as [string, ...string[]];

const deviceSchema = z.strictObject({
  profile: z.literal("openmv-rt1062"),
  firmware: z.enum(FIRMWARE_VERSIONS),
  uniqueId: z
    .string()
    .regex(/^[0-9a-fA-F]{16}$/, "expected 16 hex digits (machine.unique_id(), 8 bytes)")
    .optional(),
  deviceId: z.int().min(0).optional(),
});
/** The `device:` block of an OpenMV scenario. */
export type OpenMvDeviceConfig = z.infer<typeof deviceSchema>;

/**
 * Formats a fresh card as the reporter prepared theirs, then puts `221.pub` in its root directory.
 * Works on the media directly (no timing, no faults, no log).
 */
function provision(
  media: BlockDevice,
  format: CardFormat,
  _config: OpenMvDeviceConfig,
  ctx: ProfileContext & { fat: FatDriver },
): void {
  if (format === "none") return;
  try {
    if (format === "mkfs-fat32") formatWith(ctx.fat, media, { fatType: 32, fats: 2 });
    else if (format === "sdxc-exfat" || format === "sdxc-exfat-gpt")
      formatExfat(media, { volumeSerial: ctx.seed, gpt: format === "sdxc-exfat-gpt" });
    else microPythonMkfsWith(ctx.fat, media);
  } catch (e) {
    if (!(e instanceof MkfsError)) throw e;
    throw new InputError(ctx.scenarioFile, [
      {
        path: ["card", "format"],
        message: `${e.message}; ${format === "micropython" ? "the camera's VfsFat.mkfs makes FAT12/16 only: use format: mkfs-fat32 (the SD Association's formatter) for a card this size" : "choose another size or format"}`,
      },
    ]);
  }
  const engine = mountProvisioned(media, format, ctx);
  try {
    const f = engine.open(`/${PROVISIONED_PUB.path}`, {
      read: false,
      write: true,
      disposition: "create-always",
    });
    f.write(new TextEncoder().encode(readKeyFile(ctx.scenarioDir, PROVISIONED_PUB.file)));
    f.close();
  } finally {
    engine.unmount();
  }
}

/**
 * The freshly formatted card, mounted; an exFAT card on an engine without exFAT is the scenario's
 * error. A GPT card is mounted through its partition, as the PC that puts 221.pub on it does: the
 * camera's FatFs R0.13c itself has no GPT support and will find no file system on it.
 */
function mountProvisioned(media: BlockDevice, format: CardFormat, ctx: ProfileContext & { fat: FatDriver }) {
  try {
    return ctx.fat.mount(format === "sdxc-exfat-gpt" ? locateFatVolume(media).device : media);
  } catch (e) {
    if (!(e instanceof FatError) || !format.startsWith("sdxc-exfat")) throw e;
    throw new InputError(ctx.scenarioFile, [
      {
        path: ["engine"],
        message: `${ctx.fat.name} cannot mount the exFAT card (card.format sdxc-exfat): expected engine ts-fatfs or ts-fatfs-per-file (npm js-fatfs is built with FF_FS_EXFAT=0)`,
      },
    ]);
  }
}

export const openmvRt1062Profile: DeviceProfile<OpenMvDeviceConfig> = {
  name: "openmv-rt1062",
  summary: "OpenMV RT1062 camera, MicroPython, firmware 4.x: the reporter's JPEG + .enc pipeline (seed 000)",
  deviceSchema,
  steps: OPENMV_STEPS,
  pipelines: ["as-reported", "hardened"],
  mountPoint: "/sdcard",
  // MicroPython's oofatfs (FatFs R0.13c, FF_FS_TINY=1): the board's own write order (DEVICE-FACTS).
  defaultEngine: "ts-fatfs",
  readers: openMvReaders,
  provision,
  adjustFaultPlan: (plan, config) => faultPlanForFirmware(plan, firmwareByVersion(config.firmware)),
  simulate: (stack, config, ctx) =>
    new OpenMvSession(stack, {
      firmware: firmwareByVersion(config.firmware),
      pipeline: pipelineByName(ctx.pipeline),
      ...(config.uniqueId !== undefined && { uniqueId: config.uniqueId }),
      ...(config.deviceId !== undefined && { deviceId: config.deviceId }),
      seed: ctx.seed,
      scenarioDir: ctx.scenarioDir,
    }),
  boardCodec: openMvBoardCodec,
};
