import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32, gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { syntheticLog } from "./synthetic-log.ts";
import { CowBlockDevice, ERRNO, IOCTL, readAll, type BlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { CrashStateMaterialiser } from "../../src/faults/index.ts";
import {
  TraceFormatError,
  TracingBlockDevice,
  WriteLog,
  parseTrace,
  readTraceFile,
  serialiseTrace,
  writeTraceFile,
  type TraceHeaderInput,
} from "../../src/trace/index.ts";

const dir = mkdtempSync(join(tmpdir(), "cardsim-trace-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const header = (data: "none" | "inline", sectors = 64): TraceHeaderInput => ({
  sectorSize: 512,
  sectors,
  source: "sim",
  scenario: "unit",
  seed: 7,
  profile: "openmv-rt1062",
  firmware: "4.7.0",
  engine: "js-fatfs R0.15 per-file",
  data,
});

const fill = (len: number, v: number) => new Uint8Array(len).fill(v);

/** A device below the recorder that cuts power during its `cutAt`-th write, as the fault layer would. */
class CuttingDevice implements BlockDevice {
  private writes = 0;
  private off = false;
  log: WriteLog | null = null;
  constructor(
    readonly inner: BlockDevice,
    readonly cutAt: number,
  ) {}
  readblocks(n: number, buf: Uint8Array, offset?: number): number {
    return this.off ? -ERRNO.EIO : this.inner.readblocks(n, buf, offset);
  }
  writeblocks(n: number, buf: Uint8Array, offset?: number): number {
    if (this.off) return -ERRNO.EIO;
    const w = this.writes++;
    if (w !== this.cutAt) return this.inner.writeblocks(n, buf, offset);
    this.inner.writeblocks(n, buf.subarray(0, 512), offset); // one sector reached the card
    this.off = true;
    this.log!.cut(w, 1);
    return -ERRNO.EIO;
  }
  ioctl(op: number, arg: number): number {
    return this.off && op !== IOCTL.BLOCK_SIZE ? -ERRNO.EIO : this.inner.ioctl(op, arg);
  }
}

/** A run with every op kind, a mark, an offset write and a cut during write 3. */
function recordRun(): { base: CowBlockDevice; tracer: TracingBlockDevice; clock: VirtualClock } {
  const clock = new VirtualClock();
  const base = CowBlockDevice.blank(512, 64);
  const cutting = new CuttingDevice(base.fork(), 3);
  const tracer = new TracingBlockDevice(cutting, clock, undefined, { logReads: true, logIoctls: true });
  cutting.log = tracer.log;
  tracer.ioctl(IOCTL.INIT, 0);
  tracer.ioctl(IOCTL.BLOCK_COUNT, 0);
  tracer.writeblocks(0, fill(1024, 1));
  clock.advance(100);
  tracer.readblocks(0, new Uint8Array(512));
  tracer.mark("second-save");
  tracer.writeblocks(5, fill(100, 2), 12);
  tracer.ioctl(IOCTL.SYNC, 0);
  tracer.ioctl(IOCTL.BLOCK_ERASE, 9);
  tracer.writeblocks(10, fill(512, 3));
  clock.advance(50);
  tracer.writeblocks(20, fill(1536, 4)); // write 3: the cut
  tracer.writeblocks(30, fill(512, 5)); // after the cut: -EIO
  return { base, tracer, clock };
}

describe("cardsim-trace/1 writer", () => {
  it("writes the header, one line per op, and mark/cut lines before the op they name", () => {
    const { tracer } = recordRun();
    const text = serialiseTrace(tracer.log, header("none")).toString("utf8");
    const lines = text.trimEnd().split("\n");
    expect(JSON.parse(lines[0])).toEqual({ format: "cardsim-trace/1", ...header("none") });
    expect(lines.slice(1).map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      { seq: 0, op: "ioctl", cmd: 1, arg: 0, result: 0, timeMicros: 0 },
      { seq: 1, op: "ioctl", cmd: 4, arg: 0, result: 64, timeMicros: 0 },
      {
        seq: 2,
        op: "write",
        lba: 0,
        count: 2,
        offset: 0,
        crc32: crc32(fill(1024, 1)).toString(16).padStart(8, "0"),
        result: 0,
        timeMicros: 0,
      },
      {
        seq: 3,
        op: "read",
        lba: 0,
        count: 1,
        offset: 0,
        crc32: crc32(fill(512, 1)).toString(16).padStart(8, "0"),
        result: 0,
        timeMicros: 100,
      },
      { op: "mark", name: "second-save", beforeSeq: 4, timeMicros: 100 },
      {
        seq: 4,
        op: "write",
        lba: 5,
        count: 1,
        offset: 12,
        crc32: crc32(fill(100, 2)).toString(16).padStart(8, "0"),
        result: 0,
        timeMicros: 100,
      },
      { seq: 5, op: "sync", lba: 0, count: 0, offset: 0, crc32: "00000000", result: 0, timeMicros: 100 },
      { seq: 6, op: "erase", lba: 9, count: 1, offset: 0, crc32: "00000000", result: 0, timeMicros: 100 },
      {
        seq: 7,
        op: "write",
        lba: 10,
        count: 1,
        offset: 0,
        crc32: crc32(fill(512, 3)).toString(16).padStart(8, "0"),
        result: 0,
        timeMicros: 100,
      },
      {
        seq: 8,
        op: "write",
        lba: 20,
        count: 3,
        offset: 0,
        crc32: crc32(fill(1536, 4)).toString(16).padStart(8, "0"),
        result: -5,
        timeMicros: 150,
      },
      { op: "cut", atWrite: 3, tornSectors: 1, beforeSeq: 9 },
      {
        seq: 9,
        op: "write",
        lba: 30,
        count: 1,
        offset: 0,
        crc32: crc32(fill(512, 5)).toString(16).padStart(8, "0"),
        result: -5,
        timeMicros: 150,
      },
    ]);
  });

  it("refuses a log recorded without reads or ioctls (not a trace file, TRACE-FORMAT.md)", () => {
    const t = new TracingBlockDevice(CowBlockDevice.blank(512, 8), new VirtualClock(), undefined, {
      logReads: false,
    });
    t.writeblocks(0, fill(512, 1));
    expect(() => serialiseTrace(t.log, header("none"))).toThrow(/without read and ioctl ops/);
  });

  it("refuses data inline when a write has no bytes, and a bad header", () => {
    const log = new WriteLog();
    log.ops.push({ seq: 0, timeMicros: 0, kind: "write", lba: 0, count: 1, offset: 0, crc32: 0, result: 0 });
    expect(() => serialiseTrace(log, header("inline"))).toThrow(/write seq 0 has no data/);
    expect(() => serialiseTrace(log, { ...header("none"), sectorSize: 500 })).toThrow(
      /bad header: .*sectorSize: expected a power of two/,
    );
  });

  it("writes through a temp file and renames it (no partial file left on failure)", () => {
    const path = join(dir, "fail.jsonl");
    const log = new WriteLog();
    log.omitted.add("read");
    expect(() => writeTraceFile(path, log, header("none"))).toThrow();
    expect(() => readFileSync(path)).toThrow(/ENOENT/);
    expect(() => readFileSync(`${path}.tmp`)).toThrow(/ENOENT/);
  });
});

