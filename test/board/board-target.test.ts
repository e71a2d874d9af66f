/**
 * The board path end to end: BoardTarget + agent.py over a real pty (socat) against the virtual board,
 * compared with the simulator on every catalogue scenario that needs no fault beyond a power cut; the
 * agent's write log against the simulator's trace; refusals; a broken agent; serial faults.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawRepl, openSerialStream, uploadFile } from "../../src/link/index.ts";
import { scenarioMain } from "../../sim/cli/scenario.ts";
import { openMvAgentSource } from "../../src/profiles/openmv-rt1062/board/codec.ts";
import { startVirtualBoardPty, type VirtualBoardPty } from "../../src/virtual-board/index.ts";
import { BoardRunError, BoardTarget, type BoardTargetOptions } from "../../sim/board-target.ts";
import { CapabilityError, runScenario, type RunTrace, type ScenarioResult } from "../../sim/runner.ts";
import { loadScenario, parseScenario, type Scenario } from "../../sim/scenario-schema.ts";
import { SimulatedTarget, validateFaults } from "../../sim/simulated-target.ts";

const SCENARIOS = join(import.meta.dirname, "..", "..", "scenarios");
const scenario = (name: string): Scenario => loadScenario(SCENARIOS, name, { validateFaults });

/** The result without what differs by nature between targets (name, board time). */
function comparable(r: ScenarioResult): unknown {
  return { ...r, target: "", steps: r.steps.map((s) => ({ ...s, timeMicros: 0 })) };
}

async function onSim(s: Scenario): Promise<{ result: ScenarioResult; trace: RunTrace }> {
  let trace!: RunTrace;
  const result = await runScenario(s, (sc, o) => SimulatedTarget.create(sc, o), {
    onTrace: (t) => (trace = t),
  });
  return { result, trace };
}

const writesOf = (t: RunTrace) =>
  t.log.ops.filter((o) => o.kind === "write").map((o) => [o.lba, o.count, o.crc32, o.result]);

