/**
 * Scenarios that used to crash (exit 3, stack traces, out of memory): each is now bad input, exit 2,
 * with `file:line:col: field: what was expected` and no stack trace. The files are in test/sim/bad/.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scenarioMain } from "../../sim/cli/scenario.ts";

const dir = join(import.meta.dirname, "bad");

const EXPECTED: Record<string, RegExp> = {
  nowrites: /nowrites\.yaml:6:8: sweep: the crash-point space is empty.*before the first cut_power/,
  bigcut: /bigcut\.yaml:8:17: sweep\.cuts\[0\]: 999999 is outside the log; allowed 0\.\.\d+/,
  nomarks: /nomarks\.yaml:8:16: sweep\.cuts: the crash-point space is empty: .* no matching mark/,
  fmtnone: /fmtnone\.yaml:7:8: sweep: the crash-point space is empty/,
  torn: /torn\.yaml:8:26: sweep\.torn\[0\]\.bytes: must be < the sector size 512, got 512/,
  logsp: /logsp\.yaml:8:29: sweep\.cuts\.logSpaced: expected value <= 100000; got number 1000000000/,
  bytes: /bytes\.yaml:7:32: steps\[2\]\.write\.bytes: expected value <= 67108864/,
  undefalias: /undefalias\.yaml:5:5: YAML: Unresolved alias .*nothere/,
  bomb: /bomb\.yaml:\d+:\d+: YAML: aliases expand to too much \(at most 100 alias uses\)/,
  deep: /deep\.yaml:\d+:\d+: YAML nested too deeply/,
};

describe("scenarios that crashed before", () => {
  it.each(Object.entries(EXPECTED))(
    "%s: exit 2, located, no stack trace",
    async (name, message) => {
      let err = "";
      const code = await scenarioMain([name, "--scenarios", dir, "--golden", dir], {
        stdout: () => undefined,
        stderr: (s) => void (err += s),
        cwd: dir,
      });
      expect(err).toMatch(message);
      expect(code).toBe(2);
      expect(err).not.toMatch(/internal error|\n\s+at /);
    },
    30_000,
  );
});
