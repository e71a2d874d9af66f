/**
 * How the camera's own code reads each kind of file back: the oracles that tell `detected` (the reader
 * raises a clear error) from `silent` (the reader accepts wrong bytes). They plug into the crash
 * engine's {@link ReaderRule}s and into the simulated target's final classification.
 */
import type { FileReader, ReaderRule } from "../../crash/oracle.ts";
import { checkImageHeaderBytes } from "../../openmv/image.ts";
import type { RsaPrivateKey } from "../../openmv/rsa.ts";
import { decryptEnc, decryptEncV2 } from "../../pipeline/enc-format.ts";
import type { PipelineName } from "../../pipeline/pipeline.ts";
import type { DeviceConfig, ProfileContext } from "../profile.ts";
import { defaultPrivateKey } from "./keys.ts";

/** `image.Image(path)` as the firmware loads it: magic and JPEG headers only (DEVICE-FACTS). */
export const firmwareImageReader: FileReader = {
  name: "image.Image",
  bytesOnly: true,
  check: ({ bytes }) => {
    checkImageHeaderBytes(bytes);
  },
};

/** The hardened read-back: firmware header check plus the JPEG end marker (src/pipeline/hardened.ts). */
export const hardenedImageReader: FileReader = {
  name: "image.Image+EOI",
  bytesOnly: true,
  check: ({ bytes }) => {
    checkImageHeaderBytes(bytes);
    const n = bytes.length;
    if (n < 4 || bytes[n - 2] !== 0xff || bytes[n - 1] !== 0xd9) throw new Error("JPEG end marker missing");
  },
};

/** test2.py's decryption (lax RSA, `.enc` v1): accepts whatever decrypts without an exception. */
export function asReportedEncReader(key: RsaPrivateKey): FileReader {
  return {
    name: "decrypt(lax)",
    bytesOnly: true,
    check: ({ bytes }) => void decryptEnc(bytes, key, "lax"),
    // test1.py pads with os.urandom: the same JPEG encrypts to other bytes on every device.
    recover: (bytes) => decryptEnc(bytes, key, "lax"),
  };
}

/** The hardened `.enc` v2 reader: strict RSA and an integrity tag. */
export function hardenedEncReader(key: RsaPrivateKey): FileReader {
  return {
    name: "decrypt(v2)",
    bytesOnly: true,
    check: ({ bytes }) => void decryptEncV2(bytes, key),
    recover: (bytes) => decryptEncV2(bytes, key),
  };
}

/**
 * The hardened pipeline's temporary files (`<name>.tmp`): never read as data. A temporary is either
 * verified and renamed, or abandoned and removed; damaged bytes in one are discarded, not accepted.
 */
export const temporaryFileReader: FileReader = {
  name: "tmp-discarded",
  bytesOnly: true,
  check: () => {
    throw new Error("a temporary file is discarded, never read as data");
  },
};

/** The reader rules of one pipeline variant. */
export function readerRules(pipeline: PipelineName, key: RsaPrivateKey): ReaderRule[] {
  const hardened = pipeline === "hardened";
  return [
    ...(hardened ? [{ match: ".tmp", reader: temporaryFileReader }] : []),
    { match: ".jpg", reader: hardened ? hardenedImageReader : firmwareImageReader },
    { match: ".jpeg", reader: hardened ? hardenedImageReader : firmwareImageReader },
    { match: ".enc", reader: hardened ? hardenedEncReader(key) : asReportedEncReader(key) },
  ];
}

/**
 * The profile's readers (DeviceProfile.readers): the scenario pipeline's rules with the private key
 * that matches the provisioned `221.pub`. Loaded without the profile itself by sweep workers
 * (src/profiles/profile-readers.ts).
 */
export function openMvReaders(_config: DeviceConfig, ctx: ProfileContext): ReaderRule[] {
  if (ctx.pipeline !== "as-reported" && ctx.pipeline !== "hardened")
    throw new Error(`unknown pipeline '${ctx.pipeline}'; known pipelines: as-reported, hardened`);
  return readerRules(ctx.pipeline, defaultPrivateKey(ctx.scenarioDir));
}
