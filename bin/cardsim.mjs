#!/usr/bin/env node
// Launcher: runs the prebuilt CLI (dist/, made by tools/build.mjs from `npm ci`'s prepare script) in
// this process when it is up to date with the sources; otherwise the TypeScript CLI through tsx, so
// an edited checkout never runs stale code (`npm run build` brings the fast path back).
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { builtIsFresh, DIST, ROOT } from "../tools/build-stamp.mjs";

if (process.env.CARDSIM_TSX !== "1" && builtIsFresh()) {
  await import(pathToFileURL(join(DIST, "cli", "cardsim.mjs")).href);
} else {
  const require = createRequire(import.meta.url);
  const result = spawnSync(
    process.execPath,
    [require.resolve("tsx/cli"), join(ROOT, "sim", "cli", "main.ts"), ...process.argv.slice(2)],
    { stdio: "inherit" },
  );
  process.exit(result.status ?? 2);
}
