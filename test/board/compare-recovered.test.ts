/**
 * Files whose bytes the device randomises compare by what their reader recovers (issue 11, item 1):
 * with `deviceRandom` the virtual board draws os.urandom from its own seed (not the simulator's
 * stream), so every `.enc` differs from the simulator's byte for byte (RSA padding, AES key and IV)
 * while the JPEG it decrypts to is the same: the comparison agrees, by "recovered". An agent that
 * encrypts other bytes gives an `.enc` that decrypts to another JPEG: a difference, named.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BoardTarget, type BoardTargetOptions } from "../../sim/board-target.ts";
import { compareMain } from "../../sim/cli/compare.ts";
import { nightMain } from "../../sim/cli/night.ts";
import type { CliEnv } from "../../sim/cli/scenario.ts";
import type { CompareResult } from "../../sim/compare-types.ts";
import { compareRuns, recordOnSim, recordRun, type RunRecord } from "../../sim/compare.ts";
import { loadScenario } from "../../sim/scenario-schema.ts";
import { validateFaults } from "../../sim/simulated-target.ts";
import { openMvAgentSource } from "../../src/profiles/openmv-rt1062/board/codec.ts";
import { startVirtualBoardPty, type VirtualBoardPty } from "../../src/virtual-board/index.ts";

const SCENARIOS = join(import.meta.dirname, "..", "..", "scenarios");
const scenario = loadScenario(SCENARIOS, "clean-run", { validateFaults });

/** The last sha256 each side's steps report for `path`. */
const lastSha = (r: RunRecord, path: string): string | null | undefined =>
  r.result.steps.flatMap((s) => s.files.filter((f) => f.path === path)).at(-1)?.sha256;

describe.skipIf(!existsSync("/usr/bin/socat"))(
  "randomised files compared by what their reader recovers",
  () => {
    let board: VirtualBoardPty;
    let sim: RunRecord;
    const onBoard = (extra: Partial<BoardTargetOptions> = {}): Promise<RunRecord> =>
      recordRun(
        scenario,
        (sc, o) =>
          BoardTarget.create(sc, o, {
            port: board.path,
            allowFormat: true,
            stepTimeoutMs: 20_000,
            deviceRandom: true,
            ...extra,
          }),
        { card: true },
      );

    beforeAll(async () => {
      // Its own urandom seed: the simulator's stream is Prng(1).fork("os.urandom"), the board's Prng(4242)'s.
      board = await startVirtualBoardPty({ seed: 4242 });
      sim = await recordOnSim(scenario);
    }, 120_000);
    afterAll(async () => board?.stop());

    it("an .enc that differs byte for byte but decrypts to the same JPEG agrees", async () => {
      const real = await onBoard();
      const encs = Object.keys(sim.result.files).filter((p) => p.endsWith(".enc"));
      expect(encs.length).toBe(3);
      for (const p of encs) {
        // Not vacuous: the bytes differ (other padding, key and IV), the size does not.
        expect(lastSha(real, p)).toMatch(/^[0-9a-f]{64}$/);
        expect(lastSha(real, p)).not.toBe(lastSha(sim, p));
        expect(real.recovered![p]).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(real.recovered![p]).toBe(sim.recovered![p]);
      }
      const r = compareRuns(scenario, sim, real, { port: board.path });
      expect(r.differences.filter((d) => d.area !== "trace")).toEqual([]);
      expect(r.verdict).toBe("agree");
      const enc = r.files.find((f) => f.path === encs[0])!;
      expect(enc.by).toBe("recovered");
      expect(enc.board.sha256).toBe(enc.sim.sha256);
      // The raw JPEGs and test2's decrypted copy compare by their bytes, and are equal.
      const jpg = r.files.find((f) => f.path.endsWith("_raw.jpg"))!;
      expect(jpg).toMatchObject({ by: "sha256", agree: true });
      // The trace differs where the .enc bytes were written (reported, not counted).
      expect(r.trace?.equal).toBe(false);
    }, 120_000);

    it("an .enc that decrypts to another JPEG is a difference, named", async () => {
      // The agent encrypts the JPEG with its first byte changed.
      const other = openMvAgentSource().replace(
        "    body = cryptolib.aes(key, 2, iv).encrypt(_pkcs7(plain))\n",
        "    plain = bytes([plain[0] ^ 1]) + bytes(plain[1:])\n    body = cryptolib.aes(key, 2, iv).encrypt(_pkcs7(plain))\n",
      );
      expect(other).not.toBe(openMvAgentSource());
      const real = await onBoard({ agentSource: other });
      const r = compareRuns(scenario, sim, real, { port: board.path });
      expect(r.verdict).toBe("differ");
      const whats = r.differences.map((d) => d.what);
      for (const p of Object.keys(sim.result.files).filter((x) => x.endsWith(".enc")))
        expect(whats).toContain(`file ${p} recovered content`);
      const d = r.differences.find((x) => x.what.endsWith("recovered content"))!;
      expect(d.sim).toMatch(/^sha256:/);
      expect(d.board).toMatch(/^sha256:/);
      expect(d.board).not.toBe(d.sim);
    }, 120_000);

    it("cardsim compare --device-random: exit 0, the .enc files by recovered content", async () => {
      let out = "";
      const env: Partial<CliEnv> = {
        stdout: (s) => void (out += s),
        stderr: () => undefined,
        isTTY: false,
        nowMillis: () => 0,
        ci: true,
      };
      const code = await compareMain(
        ["clean-run", "--port", board.path, "--allow-format", "--device-random", "--json"],
        env,
      );
      const r = JSON.parse(out) as CompareResult;
      expect(r.files.filter((f) => f.by === "recovered").map((f) => f.path)).toEqual(
        Object.keys(sim.result.files).filter((p) => p.endsWith(".enc")),
      );
      expect(r.verdict).toBe("agree");
      expect(code).toBe(0);
    }, 120_000);

    it("cardsim night --device-random: the same comparison per scenario", async () => {
      const dir = mkdtempSync(join(tmpdir(), "cardsim-night-random-"));
      try {
        const env: Partial<CliEnv> = {
          stdout: () => undefined,
          stderr: () => undefined,
          cwd: dir,
          isTTY: false,
          ci: true,
        };
        const code = await nightMain(
          [
            "--port",
            board.path,
            "--allow-format",
            "--device-random",
            "--only",
            "clean-run",
            "--results",
            "out",
          ],
          env,
        );
        const r = JSON.parse(readFileSync(join(dir, "out", "clean-run.json"), "utf8")) as CompareResult;
        expect(r.files.filter((f) => f.by === "recovered")).toHaveLength(3);
        expect(r.files.every((f) => f.agree)).toBe(true);
        expect(r.verdict).toBe("agree");
        expect(code).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);
  },
);
