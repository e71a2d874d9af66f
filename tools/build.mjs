#!/usr/bin/env node
/**
 * The build step (issue 14, item 4): bundles the CLI and the crash-sweep worker into plain JavaScript
 * with esbuild, so `npx cardsim`, `npm run scenario` and sweep workers start without compiling
 * TypeScript (tsx stays for development and tests). Runs from `npm ci`/`npm install` (the `prepare`
 * script) and from the scripts that use it, and is skipped when dist/ is newer than every source.
 *
 * Each module's `import.meta.url` is replaced by its source file's URL, so files found relative to a
 * module (the board agent, the virtual board's Python, scenarios/, golden/) resolve as in the sources.
 * The worker bundle also holds the profiles' reader module, so a built worker never loads TypeScript.
 */
import { build } from "esbuild";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { builtIsFresh, DIST, newestSource, ROOT } from "./build-stamp.mjs";

const root = ROOT;
const dist = DIST;
const READERS = join(root, "src", "profiles", "profile-readers.ts");

/** Replaces `import.meta.url` in every bundled source with that file's own URL. */
const sourceUrls = {
  name: "source-import-meta-url",
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      const url = JSON.stringify(pathToFileURL(args.path).href);
      return { contents: text.replaceAll("import.meta.url", url), loader: "ts" };
    });
  },
};

export async function buildAll({ force = false, quiet = false } = {}) {
  if (!force && builtIsFresh()) return false;
  const t0 = performance.now();
  const newest = newestSource();
  // Built beside dist/ and swapped in whole, so a launcher never sees half a build.
  const out = `${dist}.tmp-${process.pid}`;
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const readersUrl = pathToFileURL(READERS).href;
  const common = {
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    sourcemap: "linked",
    logLevel: "warning",
    plugins: [sourceUrls],
  };
  // Split: each command's modules load only when that command runs (`--help` loads almost nothing).
  // The entry tells src/crash/worker-pool.ts where the built worker is.
  await build({
    ...common,
    stdin: {
      contents: [
        `globalThis.cardsimBuiltWorker = new URL("../sweep-worker.mjs", import.meta.url).href;`,
        `await import(${JSON.stringify(join(root, "sim", "cli", "main.ts"))});`,
      ].join("\n"),
      resolveDir: root,
      sourcefile: "cardsim-entry.ts",
      loader: "ts",
    },
    outdir: join(out, "cli"),
    entryNames: "cardsim",
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    outExtension: { ".js": ".mjs" },
  });
  // The worker entry: the sweep worker plus the readers module, registered under its source URL.
  await build({
    ...common,
    stdin: {
      contents: [
        `import * as readers from ${JSON.stringify(READERS)};`,
        `globalThis.cardsimBuiltModules = { [${JSON.stringify(readersUrl)}]: readers };`,
        `await import(${JSON.stringify(join(root, "src", "crash", "sweep-worker.ts"))});`,
      ].join("\n"),
      resolveDir: root,
      sourcefile: "sweep-worker-entry.ts",
      loader: "ts",
    },
    // Split like the CLI: a profile's readers (node-forge for OpenMV's key) and the registry fallback
    // load when a sweep asks for them, not at every worker start (src/profiles/profile-readers.ts).
    outdir: out,
    entryNames: "sweep-worker",
    splitting: true,
    chunkNames: "worker-chunks/[name]-[hash]",
    outExtension: { ".js": ".mjs" },
  });
  writeFileSync(join(out, "build-stamp.json"), JSON.stringify({ newest }) + "\n");
  rmSync(dist, { recursive: true, force: true });
  renameSync(out, dist);
  if (!quiet)
    console.error(`cardsim: built ${relative(root, dist)}/ in ${(performance.now() - t0).toFixed(0)} ms`);
  return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  await buildAll({ force: process.argv.includes("--force") });
