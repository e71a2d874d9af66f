/**
 * Files whose bytes the device randomises (an `.enc`: test1.py's RSA padding comes from os.urandom, so
 * the same JPEG encrypts to other bytes on every device) compare by what their reader recovers: the
 * sha256 of the decrypted JPEG, read from each side's card at the end of the run with the profile's
 * own reader (its {@link FileReader.recover}). Every other file compares by its bytes' sha256.
 */
import { createHash } from "node:crypto";
import { RamBlockDevice } from "../src/block/index.ts";
import { readerFor, reboot } from "../src/crash/index.ts";
import { VolumeReader } from "../src/crash/volume-reader.ts";
import type { Scenario } from "./scenario-schema.ts";
import { engineOf, fatDriver, profileContext, profileOf } from "./scenario-profile.ts";

/** What a side's reader recovered from a randomised file: `sha256:<hex>`, `absent`, or `unreadable: <error>`. */
export type Recovered = string;

/** The paths of `paths` whose reader recovers content (the files the device randomises). */
export function randomisedPaths(scenario: Scenario, seed: number, paths: readonly string[]): string[] {
  const rules = profileOf(scenario).readers(scenario.device, profileContext(scenario, seed));
  return paths.filter((p) => readerFor(rules, p).recover !== undefined);
}

/** What the profile's readers recover from each of `paths` on `card` (paths whose reader recovers). */
export async function recoveredContents(
  scenario: Scenario,
  seed: number,
  card: Uint8Array,
  paths: readonly string[],
): Promise<Record<string, Recovered>> {
  const profile = profileOf(scenario);
  const rules = profile.readers(scenario.device, profileContext(scenario, seed));
  const wanted = randomisedPaths(scenario, seed, paths);
  const out: Record<string, Recovered> = {};
  if (wanted.length === 0) return out;
  // A private copy: a mount may write (FatFs's dirty flags), the caller's image stays as it was.
  const boot = reboot(RamBlockDevice.fromImage(card.slice()), {
    runtime: await fatDriver(engineOf(scenario)),
    mountPoint: profile.mountPoint,
  });
  if (!boot.mounted) {
    for (const p of wanted) out[p] = `unreadable: ${boot.message}`;
    return out;
  }
  try {
    const volume = new VolumeReader(boot.engine, profile.mountPoint);
    for (const p of wanted) {
      try {
        const bytes = volume.read(p);
        out[p] =
          bytes === null
            ? "absent"
            : `sha256:${createHash("sha256").update(readerFor(rules, p).recover!(bytes)).digest("hex")}`;
      } catch (e) {
        out[p] = `unreadable: ${(e as Error).message}`;
      }
    }
  } finally {
    boot.shutdown();
  }
  return out;
}
