/**
 * The OpenMV profile's key files (scenarios/keys/README.md: test-only keys): where they are found and
 * the readers' private key. Apart from the session so the readers (readers.ts) load without the board.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { InputError } from "../../input/input-error.ts";
import { parsePrivateKeyFile } from "../../openmv/key-files.ts";
import type { RsaPrivateKey } from "../../openmv/rsa.ts";

/** Key files relative to the scenario directory (scenarios/keys/README.md: test-only keys). */
export const PROVISIONED_PUB = { path: "221.pub", file: "keys/rsa1024/221.pub" } as const;
export const PRIVATE_KEYS: Readonly<Record<string, string>> = {
  "/flash/221.priv": "keys/rsa1024/221.priv",
  "/flash/other.priv": "keys/rsa1024-other/221.priv",
};
export const DEFAULT_PRIVATE_KEY = "/flash/221.priv";

/** The scenario data shipped with cardsim (`<repo>/scenarios`): its test-only keys are the default. */
const SHIPPED_SCENARIO_DATA = fileURLToPath(new URL("../../../scenarios/", import.meta.url));

/**
 * Reads a key file of the scenario's data: `rel` beside the scenario file (a scenario may bring its own
 * `keys/`), else the test-only keys shipped in `scenarios/keys/`. Neither: an InputError naming both.
 */
export function readKeyFile(scenarioDir: string, rel: string): string {
  for (const dir of [scenarioDir, SHIPPED_SCENARIO_DATA]) {
    const path = join(dir, rel);
    if (existsSync(path)) return readFileSync(path, "utf8");
  }
  throw new InputError(undefined, [
    {
      path: ["device"],
      message: `key file '${rel}' not found beside the scenario (${join(scenarioDir, rel)}) nor in cardsim's scenarios/`,
    },
  ]);
}

/** The private key matching the provisioned `221.pub` (the readers' decryption key). */
export function defaultPrivateKey(scenarioDir: string): RsaPrivateKey {
  return parsePrivateKeyFile(
    readKeyFile(scenarioDir, PRIVATE_KEYS[DEFAULT_PRIVATE_KEY]),
    DEFAULT_PRIVATE_KEY,
  );
}