describe("cardsim-trace/1 round trip", () => {
  for (const [name, gzip] of [
    ["plain", false],
    ["gzip", true],
  ] as const) {
    for (const data of ["none", "inline"] as const) {
      it(`${name}, data ${data}: read(write(log)) is the log`, () => {
        const { tracer } = recordRun();
        const path = join(dir, `rt-${name}-${data}.jsonl${gzip ? ".gz" : ""}`);
        writeTraceFile(path, tracer.log, header(data));
        const raw = readFileSync(path);
        expect(raw[0] === 0x1f && raw[1] === 0x8b).toBe(gzip);
        const t = readTraceFile(path);
        expect(t.header).toEqual({ format: "cardsim-trace/1", ...header(data) });
        expect(t.writeCount).toBe(5);
        const strip = (ops: typeof tracer.log.ops) =>
          ops.map(({ data: d, ...rest }) => ({ ...rest, ...(data === "inline" && d && { data: [...d] }) }));
        expect(strip(t.log.ops)).toEqual(strip(tracer.log.ops));
        expect(t.log.marks).toEqual(tracer.log.marks);
        expect(t.log.cuts).toEqual(tracer.log.cuts);
        expect(t.log.omitted.size).toBe(0);
        // Written again, it is byte-identical.
        expect(serialiseTrace(t.log, header(data), { gzip })).toEqual(raw);
      });
    }
  }

  it("reads a write line written by another writer: other key order, JSON escapes in the base64", () => {
    const data = Uint8Array.from([0xff, 0xff, 0xff, ...new Array<number>(509).fill(0xfb)]);
    const b64 = Buffer.from(data).toString("base64").replaceAll("/", "\\/");
    expect(b64).toContain("\\/");
    const crc = crc32(data).toString(16).padStart(8, "0").toUpperCase();
    const text =
      JSON.stringify({ format: "cardsim-trace/1", ...header("inline") }) +
      `\n{"bytes":"${b64}","op":"write","seq":0,"lba":3,"count":1,"offset":0,"crc32":"${crc}","result":0,"timeMicros":5}\n`;
    const t = parseTrace(Buffer.from(text), "other.jsonl");
    expect(t.log.ops[0]).toMatchObject({ kind: "write", lba: 3, data, crc32: crc32(data) });
  });

  it("detects gzip by magic bytes, not by the file name", () => {
    const { tracer } = recordRun();
    const gzAsPlain = join(dir, "really-gzip.jsonl");
    const plainAsGz = join(dir, "really-plain.jsonl.gz");
    writeTraceFile(gzAsPlain, tracer.log, header("none"), { gzip: true });
    writeTraceFile(plainAsGz, tracer.log, header("none"), { gzip: false });
    expect(readTraceFile(gzAsPlain).log.ops.length).toBe(10);
    expect(readTraceFile(plainAsGz).log.ops.length).toBe(10);
  });

  it("an inline trace feeds the offline crash-state materialiser like the recorded log", () => {
    const clock = new VirtualClock();
    const base = CowBlockDevice.blank(512, 64);
    const tracer = new TracingBlockDevice(base.fork(), clock, undefined, { logIoctls: true });
    for (let i = 0; i < 12; i++) {
      tracer.writeblocks((i * 5) % 60, fill(512 * (1 + (i % 3)), i + 1));
      if (i % 4 === 3) tracer.ioctl(IOCTL.SYNC, 0);
    }
    const t = parseTrace(serialiseTrace(tracer.log, header("inline")), "mem");
    const fromLog = new CrashStateMaterialiser(base, tracer.log);
    const fromTrace = new CrashStateMaterialiser(base, t.log);
    expect(fromTrace.writeCount).toBe(12);
    for (let c = 0; c <= 12; c++) {
      const point = { completedWrites: c, unsynced: { policy: "random-subset" as const }, seed: c };
      expect(readAll(fromTrace.materialise(point))).toEqual(readAll(fromLog.materialise(point)));
    }
  });
});

