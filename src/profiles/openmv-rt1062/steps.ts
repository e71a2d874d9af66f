/**
 * The OpenMV camera's own steps: the reporter's pipeline (seed 000) as granular operations, each one
 * executable by the MicroPython agent on the real board. Sizes in bytes, times in milliseconds.
 */
import { z } from "zod";
import type { StepSpec } from "../profile.ts";
import { stepMillis, stepName, stepPath } from "../step-args.ts";

export const OPENMV_STEPS = {
  capture: {
    args: z.strictObject({
      pixformat: z.enum(["RGB565", "GRAYSCALE"]).optional(),
      framesize: z.enum(["QVGA", "VGA", "HD"]).optional(),
      as: stepName.optional(),
    }),
    doc: "sensor.snapshot() with the given pixformat/framesize; keep the image under `as` (default 'img').",
  },
  save: {
    args: z.strictObject({
      image: stepName.optional(),
      path: stepPath.optional(),
      quality: z.int().min(1).max(100).optional(),
    }),
    doc: "img.save(path, quality=q) of a captured image (default the last capture); without a path, the pipeline's own save to /sdcard/myimages/<id>_<ms>_raw.jpg.",
  },
  read_back: {
    args: z.strictObject({ path: stepPath.optional() }),
    doc: "The pipeline's read back: image.Image(path) (default the last saved image), logging its error line.",
  },
  encrypt: {
    args: z.strictObject({ src: stepPath.optional(), dst: stepPath.optional(), pub: stepPath.optional() }),
    doc: "The pipeline's hybrid encryption of src (default the last saved image) to dst (default <id>_<ms>.enc) with public key file pub (default 221.pub).",
  },
  decrypt: {
    args: z.strictObject({ src: stepPath.optional(), dst: stepPath.optional(), key: stepPath.optional() }),
    doc: "The pipeline's decryption of src (default the last .enc) to dst (default <id>_<ms>.jpg) with private key file key (default /flash/221.priv).",
  },
  run_script: {
    args: z.strictObject({
      script: z.enum(["main", "test1", "test2"]),
      frames: z.int().min(1).max(10_000).optional(),
      intervalMs: stepMillis.optional(),
    }),
    doc: "Run one of the reporter's scripts (main.py, test1.py, test2.py) for n frames.",
  },
} as const satisfies Record<string, StepSpec>;
