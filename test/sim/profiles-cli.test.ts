/**
 * The profile front-end: `cardsim profiles` lists every registered profile with its steps, and a
 * scenario naming an unknown profile, firmware, card preset or a step of another profile is bad input
 * (exit 2) located at file:line with the allowed values, run through the real CLI.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { profileNames } from "../../src/profiles/index.ts";
import { profilesMain } from "../../sim/cli/profiles.ts";
import { scenarioMain } from "../../sim/cli/scenario.ts";

const dir = mkdtempSync(join(tmpdir(), "cardsim-profiles-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(name: string, text: string): Promise<{ code: number; err: string }> {
  writeFileSync(join(dir, `${name}.yaml`), text);
  let err = "";
  const code = await scenarioMain([name, "--scenarios", dir, "--golden", dir], {
    stdout: () => undefined,
    stderr: (s) => void (err += s),
    cwd: dir,
  });
  return { code, err };
}

const scenario = (name: string, device: string, rest = "steps:\n  - boot\n"): string =>
  `name: ${name}\ndescription: A bad scenario.\ndevice: ${device}\n${rest}`;

describe("cardsim profiles", () => {
  it("prints each profile with its own and the common steps", async () => {
    let out = "";
    expect(await profilesMain([], (s) => void (out += s))).toBe(0);
    expect(out).toMatch(/^openmv-rt1062: /m);
    for (const op of ["capture", "run_script", "open", "cut_power", "usb_host"])
      expect(out).toMatch(new RegExp(`^    ${op}\\b`, "m"));
    let json = "";
    expect(await profilesMain(["--json"], (s) => void (json += s))).toBe(0);
    const parsed = JSON.parse(json) as { name: string; steps: { op: string }[] }[];
    expect(parsed.find((p) => p.name === "openmv-rt1062")!.steps.map((s) => s.op)).toContain("decrypt");
  });
});

describe("bad device input through the CLI", () => {
  it("unknown firmware: exit 2, file:line:col, the known versions", async () => {
    const r = await run("fw", scenario("fw", '{ profile: openmv-rt1062, firmware: "4.6.0" }'));
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      'fw.yaml:3:45: device.firmware: expected one of 4.7.0, 4.8.0, 4.8.1, 4.9.0; got string "4.6.0"',
    );
    expect(r.err).not.toMatch(/internal error|\n\s+at /);
  });

  it("unknown profile: exit 2 with the registered profiles", async () => {
    const r = await run("pr", scenario("pr", '{ profile: teensy, firmware: "1" }'));
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      `pr.yaml:3:20: device.profile: unknown profile 'teensy'; expected one of ${profileNames().join(", ")}`,
    );
  });

  it("unknown card preset and a step the profile does not have: exit 2, located", async () => {
    const r = await run(
      "st",
      scenario(
        "st",
        '{ profile: openmv-rt1062, firmware: "4.7.0" }',
        "card: { preset: huge }\nsteps:\n  - boot\n  - log_rows: { file: a }\n",
      ),
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      'st.yaml:4:17: card.preset: expected one of test-64m, sdhc-32g, sdxc-64g, sdxc-128g; got string "huge"',
    );
    expect(r.err).toMatch(
      /st\.yaml:7:5: steps\[1\]\.op: unknown step 'log_rows'; expected one of boot, capture, .* \(the steps of profile openmv-rt1062\)/,
    );
  });
});
