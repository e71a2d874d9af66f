/**
 * The layer rules of eslint.config.js (ARCHITECTURE.md: each layer talks only to the one below it)
 * refuse deliberate violations and let allowed imports through. Only the layer blocks run here, on
 * the TypeScript parser without type information, so the test stays fast.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ESLint, type Linter } from "eslint";
import tseslint from "typescript-eslint";
import { beforeAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
let eslint: ESLint;
let config: { default: Linter.Config[]; layerRules: Linter.Config[] };

beforeAll(async () => {
  config = (await import(pathToFileURL(join(root, "eslint.config.js")).href)) as typeof config;
  eslint = new ESLint({
    cwd: root,
    overrideConfigFile: true,
    overrideConfig: [
      { files: ["**/*.ts"], languageOptions: { parser: tseslint.parser } },
      ...config.layerRules,
    ],
  });
});

/** The layer-rule messages ESLint gives `code` as if it were the file `path` (relative to the repo). */
async function layerErrors(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, path) });
  return result.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe("layer rules", () => {
  it("are part of the lint configuration npm test runs", () => {
    for (const block of config.layerRules) expect(config.default).toContain(block);
  });

  it.each([
    [
      "src/vfs/x.ts",
      'import { OpenMvBoard } from "../openmv/board.ts";',
      "src/vfs may not import src/openmv",
    ],
    ["src/faults/x.ts", 'import { fsck } from "../fat/index.ts";', "src/faults may not import src/fat"],
    ["src/block/x.ts", 'export * from "../card/sd-card.ts";', "src/block may not import src/card"],
    [
      "src/input/x.ts",
      'import { parseFaultPlan } from "../faults/fault-plan.ts";',
      "src/input may not import src/faults",
    ],
    [
      "src/openmv/x.ts",
      'import type { Pipeline } from "../pipeline/pipeline.ts";',
      "src/openmv may not import src/pipeline",
    ],
    [
      "src/crash/x.ts",
      'import { x } from "../stack/storage-stack.ts";',
      "src/crash may not import src/stack",
    ],
    ["src/pov/x.ts", 'import { Image } from "../openmv/image.ts";', "src/pov may not import src/openmv"],
    ["src/link/x.ts", 'import { Vfs } from "../vfs/vfs.ts";', "src/link may not import src/vfs"],
    ["src/fat/x.ts", 'import { runScenario } from "../../sim/runner.ts";', "src/fat may not import sim/"],
    [
      "src/openmv/x.ts",
      'import { KEY } from "../../test/fixtures/keys.ts";',
      "src/openmv may not import test/",
    ],
    ["sim/x.ts", 'import { Image } from "../src/openmv/image.ts";', "sim/ may not import src/openmv"],
    [
      "sim/cli/x.ts",
      'import { hardenedPipeline } from "../../src/pipeline/hardened.ts";',
      "sim/ may not import src/pipeline",
    ],
    [
      "sim/x.ts",
      'import { openmv } from "../src/profiles/openmv-rt1062/index.ts";',
      "sim/ may not import a profile's own folder",
    ],
  ])("%s: %s fails", async (path, code, message) => {
    const errors = await layerErrors(path, code);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("no-restricted-imports: ");
    expect(errors[0]).toContain(`Layer rule (ARCHITECTURE.md): ${message}`);
  });

  it.each([
    ["src/openmv/x.ts", 'import { FatRuntime } from "../fat/js-fatfs-engine.ts";'],
    ["src/hosts/x.ts", 'import { FatRuntime, loadFatDriver } from "../fat/index.ts";'],
    ["src/vfs/x.ts", 'import type { FatFs } from "js-fatfs";'],
    ["src/crash/x.ts", 'import { FatRuntime } from "../fat/js-fatfs/runtime.ts";'],
    ["sim/x.ts", 'import { mountFat } from "../src/fat/index.ts";'],
  ])("%s: %s fails (FAT implementations are named only in src/fat)", async (path, code) => {
    const errors = await layerErrors(path, code);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(
      "a FAT implementation is chosen only in src/fat; use loadFatDriver() and FatDriver",
    );
  });

  it.each([
    [
      "src/openmv/x.ts",
      'import { FRESULT, type FatDriver } from "../fat/fat-engine.ts";\nimport { Vfs } from "../vfs/vfs.ts";',
    ],
    ["src/hosts/x.ts", 'import { loadFatDriver, type FatEngine } from "../fat/index.ts";'],
    ["src/faults/x.ts", 'import { InputError } from "../input/index.ts";'],
    ["src/fat/ts-fatfs/x.ts", 'import { FatError } from "../fat-engine.ts";'],
    ["src/fat/x.ts", 'import create from "js-fatfs";\nimport { FatRuntime } from "./js-fatfs-engine.ts";'],
    ["src/profiles/openmv-rt1062/x.ts", 'import { OpenMvBoard } from "../../openmv/board.ts";'],
    [
      "sim/x.ts",
      'import { PROFILES } from "../src/profiles/index.ts";\nimport { SdCard } from "../src/card/index.ts";',
    ],
    ["test/vfs/x.ts", 'import { FatRuntime } from "../../src/fat/js-fatfs-engine.ts";'],
    ["src/vfs/x.test.ts", 'import { OpenMvBoard } from "../openmv/board.ts";'],
  ])("%s: allowed", async (path, code) => {
    expect(await layerErrors(path, code)).toEqual([]);
  });
});
