/**
 * `npm run bench`: runs every bench/*-bench.ts (each exports `run(): Promise<void>` and prints one line
 * per figure). Speed is measured here, never asserted in tests. Pass names to run a subset:
 * `npm run bench -- fat vfs`.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith("-bench.ts"))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();

for (const file of files) {
  console.log(`\n## ${file}`);
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { run?: () => Promise<void> };
  if (typeof mod.run !== "function") {
    console.log(`(skipped: ${file} exports no run())`);
    continue;
  }
  await mod.run();
}
