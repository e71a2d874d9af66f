// Flat config: typescript-eslint type-aware rules as errors (STYLE.md, Tooling), and the layer rules.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

// ---------------------------------------------------------------------------------------------------
// Layer rules (ARCHITECTURE.md: "each layer talks only to the one below it"), as `no-restricted-imports`
// patterns, one config block per layer folder so each file gets exactly one set (ESLint replaces, not
// merges, a rule's options when two blocks match a file: a folder that needs more restrictions adds them
// to its layer here, not in a later block). Imports are matched by folder name in the specifier as
// written ("../openmv/board.ts", "../../src/pipeline/x.ts"); every layer folder name is unique.
// Type-only imports count too. Tests (test/, *.test.ts) and bench/ are free.

/** src/ layers bottom up: a layer may import any lower rank, never a higher one. `device` layers
 * (one device's own code) never import another device's layers either. */
const LAYERS = [
  { dir: "clock", rank: 0 },
  // InputError and the zod-issue formatter: any layer that parses user input may use them.
  { dir: "input", rank: 0 },
  { dir: "block", rank: 1 },
  { dir: "trace", rank: 2 },
  { dir: "card", rank: 3 },
  { dir: "faults", rank: 4 },
  { dir: "fat", rank: 5 },
  { dir: "hosts", rank: 6 },
  { dir: "vfs", rank: 7 },
  { dir: "openmv", rank: 8, device: "openmv" },
  { dir: "pov", rank: 8, device: "pov" },
  { dir: "pipeline", rank: 9, device: "openmv" },
  { dir: "crash", rank: 10 },
  { dir: "stack", rank: 11 },
  { dir: "profiles", rank: 12 },
];
/** Side layers: what they may import from src/ (anything else in src/, and sim/, is refused). */
const SIDE_LAYERS = [
  // The serial link to a real board: device-neutral plumbing on node libraries.
  { dir: "link", allowed: ["clock"] },
  // MicroPython (WASM) behind a pty with the simulated card: the camera side of the link.
  {
    dir: "virtual-board",
    allowed: ["clock", "block", "trace", "card", "faults", "fat", "vfs", "openmv", "stack", "link"],
  },
];
/** Who may import a side layer (from src/; sim/ may import both). */
const SIDE_IMPORTERS = { link: ["profiles", "virtual-board"], "virtual-board": [] };

const ALL_DIRS = [...LAYERS, ...SIDE_LAYERS].map((l) => l.dir);
/** A folder name (letters and "-" only) anywhere in an import specifier. */
const folder = (dir) => `(^|/)${dir}(/|$)`;
const layerMessage = (from, to, why) =>
  `Layer rule (ARCHITECTURE.md): ${from} may not import ${to}: ${why}. See eslint.config.js.`;
const refuse = (from, dir, why) => ({ regex: folder(dir), message: layerMessage(from, `src/${dir}`, why) });

// Only src/fat names a FAT implementation; everyone else gets a FatDriver from loadFatDriver
// (src/fat/drivers.ts). Tests and benchmarks may use js-fatfs directly.
const FAT_IMPLEMENTATION_WHY =
  "a FAT implementation is chosen only in src/fat; use loadFatDriver() and FatDriver";
const fatImplementation = (from) => [
  { regex: "^js-fatfs(/|$)", message: layerMessage(from, "js-fatfs", FAT_IMPLEMENTATION_WHY) },
  {
    regex: "(^|/)fat/js-fatfs(-engine(\\.ts)?$|/)",
    message: layerMessage(from, "src/fat/js-fatfs-engine.ts or src/fat/js-fatfs/", FAT_IMPLEMENTATION_WHY),
  },
  {
    regex: "(^|/)fat(/index(\\.ts)?)?$",
    importNames: ["FatRuntime", "JsFatfsEngine", "mountFat", "FATFS_VOLUMES"],
    message: layerMessage(from, "the js-fatfs implementation", FAT_IMPLEMENTATION_WHY),
  },
];
// Product code never reads test fixtures or benchmarks.
const testCode = (from) => [
  {
    regex: "(^|/)(test|bench)/",
    message: layerMessage(from, "test/ or bench/", "product code reads no test code"),
  },
];

