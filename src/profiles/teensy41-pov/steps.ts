/** The teensy41-pov step vocabulary: the SDStorageManager API, the card slot and the ESP32 link. */
import { z } from "zod";
import type { StepSpec } from "../profile.ts";
import { noArgs, stepName } from "../step-args.ts";

const name = z.string().min(1, "expected a file name such as heart.pov");
const dim = z.int().min(1).max(0xffff);
/** How a step's image is made: a gradient, rings, seeded random bytes, or one colour. */
export const PIXEL_SOURCES = ["gradient", "rings", "random", "solid"] as const;
const pixels = z.enum(PIXEL_SOURCES).default("gradient");

export const TEENSY_STEPS = {
  begin: { args: noArgs, doc: "sdStorage.begin(): mount the card again (after insert or an error)." },
  save_image: {
    args: z.strictObject({ name, width: dim.default(360), height: dim.default(32), pixels }),
    doc: "sdStorage.saveImage(name, pixels, width, height) of a generated image (default 360x32 gradient).",
  },
  load_image: {
    args: z.strictObject({ name }),
    doc: "povEngine.loadImageFromSD(name, &sdStorage): the image into the display buffer.",
  },
  delete_image: { args: z.strictObject({ name }), doc: "sdStorage.deleteImage(name)." },
  image_exists: { args: z.strictObject({ name }), doc: "sdStorage.imageExists(name)." },
  list_images: {
    args: z.strictObject({ max: z.int().min(0).max(255).default(32) }),
    doc: "sdStorage.listImages(filenames, max): the .pov names in directory order.",
  },
  image_info: {
    args: z.strictObject({ name }),
    doc: "sdStorage.getImageInfo(name, w, h, size): the header only.",
  },
  card_info: {
    args: noArgs,
    doc: "isCardPresent(), getTotalSpace(), getFreeSpace().",
  },
  save_preset: {
    args: z.strictObject({ name, patterns: z.int().min(1).max(16).default(16) }),
    doc: "savePatternPreset(name) of `patterns` generated pattern slots → /poi_patterns/<name>.pat.",
  },
  load_preset: { args: z.strictObject({ name }), doc: "loadPatternPreset(name)." },
  pull_card: {
    args: noArgs,
    doc: "The card leaves its slot now (it loses power as in a cut; the Teensy keeps running).",
    needs: "power-cut",
  },
  insert_card: {
    args: noArgs,
    doc: "The card goes back in (power restored after a pull or a card-side cut), then begin().",
    needs: "power-cut",
  },
  esp32: {
    args: z.strictObject({
      message: z.enum(["save_image", "list_images", "delete_image", "get_info", "load_image"]),
      name: name.optional(),
      width: dim.default(360),
      height: dim.default(32),
      pixels,
      /** Pixel bytes per SAVE_IMAGE chunk (default: as many as a frame holds). */
      chunkBytes: z.int().min(1).max(1024).optional(),
      /** Send only this many chunks of a save, then let the line go quiet (a broken transfer). */
      stopAfterChunks: z.int().min(0).optional(),
      as: stepName.optional(),
    }),
    doc: "The ESP32 sends one message (0x10-0x14) over the serial link; the Teensy's replies are the value.",
  },
  esp32_raw: {
    args: z.strictObject({
      hex: z.string().regex(/^(?:[0-9a-fA-F]{2})*$/, "expected an even number of hex digits"),
      idle: z.boolean().default(true),
    }),
    doc: "Raw bytes on the ESP32 line (garbage, a truncated frame); idle: the line then goes quiet.",
  },
} as const satisfies Record<string, StepSpec>;
