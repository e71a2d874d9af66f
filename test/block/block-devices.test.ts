import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CardImageError,
  CowBlockDevice,
  ERRNO,
  IOCTL,
  ImageFileBlockDevice,
  OffsetBlockDevice,
  RamBlockDevice,
  readAll,
} from "../../src/block/index.ts";

const pattern = (len: number, seed: number) =>
  Uint8Array.from({ length: len }, (_, i) => (i * 31 + seed) & 0xff);

describe("RamBlockDevice (RAMBlockDev semantics, seed 001)", () => {
  it("answers BLOCK_COUNT and BLOCK_SIZE through ioctl", () => {
    const dev = new RamBlockDevice(512, 50);
    expect(dev.ioctl(IOCTL.BLOCK_COUNT, 0)).toBe(50);
    expect(dev.ioctl(IOCTL.BLOCK_SIZE, 0)).toBe(512);
    expect(dev.ioctl(IOCTL.SYNC, 0)).toBe(0);
    expect(dev.ioctl(99, 0)).toBe(-ERRNO.EINVAL);
  });

  it("reads back what was written, at block and byte offsets", () => {
    const dev = new RamBlockDevice(512, 8);
    expect(dev.writeblocks(2, pattern(1024, 1))).toBe(0);
    expect(dev.writeblocks(5, pattern(10, 9), 100)).toBe(0);
    const buf = new Uint8Array(1024);
    expect(dev.readblocks(2, buf)).toBe(0);
    expect(buf).toEqual(pattern(1024, 1));
    const small = new Uint8Array(10);
    dev.readblocks(5, small, 100);
    expect(small).toEqual(pattern(10, 9));
    expect(dev.data[5 * 512 + 99]).toBe(0);
  });

  it("returns -EIO instead of throwing beyond the end", () => {
    const dev = new RamBlockDevice(512, 4);
    expect(dev.readblocks(4, new Uint8Array(512))).toBe(-ERRNO.EIO);
    expect(dev.writeblocks(3, new Uint8Array(1024))).toBe(-ERRNO.EIO);
  });
});

describe("CowBlockDevice", () => {
  it("forks in O(changed blocks) and isolates the forks from each other", () => {
    const base = pattern(512 * 16, 3);
    const dev = CowBlockDevice.over(base);
    dev.writeblocks(1, pattern(512, 50));
    const fork = dev.fork();
    expect(fork.changedBlockCount).toBe(1);
    dev.writeblocks(1, pattern(512, 60)); // must not leak into the fork
    fork.writeblocks(2, pattern(100, 70), 10); // partial block: copy then patch
    const a = new Uint8Array(512);
    fork.readblocks(1, a);
    expect(a).toEqual(pattern(512, 50));
    dev.readblocks(1, a);
    expect(a).toEqual(pattern(512, 60));
    const b = new Uint8Array(512);
    fork.readblocks(2, b);
    expect(b.subarray(0, 10)).toEqual(base.subarray(1024, 1034));
    expect(b.subarray(10, 110)).toEqual(pattern(100, 70));
    dev.readblocks(2, b);
    expect(b).toEqual(base.subarray(1024, 1536));
    expect(base).toEqual(pattern(512 * 16, 3)); // the base is never written
  });

  it("reads across block boundaries and blank devices read as zeros", () => {
    const dev = CowBlockDevice.blank(512, 4);
    dev.writeblocks(1, pattern(700, 5), 400);
    const out = new Uint8Array(700);
    dev.readblocks(1, out, 400);
    expect(out).toEqual(pattern(700, 5));
    expect(readAll(dev).subarray(0, 512)).toEqual(new Uint8Array(512));
    expect(dev.changedBlocks()).toEqual([1, 2, 3]); // bytes 912..2011 span blocks 1-3
  });

  it("over a device: reads the base on demand, never writes it, and passes its read errors up", () => {
    const inner = RamBlockDevice.fromImage(pattern(512 * 8, 7));
    const dev = CowBlockDevice.overDevice(inner);
    expect(dev.ioctl(IOCTL.BLOCK_COUNT, 0)).toBe(8);
    dev.writeblocks(3, pattern(512, 80));
    dev.writeblocks(5, pattern(20, 90), 30); // partial block: base block read, then patched
    const fork = dev.fork();
    fork.writeblocks(6, pattern(512, 1));
    expect(readAll(dev)).toEqual(
      Uint8Array.from(pattern(512 * 8, 7), (b, i) =>
        i >= 3 * 512 && i < 4 * 512
          ? pattern(512, 80)[i - 3 * 512]
          : i >= 5 * 512 + 30 && i < 5 * 512 + 50
            ? pattern(20, 90)[i - 5 * 512 - 30]
            : b,
      ),
    );
    expect(dev.changedBlocks()).toEqual([3, 5]);
    expect(fork.changedBlocks()).toEqual([3, 5, 6]);
    expect(inner.data).toEqual(pattern(512 * 8, 7));
    const failing = {
      readblocks: () => -ERRNO.EIO,
      writeblocks: () => 0,
      ioctl: (op: number, arg: number) => inner.ioctl(op, arg),
    };
    expect(CowBlockDevice.overDevice(failing).readblocks(0, new Uint8Array(512))).toBe(-ERRNO.EIO);
  });
});

describe("ImageFileBlockDevice", () => {
  const dir = mkdtempSync(join(tmpdir(), "cardsim-block-"));

  it("is read-only unless opened writable, and never changes the file then", () => {
    const path = join(dir, "card.img");
    writeFileSync(path, pattern(4096, 1));
    const ro = ImageFileBlockDevice.open(path);
    expect(ro.ioctl(IOCTL.BLOCK_COUNT, 0)).toBe(8);
    expect(ro.writeblocks(0, new Uint8Array(512))).toBe(-ERRNO.EROFS);
    const buf = new Uint8Array(512);
    expect(ro.readblocks(3, buf)).toBe(0);
    expect(buf).toEqual(pattern(4096, 1).subarray(1536, 2048));
    ro.close();
    expect(readFileSync(path)).toEqual(Buffer.from(pattern(4096, 1)));

    const rw = ImageFileBlockDevice.open(path, { writable: true });
    expect(rw.writeblocks(1, new Uint8Array(512).fill(0xaa))).toBe(0);
    rw.close();
    expect(readFileSync(path)[600]).toBe(0xaa);
  });

  it("rejects empty and non-sector-multiple images with the size and what was expected", () => {
    const empty = join(dir, "empty.img");
    writeFileSync(empty, new Uint8Array(0));
    expect(() => ImageFileBlockDevice.open(empty)).toThrow(CardImageError);
    expect(() => ImageFileBlockDevice.open(empty)).toThrow(
      /0 bytes; expected a non-zero multiple of the 512-byte/,
    );
    const odd = join(dir, "odd.img");
    writeFileSync(odd, new Uint8Array(1000));
    expect(() => ImageFileBlockDevice.open(odd)).toThrow(/1000 bytes/);
    expect(() => ImageFileBlockDevice.open(join(dir, "missing.img"))).toThrow(/cannot open card image/);
  });
});

describe("OffsetBlockDevice", () => {
  it("maps a partition window onto the inner device", () => {
    const inner = new RamBlockDevice(512, 16);
    const part = new OffsetBlockDevice(inner, 4, 8);
    expect(part.ioctl(IOCTL.BLOCK_COUNT, 0)).toBe(8);
    part.writeblocks(0, pattern(512, 2));
    expect(inner.data.subarray(2048, 2560)).toEqual(pattern(512, 2));
    expect(part.readblocks(8, new Uint8Array(512))).toBe(-ERRNO.EIO);
  });
});
