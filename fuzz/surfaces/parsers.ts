/**
 * Fuzz surfaces of the parsers and decoders: scenario YAML (load + validate), fault plans, traces,
 * `.pov` / `.pat` files and ESP32 frames. Inputs are valid seeds (the scenario catalogue, encoded
 * files and frames) mutated by fast-check: bytes flipped, ranges cut, duplicated or replaced, and
 * tokens that broke the tools before (YAML aliases, huge numbers, deep nesting).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { parseFaultPlanText } from "../../src/faults/index.ts";
import { decodeReply, decodeRequest, encodeFrame, FrameDecoder } from "../../src/pov/esp32-protocol.ts";
import { decodePat, encodePat } from "../../src/pov/pat-format.ts";
import { decodePov, encodePov } from "../../src/pov/pov-format.ts";
import { parseTrace, serialiseTrace, WriteLog } from "../../src/trace/index.ts";
import { parseScenario } from "../../sim/scenario-schema.ts";
import type { Surface } from "./harness.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Byte-level mutations of a seed: flips, cuts, splices, duplications, insertions. */
export function mutatedBytes(seeds: Uint8Array[], extra: Uint8Array[] = []): fc.Arbitrary<Uint8Array> {
  const pieces = [...extra, Uint8Array.of(0), Uint8Array.of(0xff), Uint8Array.of(0x7f, 0xff, 0xff, 0xff)];
  const edit = fc.oneof(
    fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
    fc.record({ op: fc.constant("set" as const), at: fc.nat(), v: fc.nat(255) }),
    fc.record({ op: fc.constant("cut" as const), at: fc.nat(), len: fc.nat(64) }),
    fc.record({ op: fc.constant("dup" as const), at: fc.nat(), len: fc.nat(64) }),
    fc.record({ op: fc.constant("insert" as const), at: fc.nat(), piece: fc.constantFrom(...pieces) }),
    fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  );
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(edit, { minLength: 1, maxLength: 6 }))
    .map(([seed, edits]) => {
      let b = seed.slice();
      for (const e of edits) {
        const at = b.length ? e.at % b.length : 0;
        if (e.op === "flip") b[at] ^= 1 << e.bit;
        else if (e.op === "set") b[at] = e.v;
        else if (e.op === "cut") b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + e.len)]);
        else if (e.op === "dup") b = Uint8Array.from([...b.subarray(0, at + e.len), ...b.subarray(at)]);
        else if (e.op === "insert")
          b = Uint8Array.from([...b.subarray(0, at), ...e.piece, ...b.subarray(at)]);
        else b = b.slice(0, at);
      }
      return b;
    });
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Tokens that broke the scenario loader before (issue 13) or stress YAML itself. */
const YAML_TOKENS = [
  "*a",
  "&a [1, 2]",
  "{",
  "[[[[[[[[[[[[[[[[[[[[",
  "999999999999",
  "-1",
  "1e400",
  "0x10",
  "~",
  "!!binary AAAA",
  "? x",
  "\t",
  "sweep: {cuts: [999999]}",
  "cuts: marks",
  "logSpaced: 1000000000",
  "bytes: 3000000000",
  "format: none",
  "firmware: 9.9.9",
  "card: sdhc-32g",
  "- cut_power",
  "- boot",
  "torn: 4096",
  "repeat: 1000000000",
].map((t) => enc.encode(t));

function scenarioSeeds(): { name: string; text: Uint8Array }[] {
  const dir = join(ROOT, "scenarios");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => ({ name: f, text: new Uint8Array(readFileSync(join(dir, f))) }));
}

export function yamlSurface(): Surface<{ file: string; text: string }> {
  const seeds = scenarioSeeds();
  const byText = new Map(seeds.map((s) => [dec.decode(s.text), s.name]));
  return {
    name: "scenario YAML (load + validate)",
    arbitrary: fc
      .tuple(
        fc.constantFrom(...seeds.map((s) => s.name)),
        mutatedBytes(
          seeds.map((s) => s.text),
          YAML_TOKENS,
        ),
      )
      .map(([file, b]) => ({ file, text: dec.decode(b) })),
    run: ({ file, text }) => {
      parseScenario(text, byText.get(text) ?? file);
      return "ok";
    },
    show: ({ file, text }) => `${file}: ${JSON.stringify(text.slice(0, 300))}`,
  };
}

const PLAN_SEEDS = [
  "faults:\n  - kind: power-cut\n    atWrite: 12\n    tornBytes: 512\n",
  "faults:\n  - kind: write-error\n    atWrite: 3\n    errno: 5\n",
  "faults:\n  - kind: power-cut\n    afterMark: save\n    offsetWrites: 2\n  - kind: usb-host\n",
].map((t) => enc.encode(t));