/** A valid inline trace as text lines, to break one line at a time. */
function validLines(): string[] {
  const { tracer } = recordRun();
  return serialiseTrace(tracer.log, header("inline")).toString("utf8").trimEnd().split("\n");
}

function rejection(lines: string[]): TraceFormatError {
  try {
    parseTrace(Buffer.from(lines.length ? lines.join("\n") + "\n" : ""), "bad.jsonl");
  } catch (e) {
    if (e instanceof TraceFormatError) return e;
    throw e;
  }
  throw new Error("the trace was accepted");
}

function edit(lines: string[], index: number, change: (o: Record<string, unknown>) => void): string[] {
  const out = lines.slice();
  const o = JSON.parse(out[index]) as Record<string, unknown>;
  change(o);
  out[index] = JSON.stringify(o);
  return out;
}

describe("cardsim-trace/1 reader rejects (TRACE-FORMAT.md, 'Readers reject')", () => {
  const L = validLines();
  // Line numbers are 1-based; L[i] is line i + 1. L[3] is the first write (seq 2), L[11] the cut.
  const cases: [string, () => string[], RegExp][] = [
    [
      "a missing format",
      () => edit(L, 0, (o) => delete o.format),
      /^bad\.jsonl:1: format: expected a header line/,
    ],
    [
      "an unknown format",
      () => edit(L, 0, (o) => (o.format = "cardsim-trace/2")),
      /^bad\.jsonl:1: format: expected "cardsim-trace\/1", found "cardsim-trace\/2"/,
    ],
    [
      "a bad header field",
      () => edit(L, 0, (o) => (o.source = "pc")),
      /^bad\.jsonl:1: source: expected one of "sim", "board", "virtual-board"/,
    ],
    ["an empty file", () => [], /^bad\.jsonl:1: format: .*found an empty file/],
    [
      "a line that is not JSON",
      () => [...L.slice(0, 4), '{"seq":3,"op":"read"', ...L.slice(5)],
      /^bad\.jsonl:5: json: expected a JSON object, found invalid JSON/,
    ],
    [
      "a JSON line that is not an object",
      () => [...L.slice(0, 4), "[1,2]", ...L.slice(5)],
      /^bad\.jsonl:5: json: expected a JSON object, found \[1,2\]/,
    ],
    [
      "seq not +1 (a gap)",
      () => [...L.slice(0, 7), ...L.slice(8)],
      /^bad\.jsonl:8: seq: expected 5 \(the previous seq \+ 1\), found 6/,
    ],
    [
      "seq not starting at 0",
      () => edit(L, 1, (o) => (o.seq = 1)),
      /^bad\.jsonl:2: seq: expected 0 \(seq counts from 0\), found 1/,
    ],
    [
      "bytes that do not fit count blocks",
      () => edit(L, 3, (o) => (o.count = 3)),
      /^bad\.jsonl:4: bytes: expected bytes that fit 3 blocks of 512 from offset 0, found 1024 bytes \(2 blocks\)/,
    ],
    [
      "bytes that are not base64",
      () => edit(L, 3, (o) => (o.bytes = "not base64!")),
      /^bad\.jsonl:4: bytes: expected base64/,
    ],
    [
      "inline data missing",
      () => edit(L, 3, (o) => delete o.bytes),
      /^bad\.jsonl:4: bytes: expected the written bytes in base64/,
    ],
    [
      "a CRC mismatch",
      () => edit(L, 3, (o) => (o.crc32 = "deadbeef")),
      /^bad\.jsonl:4: crc32: expected the CRC-32 of the bytes, [0-9a-f]{8}, found "deadbeef"/,
    ],
    [
      "a malformed CRC",
      () => edit(L, 4, (o) => (o.crc32 = "12345")),
      /^bad\.jsonl:5: crc32: expected 8 hex digits/,
    ],
    [
      "lba + count beyond sectors",
      () => edit(L, 4, (o) => (o.lba = 64)),
      /^bad\.jsonl:5: count: expected lba \+ count <= 64 \(the header's sectors\), found lba 64 \+ count 1/,
    ],
    [
      "an unknown op",
      () => edit(L, 4, (o) => (o.op = "trim")),
      /^bad\.jsonl:5: op: expected one of read, write, sync, erase, ioctl, mark, cut, found "trim"/,
    ],
    [
      "a write result that is not 0 or -errno",
      () => edit(L, 3, (o) => (o.result = 3)),
      /^bad\.jsonl:4: result: expected an integer <= 0/,
    ],
    [
      "a sync with a block range",
      () => edit(L, 7, (o) => (o.count = 1)),
      /^bad\.jsonl:8: count: expected 0, found 1/,
    ],
    [
      "a mark whose beforeSeq is not the next seq",
      () => edit(L, 5, (o) => (o.beforeSeq = 9)),
      /^bad\.jsonl:6: beforeSeq: expected 4, found 9/,
    ],
    [
      "a cut at a write not yet logged",
      () => edit(L, 11, (o) => (o.atWrite = 7)),
      /^bad\.jsonl:12: atWrite: expected an integer in 0\.\.4, found 7/,
    ],
    [
      "a cut tearing more sectors than the write has",
      () => edit(L, 11, (o) => (o.tornSectors = 4)),
      /^bad\.jsonl:12: tornSectors: expected an integer in 0\.\.3, found 4/,
    ],
  ];
  for (const [what, make, message] of cases)
    it(what, () => {
      const e = rejection(make());
      expect(e.message).toMatch(message);
      expect(e.file).toBe("bad.jsonl");
      expect(e.message.startsWith(`bad.jsonl:${e.line}: ${e.field}: expected ${e.expected}`)).toBe(true);
    });

  it("bytes in a data:none trace", () => {
    const { tracer } = recordRun();
    const lines = serialiseTrace(tracer.log, header("none")).toString("utf8").trimEnd().split("\n");
    const e = rejection(edit(lines, 3, (o) => (o.bytes = "AAAA")));
    expect(e.message).toMatch(/^bad\.jsonl:4: bytes: expected no bytes \(the header says "data":"none"\)/);
  });

  it("a truncated gzip file, naming the line after the last complete one", () => {
    const gz = gzipSync(Buffer.from(L.join("\n") + "\n"));
    const cut = gz.subarray(0, Math.floor(gz.length * 0.6));
    const path = join(dir, "truncated.jsonl.gz");
    writeFileSync(path, cut);
    let err: unknown;
    try {
      readTraceFile(path);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TraceFormatError);
    const e = err as TraceFormatError;
    expect(e.field).toBe("gzip");
    expect(e.line).toBeGreaterThanOrEqual(1);
    expect(e.line).toBeLessThanOrEqual(L.length);
    expect(e.message).toMatch(
      new RegExp(
        `truncated\\.jsonl\\.gz:${e.line}: gzip: expected a complete gzip stream, found compressed data that ends or breaks after ${e.line - 1} complete lines`,
      ),
    );
  });
});

describe("large traces", () => {
  it("reads a 100k-op trace back, with and without data (its speed: bench/trace-bench.ts)", () => {
    const block = fill(512, 0x5a);
    const log = syntheticLog(100_000, block);
    for (const data of ["none", "inline"] as const) {
      const bytes = serialiseTrace(log, header(data, 4096), { gzip: true });
      const t = parseTrace(bytes, "big");
      expect(t.log.ops.length).toBe(100_000);
      expect(t.log.ops[99_998].kind).toBe("write");
      if (data === "inline") expect(t.log.ops[99_998].data).toEqual(block);
    }
  });
});