function layerPatterns(layer) {
  const from = `src/${layer.dir}`;
  const patterns = [];
  for (const other of LAYERS) {
    if (other.rank > layer.rank) patterns.push(refuse(from, other.dir, "it is a layer above"));
    else if (layer.device && other.device && other.device !== layer.device)
      patterns.push(refuse(from, other.dir, "it is another device's code"));
  }
  for (const side of SIDE_LAYERS)
    if (!SIDE_IMPORTERS[side.dir].includes(layer.dir))
      patterns.push(refuse(from, side.dir, "a side layer only its users import"));
  patterns.push({ regex: "(^|/)sim(/|$)", message: layerMessage(from, "sim/", "sim/ is the top") });
  if (layer.dir !== "fat") patterns.push(...fatImplementation(from));
  patterns.push(...testCode(from));
  return patterns;
}

function sidePatterns(side) {
  const from = `src/${side.dir}`;
  const patterns = ALL_DIRS.filter((d) => d !== side.dir && !side.allowed.includes(d)).map((d) =>
    refuse(from, d, `a side layer that may use only ${side.allowed.join(", ")}`),
  );
  patterns.push({ regex: "(^|/)sim(/|$)", message: layerMessage(from, "sim/", "sim/ is the top") });
  patterns.push(...fatImplementation(from), ...testCode(from));
  return patterns;
}

// sim/ is device-neutral: it reaches devices only through src/profiles' own files (the DeviceProfile
// interface and the registry), never a profile's folder or a device's modules.
const SIM_DEVICE_WHY = "sim/ is device-neutral; reach a device through src/profiles (interface, registry)";
const simPatterns = [
  ...["openmv", "pipeline", "pov"].map((d) => ({
    regex: folder(d),
    message: layerMessage("sim/", `src/${d}`, SIM_DEVICE_WHY),
  })),
  {
    regex: "(^|/)profiles/[^/]+/",
    message: layerMessage("sim/", "a profile's own folder (src/profiles/<name>/)", SIM_DEVICE_WHY),
  },
  ...fatImplementation("sim/"),
  ...testCode("sim/"),
];

const restrict = (files, patterns) => ({
  files,
  ignores: ["**/*.test.ts"],
  rules: { "no-restricted-imports": ["error", { patterns }] },
});

/** One block per layer folder (exported for test/lint/layers.test.ts). */
export const layerRules = [
  ...LAYERS.map((l) => restrict([`src/${l.dir}/**/*.ts`], layerPatterns(l))),
  ...SIDE_LAYERS.map((l) => restrict([`src/${l.dir}/**/*.ts`], sidePatterns(l))),
  restrict(["sim/**/*.ts"], simPatterns),
];

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      "out/",
      "dist/",
      "coverage/",
      "bin/*.mjs",
      "tools/*.mjs",
      "eslint.config.js",
      "vitest.config.ts",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Targets implement an async interface (STYLE.md: every driver method is async) even where the
      // simulator answers synchronously.
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-restricted-syntax": [
        "error",
        {
          selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
          message: "Use the virtual clock (src/clock).",
        },
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: "Use the virtual clock (src/clock).",
        },
        {
          selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
          message: "Use the seeded PRNG (src/clock/prng.ts).",
        },
      ],
    },
  },
  {
    files: ["test/**", "bench/**", "**/*.test.ts"],
    rules: { "no-restricted-syntax": "off", "@typescript-eslint/no-non-null-assertion": "off" },
  },
  ...layerRules,
  {
    // ts-fatfs is our own engine: it never leans on js-fatfs, its differential oracle (issue 9). Kept
    // after layerRules because this block replaces src/fat's no-restricted-imports for these files.
    files: ["src/fat/ts-fatfs/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            ...layerPatterns(LAYERS.find((l) => l.dir === "fat")),
            {
              regex: "(^|/)js-fatfs($|-engine|/)|^\\.\\.(/index(\\.ts)?)?$",
              message: "ts-fatfs is independent of js-fatfs, its differential oracle (issue 9).",
            },
          ],
        },
      ],
    },
  },
);
