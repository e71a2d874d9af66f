/**
 * `cardsim scenario X --trace FILE`: the run's every block operation as cardsim-trace/1, read back by
 * the project's one reader (which rejects anything malformed), with the fault plan's cut where it
 * happened.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { scenarioMain } from "../../sim/cli/scenario.ts";
import { traceMain } from "../../sim/cli/trace.ts";
import { readTraceFile } from "../../src/trace/index.ts";

const dir = mkdtempSync(join(tmpdir(), "cardsim-trace-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[]): Promise<{ code: number; err: string }> {
  let err = "";
  const code = await scenarioMain(args, {
    stdout: () => undefined,
    stderr: (s) => void (err += s),
    cwd: dir,
  });
  return { code, err };
}

describe("--trace", () => {
  it("writes every op of torn-write, with the cut at the plan's write and the torn sectors", async () => {
    const r = await cli(["torn-write", "--trace", "t.jsonl.gz", "--trace-data"]);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, "t.jsonl.gz")).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const t = readTraceFile(join(dir, "t.jsonl.gz"));
    expect(t.header).toMatchObject({
      source: "sim",
      scenario: "torn-write",
      seed: 1,
      profile: "openmv-rt1062",
      firmware: "4.7.0",
      data: "inline",
      sectorSize: 512,
    });
    const kinds = new Set(t.log.ops.map((o) => o.kind));
    for (const k of ["read", "write", "sync", "ioctl"]) expect(kinds).toContain(k);
    // The plan: { kind: power-cut, atMark: second-save, offsetWrites: 1 } + { kind: torn-write, sectors: 3 }.
    const mark = t.log.marks.find((m) => m.name === "second-save")!;
    const atWrite = t.log.ops.filter((o) => o.kind === "write" && o.seq < mark.seq).length + 1;
    expect(t.log.cuts).toHaveLength(1);
    expect(t.log.cuts[0]).toMatchObject({ atWrite, tornSectors: 3 });
    const writes = t.log.ops.filter((o) => o.kind === "write");
    expect(writes[atWrite].result).toBe(-5);
    expect(writes.slice(0, atWrite).every((w) => w.result === 0)).toBe(true);
    expect(t.log.cuts[0].beforeSeq).toBe(writes[atWrite].seq + 1);
    for (const w of writes) expect(crc32(w.data!)).toBe(w.crc32);
  });

  it("refuses --trace-data alone and --trace with --replay (exit 2)", async () => {
    expect((await cli(["torn-write", "--trace-data"])).code).toBe(2);
    const r = await cli([
      "pipeline-as-reported-sweep",
      "--trace",
      "x.jsonl",
      "--replay",
      "pipeline-as-reported-sweep@1/cut=w3;policy=drop-all;seed=0",
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--trace logs a run/);
  });
});

async function diff(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await traceMain(["diff", ...args], {
    stdout: (s) => void (out += s),
    stderr: (s) => void (err += s),
    cwd: dir,
  });
  return { code, out, err };
}

describe("cardsim trace diff", () => {
  it("agrees with itself, and names the role of the first divergent sector from a card image", async () => {
    expect((await cli(["clean-run", "--trace", "a.jsonl"])).code).toBe(0);
    expect((await cli(["clean-run", "--trace", "b.jsonl", "--save-card", "clean.img"])).code).toBe(0);
    const same = await diff(["a.jsonl", "b.jsonl", "--json"]);
    expect(same.code).toBe(0);
    expect((JSON.parse(same.out) as { equal: boolean }).equal).toBe(true);
    expect((await cli(["torn-write", "--trace", "c.jsonl"])).code).toBe(0);
    const other = await diff(["a.jsonl", "c.jsonl", "--card", "clean.img"]);
    expect(other.code).toBe(1);
    expect(other.out).toMatch(/first divergence/i);
    expect(other.out).toMatch(/boot|fsinfo|FAT|dir|data|free/);
  });

  it("a damaged trace is bad input: exit 2 naming the file and line", async () => {
    const lines = readFileSync(join(dir, "a.jsonl"), "utf8").split("\n");
    lines[5] = lines[5].replace(/"seq":\d+/, '"seq":999999');
    writeFileSync(join(dir, "bad.jsonl"), lines.join("\n"));
    const r = await diff(["a.jsonl", "bad.jsonl"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad\.jsonl:6: seq: expected/);
  });
});