describe.skipIf(!existsSync("/usr/bin/socat"))("--target board against the virtual board", () => {
  let board: VirtualBoardPty;
  const options = (extra: Partial<BoardTargetOptions> = {}): BoardTargetOptions => ({
    port: board.path,
    allowFormat: true,
    stepTimeoutMs: 20_000,
    ...extra,
  });
  const onBoard = async (s: Scenario, extra: Partial<BoardTargetOptions> = {}) => {
    let trace!: RunTrace;
    const result = await runScenario(s, (sc, o) => BoardTarget.create(sc, o, options(extra)), {
      onTrace: (t) => (trace = t),
    });
    return { result, trace };
  };

  // Starting the WebAssembly board takes ~1 s on an idle machine; a loaded CI host can take far longer.
  beforeAll(async () => {
    board = await startVirtualBoardPty({});
  }, 120_000);
  afterAll(async () => board?.stop());

  // Every catalogue scenario with no injected fault beyond a power cut (stale-dma-fixed-firmware's
  // fault does not apply on its firmware).
  it.each([
    ["clean-run", {}],
    ["key-mismatch", {}],
    ["power-cut-before-close", {}],
    ["os-sync-is-not-flush", { powerCycle: "power switch" }],
    ["stale-dma-fixed-firmware", {}],
    // The fault plan's cut at write N with a torn prefix: armed on the agent's LogBdev.
    ["power-cut-mid-save", {}],
  ])("%s: same steps, log, file hashes and classes as the simulator", async (name, extra) => {
    const s = scenario(name);
    const sim = await onSim(s);
    const o = "powerCycle" in extra ? { powerCycle: `kill -USR1 ${board.pid}` } : {};
    const real = await onBoard(s, o);
    expect(comparable(real.result)).toEqual(comparable(sim.result));
    expect(real.result.expectations.passed).toBe(true);
    // The agent's write log is the simulator's trace, write for write (LBA, count, CRC, result), up to
    // a cut's write in flight; after it both devices are dead (-EIO) and what the firmware still tries
    // to write is not the card's business.
    const cutAt = sim.trace.log.cuts[0]?.atWrite;
    const upToCut = (t: RunTrace) => (cutAt === undefined ? writesOf(t) : writesOf(t).slice(0, cutAt + 1));
    expect(upToCut(real.trace)).toEqual(upToCut(sim.trace));
    if (cutAt !== undefined)
      for (const t of [real.trace, sim.trace]) {
        const after = writesOf(t).slice(cutAt + 1);
        const reboot = after.findIndex((w) => w[3] === 0);
        expect(after.slice(0, reboot < 0 ? undefined : reboot).every((w) => w[3] === -5)).toBe(true);
      }
    expect(real.trace.log.cuts.map((c) => c.atWrite)).toEqual(sim.trace.log.cuts.map((c) => c.atWrite));
  });

  // card-full on the board's own engine (tiny window): the agent once read a touched file with f.read()
  // (MicroPython's readall: small chunks, each partial-sector read evicting the FAT sector from FatFs's
  // one window, so the FAT was read again per cluster); those reads took virtual time and an image
  // name crossed a second. It now reads as the simulator does (stat, one read of the size): every
  // operation of the log is the simulator's up to the last write, reads included. After it the agent
  // still stats the image whose save failed (to know whether imlib left a file: the simulator's VFS
  // observer sees that without a read), a few reads of the directory the simulator does not make.
  it("card-full (the board's tiny window): same results and the same block operations, reads included", async () => {
    const s = scenario("card-full");
    const sim = await onSim(s);
    const real = await onBoard(s);
    expect(comparable(real.result)).toEqual(comparable(sim.result));
    expect(real.result.expectations.passed).toBe(true);
    // Reads are compared without their CRC: the boot sector's volume serial differs between the two
    // provisioned images (sector 0), nothing else.
    const ops = (t: RunTrace) =>
      t.log.ops.map((o) => [o.kind, o.lba, o.count, o.kind === "write" ? o.crc32 : 0, o.result]);
    const upToLastWrite = (t: RunTrace) =>
      ops(t).slice(0, t.log.ops.findLastIndex((o) => o.kind === "write") + 1);
    expect(upToLastWrite(real.trace).length).toBeGreaterThan(4000);
    expect(upToLastWrite(real.trace)).toEqual(upToLastWrite(sim.trace));
    expect(writesOf(real.trace)).toEqual(writesOf(sim.trace));
  }, 120_000);

  it("card-full (js-fatfs on both sides): same steps, log, file hashes and classes as the simulator", async () => {
    const s = { ...scenario("card-full"), engine: "js-fatfs" as const };
    const perFile = await startVirtualBoardPty({ engine: "js-fatfs" });
    try {
      const sim = await onSim(s);
      let trace!: RunTrace;
      const result = await runScenario(
        s,
        (sc, o) => BoardTarget.create(sc, o, options({ port: perFile.path })),
        {
          onTrace: (t) => (trace = t),
        },
      );
      expect(comparable(result)).toEqual(comparable(sim.result));
      expect(writesOf(trace)).toEqual(writesOf(sim.trace));
    } finally {
      await perFile.stop();
    }
  }, 60_000);

  // The hardened pipeline ported to the agent (atomic .tmp + read-back + rename, .enc v2 with strict
  // RSA and an HMAC tag): clean runs, an interrupted atomic write, and every reader error path.
  const hardened = (name: string, steps: string, faults = "[]"): Scenario =>
    parseScenario(
      `name: ${name}
description: the hardened pipeline on the agent
device: { profile: openmv-rt1062, firmware: "4.7.0" }
card: { preset: test-64m, format: micropython }
pipeline: hardened
seed: 3
steps:
${steps}
faults: ${faults}
`,
      `scenarios/${name}.yaml`,
      { validateFaults, dir: SCENARIOS },
    );
  it.each([
    [
      "hardened-main-and-test2",
      `  - boot
  - run_script: { script: main, frames: 2, intervalMs: 200 }
  - run_script: { script: test2 }
  - listdir: { path: /sdcard/myimages }`,
      "[]",
    ],
    [
      "hardened-steps",
      `  - boot
  - capture
  - save
  - read_back
  - encrypt
  - decrypt
  - read_back: { path: /sdcard/myimages/221_1735689600000_raw.jpg }`,
      "[]",
    ],
    [
      "hardened-damaged-files",
      `  - boot
  - capture
  - save
  - encrypt
  - open: { path: /sdcard/myimages/221_1735689600000.enc, mode: "r+b", as: f }
  - write: { handle: f, hex: "00" }
  - close: { handle: f }
  - decrypt
  - open: { path: /sdcard/bad.enc, mode: wb, as: g }
  - write: { handle: g, hex: "43454e43020000800000000100000010" }
  - close: { handle: g }
  - decrypt: { src: /sdcard/bad.enc }
  - open: { path: /sdcard/x_raw.jpg, mode: wb, as: h }
  - write: { handle: h, data: "not a jpeg" }
  - close: { handle: h }
  - read_back: { path: /sdcard/x_raw.jpg }
  - encrypt: { src: /sdcard/x_raw.jpg }`,
      "[]",
    ],
    [
      "hardened-cut-in-atomic-write",
      `  - boot
  - capture
  - save
  - encrypt
  - mark: { name: second }
  - capture
  - save
  - reboot
  - listdir: { path: /sdcard/myimages }
  - decrypt: { src: /sdcard/myimages/221_1735689600000.enc }`,
      "[{ kind: power-cut, atMark: second, offsetWrites: 3 }, { kind: torn-write, sectors: 1, fill: old }]",
    ],
  ])(
    "%s: the agent's hardened pipeline gives the simulator's steps, log, hashes and classes",
    async (name, steps, faults) => {
      const s = hardened(name, steps, faults);
      const sim = await onSim(s);
      const real = await onBoard(s);
      expect(comparable(real.result)).toEqual(comparable(sim.result));
      const cutAt = sim.trace.log.cuts[0]?.atWrite;
      const upToCut = (t: RunTrace) => (cutAt === undefined ? writesOf(t) : writesOf(t).slice(0, cutAt + 1));
      expect(upToCut(real.trace)).toEqual(upToCut(sim.trace));
      // The runs exercise what they claim (not a run that failed at boot).
      const log = sim.result.log.join("\n");
      if (name === "hardened-damaged-files") {
        // A byte of the magic overwritten: read as v1, whose strict RSA refuses it.
        expect(log).toMatch(/decrypt and save image: EncKeyError: \.enc offset 0: expected RSA blocks/);
        expect(log).toMatch(/EncTruncatedError: \.enc offset 16: expected file of \d+ bytes/);
        expect(log).toMatch(/x_raw\.jpg, error: OSError: Unsupported format!/);
        expect(log).toMatch(/encrypt and save image: FileIntegrityError: \/sdcard\/x_raw\.jpg offset 0/);
      } else if (name === "hardened-cut-in-atomic-write") expect(sim.trace.log.cuts).toHaveLength(1);
      else expect(log).toMatch(/Decrypted and saved image file/);
    },
    120_000,
  );

  it("a board that fails part-way exits 4 and leaves the steps it completed in --out", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cardsim-partial-"));
    let out = "";
    let err = "";
    const code = await scenarioMain(
      ["os-sync-is-not-flush", "--target", "board", "--port", board.path, "--allow-format"].concat([
        "--power-cycle",
        "echo relay jammed >&2; exit 3",
        "--out",
        "partial.json",
      ]),
      { stdout: (t) => (out += t), stderr: (t) => (err += t), isTTY: false, cwd: dir, ci: true },
    );
    expect([code, out]).toEqual([4, ""]);
    expect(err).toMatch(/--power-cycle ".*" failed \(exit 3\): relay jammed/);
    const partial = JSON.parse(readFileSync(join(dir, "partial.json"), "utf8")) as {
      format: string;
      target: string;
      failure: { kind: string; message: string };
      steps: { op: string; status: string }[];
    };
    expect(partial.format).toBe("cardsim-partial-result/1");
    expect(partial.failure.message).toMatch(/relay jammed/);
    // Everything before the power cycle ran and is kept, in order.
    const ops = scenario("os-sync-is-not-flush").steps.map((st) => st.op);
    expect(partial.steps.length).toBeGreaterThan(3);
    expect(partial.steps.map((st) => st.op)).toEqual(ops.slice(0, partial.steps.length));
    expect(readdirSync(dir)).toEqual(["partial.json"]);
  }, 120_000);

  it("refuses scenarios with faults it cannot inject, before the run", async () => {
    for (const [name, what] of [
      ["torn-write", "faults collateral"],
      ["usb-host-concurrent", "faults usb-host"],
      ["busy-timeout", "faults busy-timeout"],
      ["stale-dma-read", "faults stale-dma"],
    ]) {
      const run = onBoard(scenario(name), { port: "/nonexistent/port" });
      await expect(run).rejects.toThrow(CapabilityError);
      await expect(run).rejects.toThrow(what);
    }
    await expect(onBoard(scenario("pipeline-hardened-sweep"))).rejects.toThrow(/sweep runner/);
    await expect(onBoard(scenario("clean-run"), { allowFormat: false })).rejects.toThrow(/--allow-format/);
  });

  it("a deliberately broken agent.py fails the run with the port named, steps so far kept", async () => {
    const broken = openMvAgentSource().replace("def run(spec_json):", "def run(spec_json) oops:");
    const run = onBoard(scenario("clean-run"), { agentSource: broken });
    await expect(run).rejects.toThrow(BoardRunError);
    await expect(run).rejects.toThrow(`step 0 (boot) on ${board.path}`);
    await expect(run).rejects.toThrow(/SyntaxError/);
  });

  it("an agent out of date on the board is refused (upload skipped)", async () => {
    const repl = await RawRepl.connect(await openSerialStream(board.path), {});
    await uploadFile(repl, new TextEncoder().encode(openMvAgentSource() + "\n# older\n"), "/flash/agent.py");
    await repl.close();
    const run = onBoard(scenario("clean-run"), { upload: false });
    await expect(run).rejects.toThrow(/out of date/);
  });

  it("a step that never answers times out naming the port; the results so far are kept", async () => {
    const stuck = openMvAgentSource().replace(
      "def script_main(frames, interval_ms, touched):\n",
      "def script_main(frames, interval_ms, touched):\n    while True:\n        pass\n",
    );
    const err = await onBoard(scenario("clean-run"), { agentSource: stuck, stepTimeoutMs: 1_500 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BoardRunError);
    const e = err as BoardRunError;
    expect(e.message).toContain(`step 1 (run_script) on ${board.path}`);
    expect(e.steps.map((s) => [s.op, s.status])).toEqual([["boot", "ok"]]);
    // The port was released: the board answers a new connection.
    const repl = await RawRepl.connect(await openSerialStream(board.path), {});
    expect(await repl.execOk("print(1+1)")).toBe("2\r\n");
    await repl.close();
  });

  it("board absent, port busy: clear errors naming the port", async () => {
    await expect(onBoard(scenario("clean-run"), { port: "/dev/ttyNOPE0" })).rejects.toThrow(
      /\/dev\/ttyNOPE0/,
    );
    const holder = await openSerialStream(board.path);
    try {
      await expect(onBoard(scenario("clean-run"))).rejects.toThrow(new RegExp(`${board.path}.*`));
    } finally {
      await holder.close();
    }
  });

  it("garbage on the line: a clear error naming the port", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cardsim-garbage-"));
    const link = join(dir, "tty");
    const socat: ChildProcess = spawn("socat", [`pty,raw,echo=0,link=${link}`, "EXEC:yes NOISE"], {
      stdio: "ignore",
    });
    try {
      for (let i = 0; i < 50 && !existsSync(link); i++) await new Promise((r) => setTimeout(r, 50));
      await expect(onBoard(scenario("clean-run"), { port: link })).rejects.toThrow(new RegExp(link));
    } finally {
      socat.kill("SIGKILL");
    }
  });
});