export function faultPlanSurface(): Surface<string> {
  return {
    name: "fault plans",
    arbitrary: mutatedBytes(PLAN_SEEDS, YAML_TOKENS).map((b) => dec.decode(b)),
    run: (text) => {
      parseFaultPlanText(text, "plan.yaml");
      return "ok";
    },
    show: (t) => JSON.stringify(t.slice(0, 300)),
  };
}

function traceSeeds(): Uint8Array[] {
  const log = new WriteLog();
  const block = new Uint8Array(512).fill(0x5a);
  for (let i = 0; i < 24; i++) {
    const kind = i % 6 === 5 ? "sync" : i % 2 === 0 ? "write" : "read";
    log.ops.push({
      seq: i,
      timeMicros: i * 10,
      kind,
      lba: kind === "sync" ? 0 : i,
      count: kind === "sync" ? 0 : 1,
      offset: 0,
      crc32: kind === "sync" ? 0 : 0x6fa8e06b,
      result: 0,
      ...(kind === "write" && { data: block }),
    });
  }
  const header = {
    sectorSize: 512,
    sectors: 64,
    source: "sim" as const,
    scenario: "fuzz",
    seed: 1,
    profile: "openmv-rt1062",
    firmware: "4.7.0",
    engine: "js-fatfs R0.15 per-file",
  };
  return [
    new Uint8Array(serialiseTrace(log, { ...header, data: "none" })),
    new Uint8Array(serialiseTrace(log, { ...header, data: "inline" }).subarray(0, 6000)),
  ];
}

export function traceSurface(): Surface<Uint8Array> {
  return {
    name: "traces (cardsim-trace/1)",
    arbitrary: mutatedBytes(traceSeeds(), [enc.encode('{"seq":'), enc.encode("\n"), enc.encode("1e308")]),
    run: (b) => {
      parseTrace(b, "fuzz.trace");
      return "ok";
    },
    readOnly: (b) => b,
  };
}

function povSeeds(): Uint8Array[] {
  const px = (w: number, h: number): Uint8Array =>
    Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) & 0xff);
  return [
    encodePov({ width: 8, height: 4, pixels: px(8, 4) }),
    encodePov({ width: 3, height: 2, pixels: px(3, 2) }, "hardened"),
  ];
}

export function povSurface(): Surface<Uint8Array> {
  const seeds = povSeeds();
  return {
    name: ".pov files",
    arbitrary: mutatedBytes(seeds),
    run: (b) => {
      decodePov(b, { file: "fuzz.pov" });
      decodePov(b, { file: "fuzz.pov", variant: "hardened" });
      return "ok";
    },
    readOnly: (b) => b,
  };
}

export function patSurface(): Surface<Uint8Array> {
  return {
    name: ".pat files",
    arbitrary: mutatedBytes([
      encodePat([
        { active: true, type: 3, color1: [255, 0, 0], color2: [0, 0, 255], speed: 10 },
        { active: false, type: 15, color1: [1, 2, 3], color2: [4, 5, 6], speed: 255 },
      ]),
    ]),
    run: (b) => {
      decodePat(b, { file: "fuzz.pat" });
      return "ok";
    },
    readOnly: (b) => b,
  };
}

export function esp32Surface(): Surface<{ stream: Uint8Array; cuts: number[] }> {
  const frames = [
    encodeFrame({ type: 0x01, seq: 1, payload: Uint8Array.of(0x01) }),
    encodeFrame({ type: 0x06, seq: 2, payload: Uint8Array.of(0x02, 0, 0) }),
    encodeFrame({ type: 0x15, seq: 3, payload: Uint8Array.of(0x03, 1) }),
  ];
  const stream = Uint8Array.from(frames.flatMap((f) => [...f]));
  return {
    name: "ESP32 frames",
    arbitrary: fc.record({
      stream: mutatedBytes([stream, ...frames]),
      cuts: fc.array(fc.nat(64), { maxLength: 8 }),
    }),
    run: ({ stream: s, cuts }) => {
      const d = new FrameDecoder();
      let at = 0;
      const events = [];
      for (const c of [...cuts, s.length]) {
        events.push(...d.push(s.subarray(at, Math.min(s.length, at + c))));
        at = Math.min(s.length, at + c);
      }
      events.push(...d.push(s.subarray(at)), ...d.idle());
      for (const e of events)
        if (e.kind === "frame") {
          for (const decode of [decodeRequest, decodeReply])
            try {
              decode(e.frame);
            } catch (err) {
              // A located InputError is a clean rejection of one frame; anything else propagates.
              if (!(err instanceof Error && err.name === "PovFormatError")) throw err;
            }
        }
      return "ok";
    },
    readOnly: ({ stream: s }) => s,
  };
}
