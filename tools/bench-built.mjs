#!/usr/bin/env node
/**
 * `npm run bench:built [-- names...]`: the same benches as `npm run bench` (bench/run.ts), each bundled
 * to plain JavaScript with esbuild first and run by plain `node`, so no TypeScript loader (tsx's hooks
 * and their thread) is in the measured process. The code measured is the same: esbuild only strips the
 * types, as tsx does per file. Bundles go to node_modules/.cache/cardsim-bench/ (bare imports resolve
 * from there); each module's `import.meta.url` is its source file's URL, as in tools/build.mjs, so the
 * benches find scenarios/ and the keys as from the sources.
 */
import { build } from "esbuild";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const here = join(root, "bench");
const out = join(root, "node_modules", ".cache", "cardsim-bench");
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith("-bench.ts"))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();

const sourceUrls = {
  name: "source-import-meta-url",
  setup(b) {
    b.onLoad({ filter: /\.m?ts$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      const url = JSON.stringify(pathToFileURL(args.path).href);
      return { contents: text.replaceAll("import.meta.url", url), loader: "ts" };
    });
  },
};

mkdirSync(out, { recursive: true });
const outfile = (file) => join(out, file.replace(/\.ts$/, ".mjs"));
// All built before any runs, so esbuild's service process is idle while the benches measure.
for (const file of files) {
  await build({
    entryPoints: [join(here, file)],
    outfile: outfile(file),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "warning",
    plugins: [sourceUrls],
  });
}
for (const file of files) {
  console.log(`\n## ${file} (built)`);
  // The bundle's own `import.meta.url` is its source's, so its "run when main" check stays false here.
  const mod = await import(pathToFileURL(outfile(file)).href);
  if (typeof mod.run !== "function") {
    console.log(`(skipped: ${file} exports no run())`);
    continue;
  }
  await mod.run();
}
