/**
 * `--target esp32-link`: the host plays the ESP32 over a real pty (socat) against the virtual Teensy.
 * The Teensy catalogue scenarios the link can run give the simulator's results (steps, values, log,
 * outcome classes, fsck); a power cut through --power-cycle (SIGUSR1, the virtual Teensy's switch)
 * too; what the link cannot do is refused before the first step; a silent, echoing or dying line
 * fails with the port named, exit 4, the steps so far in --out.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startVirtualTeensyPty } from "../../src/profiles/teensy41-pov/virtual-teensy-pty.ts";
import type { VirtualDevicePty } from "../../src/profiles/index.ts";
import { scenarioMain } from "../../sim/cli/scenario.ts";
import { LinkTarget, type LinkTargetOptions } from "../../sim/link-target.ts";
import { CapabilityError, runScenario, type ScenarioResult } from "../../sim/runner.ts";
import { loadScenario, parseScenario, type Scenario } from "../../sim/scenario-schema.ts";
import { SimulatedTarget, validateFaults } from "../../sim/simulated-target.ts";

const SCENARIOS = join(import.meta.dirname, "..", "..", "scenarios");
const scenario = (name: string): Scenario => loadScenario(SCENARIOS, name, { validateFaults });

/** Everything but what differs by nature: the target's name and the device's step times. */
function comparable(r: ScenarioResult): unknown {
  return { ...r, target: "", steps: r.steps.map((s) => ({ ...s, timeMicros: 0 })) };
}

const onSim = (s: Scenario) => runScenario(s, (sc, o) => SimulatedTarget.create(sc, o));

const inline = (yaml: string): Scenario => {
  const dir = mkdtempSync(join(tmpdir(), "cardsim-link-"));
  const file = join(dir, `${/^name: (\S+)/.exec(yaml)![1]}.yaml`);
  writeFileSync(file, yaml);
  return parseScenario(yaml, file, { validateFaults });
};

/** A save, a cut between steps, the steps a powerless Teensy refuses, the boot after, a load. */
const CUT = `name: teensy-link-cut
description: a power cut between two saves over the ESP32 link; the first image survives it.
device: { profile: teensy41-pov, firmware: "1.0" }
card: { preset: test-64m, format: mkfs-fat32 }
pipeline: as-designed
seed: 3
steps:
  - boot
  - save_image: { name: heart.pov, pixels: random }
  - cut_power
  - list_images
  - boot
  - load_image: { name: heart.pov }
  - esp32: { message: save_image, name: star.pov, pixels: rings }
  - reboot
  - load_image: { name: star.pov }
  - fsck
expect:
  files: { /sd/poi_images/heart.pov: intact, /sd/poi_images/star.pov: intact }
  fsck: clean
`;

describe.skipIf(!existsSync("/usr/bin/socat"))("--target esp32-link against the virtual Teensy", () => {
  let teensy: VirtualDevicePty;
  const options = (extra: Partial<LinkTargetOptions> = {}): LinkTargetOptions => ({
    port: teensy.path,
    allowFormat: true,
    powerCycle: `kill -USR1 ${teensy.pid}`,
    replyTimeoutMs: 20_000,
    ...extra,
  });
  const onLink = (s: Scenario, extra: Partial<LinkTargetOptions> = {}) =>
    runScenario(s, (sc, o) => LinkTarget.create(sc, o, options(extra)));

  beforeAll(async () => {
    teensy = await startVirtualTeensyPty({ startTimeoutMs: 60_000 });
  }, 120_000);
  afterAll(async () => teensy?.stop());

  it.each(["teensy-save-load", "teensy-eleventh-file", "teensy-esp32-garbage"])(
    "%s: the simulator's steps, values, log, classes and fsck",
    async (name) => {
      const s = scenario(name);
      const sim = await onSim(s);
      const link = await onLink(s);
      expect(link.target).toBe("esp32-link");
      expect(comparable(link)).toEqual(comparable(sim));
      expect(link.expectations.passed).toBe(true);
      expect(Object.keys(link.files).length).toBeGreaterThan(0);
    },
    180_000,
  );

  it("a power cut between steps (--power-cycle, SIGUSR1) and an MCU reset agree with the simulator", async () => {
    const s = inline(CUT);
    const sim = await onSim(s);
    const link = await onLink(s);
    expect(comparable(link)).toEqual(comparable(sim));
    // The powerless Teensy refused the list; both boots logged the firmware's banner.
    expect(link.steps[3]).toMatchObject({ status: "error", error: { type: "ScenarioStepError" } });
    expect(link.log.filter((l) => l.startsWith("POV poi firmware"))).toHaveLength(3);
  }, 180_000);

  it("refuses what the link cannot do before the first step, naming it", async () => {
    await expect(onLink(scenario("teensy-power-cut-save"))).rejects.toThrow(
      /esp32-link.*faults power-cut, torn-write cannot be injected/,
    );
    await expect(onLink(scenario("teensy-corrupt-header"))).rejects.toThrow(
      /step 2 \(open\), step 3 \(write\), step 4 \(close\): not something the ESP32 link can do/,
    );
    await expect(onLink(scenario("teensy-sweep-as-designed"))).rejects.toThrow(/sweep runner/);
    await expect(onLink(inline(CUT), { powerCycle: undefined })).rejects.toThrow(
      /step 2 \(cut_power\) needs the Teensy's power switch: pass --power-cycle CMD/,
    );
    // The card is the scenario's only when the run may write it (MicroPython's mkfs: another boot sector).
    const small = inline(
      CUT.replace("teensy-link-cut", "teensy-link-small").replace(
        "format: mkfs-fat32",
        "format: micropython",
      ),
    );
    const run = onLink(small, { allowFormat: false });
    await expect(run).rejects.toThrow(CapabilityError);
    await expect(run).rejects.toThrow(/differs from the scenario's starting card.*--allow-format/);
  }, 120_000);

  it("a Teensy that dies mid-run: exit 4 naming the port, the steps so far in --out", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cardsim-link-partial-"));
    writeFileSync(join(dir, "teensy-link-cut.yaml"), CUT);
    let err = "";
    const doomed = await startVirtualTeensyPty({ startTimeoutMs: 60_000 });
    try {
      const code = await scenarioMain(
        ["teensy-link-cut.yaml", "--target", "esp32-link", "--port", doomed.path, "--allow-format"].concat([
          "--power-cycle",
          `kill -TERM ${doomed.pid}`,
          "--out",
          "partial.json",
        ]),
        { stdout: () => undefined, stderr: (t) => (err += t), isTTY: false, cwd: dir, ci: true },
      );
      expect(code, err).toBe(4);
      expect(err).toContain(`step 2 (cut_power) on ${doomed.path}`);
      const partial = JSON.parse(readFileSync(join(dir, "partial.json"), "utf8")) as {
        format: string;
        target: string;
        steps: { op: string; status: string }[];
      };
      expect(partial.format).toBe("cardsim-partial-result/1");
      expect(partial.target).toBe("esp32-link");
      expect(partial.steps.map((s) => [s.op, s.status])).toEqual([
        ["boot", "ok"],
        ["save_image", "ok"],
      ]);
    } finally {
      await doomed.stop();
    }
  }, 180_000);
});

