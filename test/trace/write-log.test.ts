import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { CowBlockDevice, IOCTL, readAll } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { TracingBlockDevice, replayWrites } from "../../src/trace/index.ts";

const fill = (len: number, v: number) => new Uint8Array(len).fill(v);

describe("TracingBlockDevice", () => {
  it("logs every op with seq, virtual time, kind, lba, count and crc32", () => {
    const clock = new VirtualClock();
    const dev = new TracingBlockDevice(CowBlockDevice.blank(512, 32), clock);
    dev.writeblocks(3, fill(1024, 1));
    clock.advance(250);
    dev.readblocks(3, new Uint8Array(512));
    dev.mark("after-read");
    dev.ioctl(IOCTL.SYNC, 0);
    dev.ioctl(IOCTL.BLOCK_COUNT, 0); // queries are not logged
    const ops = dev.log.ops;
    expect(ops.map((o) => [o.seq, o.kind, o.lba, o.count, o.timeMicros])).toEqual([
      [0, "write", 3, 2, 0],
      [1, "read", 3, 1, 250],
      [2, "sync", 0, 0, 250],
    ]);
    expect(ops[0].crc32).toBe(crc32(fill(1024, 1)));
    expect(ops[1].crc32).toBe(crc32(fill(512, 1)));
    expect(dev.log.findMark("after-read")).toEqual({ name: "after-read", seq: 2, timeMicros: 250 });
    expect(dev.log.lastBarrierBefore(3)).toBe(2);
    expect(dev.log.lastBarrierBefore(2)).toBe(-1);
  });

  it("keeps a private copy of written data (the caller may reuse its buffer)", () => {
    const dev = new TracingBlockDevice(CowBlockDevice.blank(512, 4), new VirtualClock());
    const buf = fill(512, 7);
    dev.writeblocks(0, buf);
    buf.fill(9);
    expect(dev.log.ops[0].data).toEqual(fill(512, 7));
  });

  it("replays a log prefix onto a fork of the starting state", () => {
    const base = CowBlockDevice.blank(512, 8);
    const start = base.fork();
    const dev = new TracingBlockDevice(base, new VirtualClock());
    dev.writeblocks(0, fill(512, 1));
    dev.writeblocks(1, fill(512, 2));
    dev.writeblocks(0, fill(512, 3));
    const upTo2 = start.fork();
    replayWrites(dev.log, 2, upTo2);
    const img = readAll(upTo2);
    expect(img[0]).toBe(1);
    expect(img[512]).toBe(2);
    const all = start.fork();
    replayWrites(dev.log, Infinity, all);
    expect(readAll(all)).toEqual(readAll(base));
  });

  it("with logIoctls, every ioctl is an op; a cut outside an op lands at the end, in recording order with marks", () => {
    const dev = new TracingBlockDevice(CowBlockDevice.blank(512, 8), new VirtualClock(), undefined, {
      logIoctls: true,
    });
    expect(dev.ioctl(IOCTL.BLOCK_COUNT, 0)).toBe(8);
    dev.writeblocks(1, fill(512, 1));
    dev.mark("before-cut");
    dev.log.cut(1, null);
    dev.mark("after-cut");
    expect(dev.log.ops.map((o) => [o.seq, o.kind, o.cmd, o.result])).toEqual([
      [0, "ioctl", IOCTL.BLOCK_COUNT, 8],
      [1, "write", undefined, 0],
    ]);
    expect(dev.log.omitted.size).toBe(0);
    expect(dev.log.cuts).toEqual([{ atWrite: 1, tornSectors: null, beforeSeq: 2 }]);
    expect(dev.log.annotations().map((a) => (a.kind === "mark" ? a.mark.name : "cut"))).toEqual([
      "before-cut",
      "cut",
      "after-cut",
    ]);
  });
});
