import { describe, expect, it } from "vitest";
import { CowBlockDevice, ERRNO, IOCTL, readAll } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import {
  generic32gSdhcConfig,
  SdCard,
  SdCardConfigError,
  tiny64mCachedTestConfig,
  tiny64mTestConfig,
  type SdCardConfig,
} from "../../src/card/index.ts";

const sector = (v: number, n = 1): Uint8Array => new Uint8Array(512 * n).fill(v);
const read = (card: SdCard, lba: number, n = 1): Uint8Array => {
  const buf = new Uint8Array(512 * n);
  expect(card.readblocks(lba, buf)).toBe(0);
  return buf;
};

describe("SdCard", () => {
  it("answers the block-device protocol with its geometry", () => {
    const card = new SdCard(generic32gSdhcConfig, new VirtualClock());
    expect(card.ioctl(IOCTL.BLOCK_SIZE, 0)).toBe(512);
    expect(card.ioctl(IOCTL.BLOCK_COUNT, 0)).toBe(62_333_952);
    expect(card.ioctl(IOCTL.INIT, 0)).toBe(0);
    expect(card.ioctl(99, 0)).toBe(-ERRNO.EINVAL);
    expect(card.readblocks(62_333_952, sector(0))).toBe(-ERRNO.EIO);
  });

  it("advances the virtual clock by each op's cost from the config", () => {
    const clock = new VirtualClock();
    const card = new SdCard(tiny64mTestConfig, clock);
    const t = tiny64mTestConfig.timing;
    card.readblocks(0, new Uint8Array(4 * 512));
    expect(clock.nowMicros).toBe(t.commandMicros + t.readAccessMicros + 4 * t.transferMicrosPerSector);
    const before = clock.nowMicros;
    card.writeblocks(30, sector(1, 4)); // sectors 30..33 span pages 0 and 1 (32 sectors per page)
    expect(clock.nowMicros - before).toBe(
      t.commandMicros + 4 * t.transferMicrosPerSector + 2 * t.writeBusyMicrosPerPage,
    );
    const beforeSync = clock.nowMicros;
    expect(card.ioctl(IOCTL.SYNC, 0)).toBe(0);
    expect(clock.nowMicros).toBe(beforeSync); // no cache: ioctl(3) is free, as on mimxrt
  });

  it("fails every op with EIO while powered off, and keeps its media across the cycle", () => {
    const card = new SdCard(tiny64mTestConfig, new VirtualClock());
    card.writeblocks(5, sector(7));
    card.powerOff();
    expect(card.readblocks(5, sector(0))).toBe(-ERRNO.EIO);
    expect(card.writeblocks(5, sector(8))).toBe(-ERRNO.EIO);
    expect(card.ioctl(IOCTL.BLOCK_COUNT, 0)).toBe(-ERRNO.EIO);
    card.powerOn();
    expect(read(card, 5)).toEqual(sector(7));
  });

  it("volatile cache: reads see cached data, power loss drops it, ioctl(3) makes it durable (and costs time)", () => {
    const clock = new VirtualClock();
    const card = new SdCard(tiny64mCachedTestConfig, clock);
    card.writeblocks(1, sector(1));
    card.writeblocks(2, sector(2));
    expect(card.cachedSectorCount).toBe(2);
    expect(read(card, 1)).toEqual(sector(1));
    expect(card.media.block(1)).toEqual(sector(0));
    const t = clock.nowMicros;
    expect(card.ioctl(IOCTL.SYNC, 0)).toBe(0);
    const timing = tiny64mCachedTestConfig.timing;
    expect(clock.nowMicros - t).toBe(timing.flushMicros + 2 * timing.flushMicrosPerSector);
    card.writeblocks(2, sector(3));
    card.powerOff();
    card.powerOn();
    expect(read(card, 1)).toEqual(sector(1));
    expect(read(card, 2)).toEqual(sector(2)); // the unflushed rewrite was lost
  });

  it("volatile cache: a full cache writes its oldest sector back", () => {
    const config: SdCardConfig = { ...tiny64mTestConfig, cache: { sectors: 2 } };
    const card = new SdCard(config, new VirtualClock());
    card.writeblocks(10, sector(1, 3)); // 10, 11, 12: 10 is written back
    card.powerOff();
    card.powerOn();
    expect(read(card, 10, 3)).toEqual(new Uint8Array([...sector(1), ...sector(0), ...sector(0)]));
  });

  it("handles byte-offset writes through the cache", () => {
    const card = new SdCard(tiny64mCachedTestConfig, new VirtualClock());
    card.writeblocks(4, sector(9, 2));
    card.writeblocks(4, new Uint8Array(600).fill(5), 300);
    const want = sector(9, 3);
    want.fill(0, 1024);
    want.fill(5, 300, 900);
    expect(read(card, 4, 3)).toEqual(want);
  });

  it("forks cheaply and independently from a CoW image", () => {
    const image = CowBlockDevice.blank(512, tiny64mTestConfig.capacitySectors);
    image.writeblocks(0, sector(0xee));
    const card = new SdCard(tiny64mTestConfig, new VirtualClock(), { storage: image });
    card.writeblocks(1, sector(1));
    expect(image.block(1)).toEqual(sector(0)); // the caller's image is never modified
    const copy = card.fork();
    copy.writeblocks(1, sector(2));
    expect(read(card, 1)).toEqual(sector(1));
    expect(read(copy, 1)).toEqual(sector(2));
    expect(read(copy, 0)).toEqual(sector(0xee));
    expect(readAll(card.untimed()).length).toBe(64 * 1024 * 1024);
  });

  it("rejects inconsistent configs naming the field", () => {
    expect(() => new SdCard({ ...tiny64mTestConfig, programPageBytes: 1000 }, new VirtualClock())).toThrow(
      SdCardConfigError,
    );
    expect(() => new SdCard({ ...tiny64mTestConfig, programPageBytes: 1000 }, new VirtualClock())).toThrow(
      "SdCardConfig.programPageBytes: must be a multiple of sectorBytes (512)",
    );
    expect(
      () =>
        new SdCard(
          { ...tiny64mTestConfig, timing: { ...tiny64mTestConfig.timing, commandMicros: -1 } },
          new VirtualClock(),
        ),
    ).toThrow("SdCardConfig.timing.commandMicros: expected a non-negative integer of µs, got -1");
  });
});
