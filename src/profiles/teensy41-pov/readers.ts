/**
 * How the poi's own code reads its files back (the outcome oracles): the firmware's loadImage
 * checks. As designed, the header and the length are checked and the pixels are not, so a `.pov`
 * whose header is valid but whose pixels are wrong is `silent`; the hardened reader also checks the
 * CRC. `.pat` presets are checked field by field; the hardened variant's temporaries are never read.
 */
import type { FileReader, ReaderRule } from "../../crash/oracle.ts";
import { decodePat } from "../../pov/pat-format.ts";
import { decodePov, type PovVariant } from "../../pov/pov-format.ts";
import type { DeviceConfig, ProfileContext } from "../profile.ts";

export function povReader(variant: PovVariant): FileReader {
  return {
    name: variant === "hardened" ? "loadImage(crc)" : "loadImage",
    bytesOnly: true,
    check: ({ bytes, path }) => void decodePov(bytes, { file: path, variant }),
  };
}

export const patReader: FileReader = {
  name: "loadPatternPreset",
  bytesOnly: true,
  check: ({ bytes, path }) => void decodePat(bytes, { file: path }),
};

export const temporaryReader: FileReader = {
  name: "tmp-discarded",
  bytesOnly: true,
  check: () => {
    throw new Error("a temporary file is finished or removed at begin(), never read as an image");
  },
};

export function teensyReaderRules(variant: PovVariant): ReaderRule[] {
  return [
    { match: ".tmp", reader: temporaryReader },
    { match: ".pov", reader: povReader(variant) },
    { match: ".pat", reader: patReader },
  ];
}

/** The profile's readers (DeviceProfile.readers); sweep workers load them without the profile. */
export function teensyReaders(_config: DeviceConfig, ctx: ProfileContext): ReaderRule[] {
  return teensyReaderRules(ctx.pipeline as PovVariant);
}
