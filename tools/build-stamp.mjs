/**
 * Whether dist/ (tools/build.mjs) is up to date with the sources: the newest modification time of
 * every .ts file under src/ and sim/, package-lock.json and the build script, against the stamp the
 * build wrote. Kept apart from the build so the launcher checks it without loading esbuild.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const DIST = join(ROOT, "dist");
export const STAMP = join(DIST, "build-stamp.json");
const SOURCE_DIRS = ["src", "sim"];

/** Newest modification time (ms) of the inputs of the build. */
export function newestSource() {
  let newest = Math.max(
    statSync(join(ROOT, "tools", "build.mjs")).mtimeMs,
    statSync(join(ROOT, "package-lock.json")).mtimeMs,
  );
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts")) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of SOURCE_DIRS) walk(join(ROOT, d));
  return newest;
}

/** True when dist/ was built from the sources as they are now. */
export function builtIsFresh() {
  if (!existsSync(STAMP)) return false;
  try {
    return JSON.parse(readFileSync(STAMP, "utf8")).newest >= newestSource();
  } catch {
    return false;
  }
}
