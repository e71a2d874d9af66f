/**
 * The scale-out recipe (docs/scale-out.md): tools/sweep-shard.sh run as N separate processes, each
 * taking its shard from Kubernetes' JOB_COMPLETION_INDEX (or a CI matrix's SHARD_INDEX), merged by
 * `cardsim merge`, gives exactly the unsharded sweep's totals; a missing index is exit 2.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const SCRIPT = join(ROOT, "tools", "sweep-shard.sh");
const CLI = join(ROOT, "bin", "cardsim.mjs");
const FLAGS = ["--sweep", "--sample", "45"];
const dir = mkdtempSync(join(tmpdir(), "cardsim-shards-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(env: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const p = spawn(SCRIPT, ["clean-run", "3", join(dir, "out"), ...FLAGS], {
      env: { ...process.env, ...env },
      stdio: "ignore",
    });
    p.on("exit", (code) => resolve(code ?? -1));
  });
}

const sweepOf = (json: string) => (JSON.parse(json) as { sweep: Record<string, unknown> }).sweep;

describe("shard recipe", () => {
  it("three Indexed-Job processes merge to the unsharded totals", async () => {
    const codes = await Promise.all([0, 1, 2].map((i) => run({ JOB_COMPLETION_INDEX: String(i) })));
    expect(codes).toEqual([0, 0, 0]);
    const files = readdirSync(join(dir, "out")).sort();
    expect(files).toEqual(["shard-1-of-3.json", "shard-2-of-3.json", "shard-3-of-3.json"]);
    const merged = spawnSync(
      process.execPath,
      [CLI, "merge", ...files.map((f) => join(dir, "out", f)), "--json"],
      {
        encoding: "utf8",
      },
    );
    expect(merged.status).toBe(0);
    const whole = spawnSync(process.execPath, [CLI, "scenario", "clean-run", ...FLAGS, "--json"], {
      encoding: "utf8",
    });
    expect(whole.status).toBe(0);
    const m = sweepOf(merged.stdout);
    const w = sweepOf(whole.stdout);
    expect(m["states"]).toBeGreaterThan(30);
    for (const k of [
      "states",
      "intact",
      "previous",
      "detected",
      "silent",
      "unmountable",
      "matrix",
      "earliest",
    ])
      expect(m[k]).toEqual(w[k]);
    // Each shard really checked only its part.
    const parts = files.map((f) => sweepOf(readFileSync(join(dir, "out", f), "utf8"))["states"] as number);
    expect(parts.reduce((a, b) => a + b, 0)).toBe(m["states"]);
    expect(Math.max(...parts)).toBeLessThan(m["states"] as number);
  }, 300_000);

  it("without a shard index the script refuses to run (exit 2)", async () => {
    const env = { ...process.env };
    delete env["SHARD_INDEX"];
    delete env["JOB_COMPLETION_INDEX"];
    const r = spawnSync(SCRIPT, ["clean-run", "3", join(dir, "none")], { env, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/JOB_COMPLETION_INDEX/);
  });
});