describe.skipIf(!existsSync("/usr/bin/socat"))(
  "--target esp32-link on firmwares with fewer capabilities",
  () => {
    it("a firmware with the five messages only: the card image is missing, the run is refused", async () => {
      const bare = await startVirtualTeensyPty({ debugCaps: [], startTimeoutMs: 60_000 });
      try {
        const run = runScenario(scenario("teensy-eleventh-file"), (sc, o) =>
          LinkTarget.create(sc, o, { port: bare.path, allowFormat: true }),
        );
        await expect(run).rejects.toThrow(CapabilityError);
        await expect(run).rejects.toThrow(
          new RegExp(`on ${bare.path}: .*need the card image.*'sectors'; it offers: none \\(no HELLO`),
        );
      } finally {
        await bare.stop();
      }
    }, 120_000);

    it("a firmware without RANGE_CRCS: the per-sector scan gives the simulator's result", async () => {
      const older = await startVirtualTeensyPty({
        debugCaps: ["sectors", "log", "reset", "calls", "display"],
        startTimeoutMs: 60_000,
      });
      try {
        const s = scenario("teensy-save-load");
        const link = await runScenario(s, (sc, o) =>
          LinkTarget.create(sc, o, { port: older.path, allowFormat: true }),
        );
        expect(comparable(link)).toEqual(comparable(await onSim(s)));
      } finally {
        await older.stop();
      }
    }, 120_000);

    it("a firmware without the API calls: the steps that need them are named", async () => {
      const some = await startVirtualTeensyPty({
        debugCaps: ["sectors", "log", "reset"],
        startTimeoutMs: 60_000,
      });
      try {
        await expect(
          runScenario(scenario("teensy-save-load"), (sc, o) =>
            LinkTarget.create(sc, o, { port: some.path, allowFormat: true }),
          ),
        ).rejects.toThrow(
          /step 4 \(image_info\) needs the debug capability 'calls' \(the firmware offers: sectors, log, reset\)/,
        );
      } finally {
        await some.stop();
      }
    }, 120_000);
  },
);

describe.skipIf(!existsSync("/usr/bin/socat"))("--target esp32-link on a broken line", () => {
  const line = async (exec: string, body: (port: string) => Promise<void>) => {
    const dir = mkdtempSync(join(tmpdir(), "cardsim-line-"));
    const link = join(dir, "tty");
    const socat: ChildProcess = spawn("socat", [`pty,raw,echo=0,link=${link}`, exec], { stdio: "ignore" });
    try {
      for (let i = 0; i < 100 && !existsSync(link); i++) await new Promise((r) => setTimeout(r, 50));
      await body(link);
    } finally {
      socat.kill("SIGKILL");
    }
  };
  const cli = async (port: string) => {
    let err = "";
    const code = await scenarioMain(
      ["teensy-eleventh-file", "--target", "esp32-link", "--port", port, "--allow-format"],
      { stdout: () => undefined, stderr: (t) => (err += t), isTTY: false, cwd: tmpdir(), ci: true },
    );
    return { code, err };
  };

  it("nothing answers: exit 4, 'no answer' naming the port", async () => {
    await line("EXEC:sleep 60", async (port) => {
      const { code, err } = await cli(port);
      expect(code).toBe(4);
      expect(err).toMatch(new RegExp(`no answer to HELLO \\(0x70\\) from ${port} within 5 s`));
    });
  }, 60_000);

  it("garbage on the line: exit 4, the bytes shown, the port named", async () => {
    await line("EXEC:yes NOISE", async (port) => {
      const { code, err } = await cli(port);
      expect(code).toBe(4);
      expect(err).toMatch(
        new RegExp(`the reply to HELLO \\(0x70\\) from ${port} is not a frame.*received \\d+ bytes: "`),
      );
    });
  }, 60_000);

  it("a line that echoes what it is sent: exit 4, the echo is not a reply", async () => {
    await line("EXEC:cat", async (port) => {
      const { code, err } = await cli(port);
      expect(code).toBe(4);
      expect(err).toMatch(new RegExp(`the reply to HELLO \\(0x70\\) from ${port}: .*ACK 0x06 or NACK 0x15`));
    });
  }, 60_000);
});
