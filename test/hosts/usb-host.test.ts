import { describe, expect, it } from "vitest";
import { displayPath } from "../../src/input/index.ts";
import { CowBlockDevice, ERRNO, IOCTL, readAll, type BlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { fsck, mountFat } from "../../src/fat/index.ts";
import { FaultPlanError, parseFaultPlan } from "../../src/faults/index.ts";
import { HostCacheBlockDevice, UsbHost, type UsbHostEvent } from "../../src/hosts/index.ts";
import { OpenMvBoard } from "../../src/openmv/board.ts";
import { openmvFirmware470 } from "../../src/openmv/firmware.ts";
import { fsckFatBytes, sha256, tempDir } from "../fat/helpers.ts";

const SS = 512;

function issuesOf(input: unknown): string[] {
  try {
    parseFaultPlan(input);
  } catch (e) {
    expect(e).toBeInstanceOf(FaultPlanError);
    return (e as FaultPlanError).issues.map((i) => `${displayPath(i.path)}: ${i.message}`);
  }
  throw new Error("plan was accepted");
}

/** A 4 MiB card formatted by the camera at boot (MicroPython mkfs: FAT12, 2 KiB clusters). */
async function camera(clock = new VirtualClock()) {
  const card = CowBlockDevice.blank(SS, 8192);
  const board = await OpenMvBoard.boot({ clock, card, firmware: openmvFirmware470, seed: 1, format: true });
  const img = board.sensor.snapshot();
  img.compress(50);
  return { clock, card, board, jpeg: img.bytearray().slice() };
}

async function hostFor(card: BlockDevice, clock: VirtualClock, usb: object, seed = 7): Promise<UsbHost> {
  const plan = parseFaultPlan({ seed, faults: [{ kind: "usb-host", ...usb }] });
  const host = await UsbHost.fromPlan(plan, { device: card, clock });
  if (!host) throw new Error("no usb-host in plan");
  return host;
}

function save(board: OpenMvBoard, path: string, data: Uint8Array): void {
  const f = board.open(path, "wb");
  f.write(data);
  f.close();
}

function names(e: UsbHostEvent | undefined): string[] | undefined {
  return e?.result.entries?.map((x) => `${x.name}:${x.size}`);
}

describe("HostCacheBlockDevice (the PC's block cache)", () => {
  const sector = (v: number): Uint8Array => new Uint8Array(SS).fill(v);
  const read = (d: BlockDevice, lba: number): number => {
    const b = new Uint8Array(SS);
    expect(d.readblocks(lba, b)).toBe(0);
    return b[0];
  };

  it("keeps serving a sector it read after the card changed, until dropAfterMicros has passed", () => {
    const clock = new VirtualClock();
    const card = CowBlockDevice.blank(SS, 64);
    card.writeblocks(3, sector(1));
    const never = new HostCacheBlockDevice(card, { clock });
    const timed = new HostCacheBlockDevice(card, { clock, dropAfterMicros: 1000 });
    expect([read(never, 3), read(timed, 3)]).toEqual([1, 1]);
    card.writeblocks(3, sector(2)); // the camera rewrites the sector
    clock.advance(999);
    expect([read(never, 3), read(timed, 3)]).toEqual([1, 1]);
    clock.advance(1);
    expect([read(never, 3), read(timed, 3)]).toEqual([1, 2]);
    expect(never.stats).toMatchObject({ hits: 2, misses: 1 });
  });

  it("write-back: holds writes until due, then flushes ascending with contiguous runs merged", () => {
    const clock = new VirtualClock();
    const card = CowBlockDevice.blank(SS, 64);
    const writes: [number, number][] = [];
    const spy: BlockDevice = {
      readblocks: (n, b, o) => card.readblocks(n, b, o),
      writeblocks: (n, b, o) => (writes.push([n, b.length / SS]), card.writeblocks(n, b, o)),
      ioctl: (op, a) => card.ioctl(op, a),
    };
    const c = new HostCacheBlockDevice(spy, { clock, flushDelayMicros: 5000 });
    c.writeblocks(11, sector(9));
    c.writeblocks(10, sector(8));
    clock.advance(1000);
    c.writeblocks(20, sector(7));
    expect(read(card, 10)).toBe(0); // nothing on the card yet
    expect(read(c, 10)).toBe(8); // the PC sees its own writes
    expect(c.ioctl(IOCTL.SYNC, 0)).toBe(0); // no flushOnSync: a sync barrier flushes nothing
    expect(c.nextFlushDueMicros()).toBe(5000);
    expect(c.flushDue(4999)).toEqual({ flushed: 0, failed: 0, errno: 0 });
    expect(c.flushDue(5000)).toEqual({ flushed: 2, failed: 0, errno: 0 });
    expect(writes).toEqual([[10, 2]]);
    expect(c.dirtySectors()).toEqual([20]);
    expect(c.flushAll().flushed).toBe(1);
    expect([read(card, 10), read(card, 11), read(card, 20)]).toEqual([8, 9, 7]);
  });

  it("write-through writes at once; flushOnSync makes ioctl(3) flush; failed write-backs are counted and dropped", () => {
    const clock = new VirtualClock();
    const card = CowBlockDevice.blank(SS, 64);
    const through = new HostCacheBlockDevice(card, { clock, write: "write-through" });
    through.writeblocks(5, sector(4));
    expect(read(card, 5)).toBe(4);
    const onSync = new HostCacheBlockDevice(card, { clock, flushOnSync: true });
    onSync.writeblocks(6, sector(3));
    expect(read(card, 6)).toBe(0);
    expect(onSync.ioctl(IOCTL.SYNC, 0)).toBe(0);
    expect(read(card, 6)).toBe(3);
    const failing = new HostCacheBlockDevice(
      { readblocks: () => 0, writeblocks: () => -ERRNO.EIO, ioctl: (op, a) => card.ioctl(op, a) },
      { clock },
    );
    failing.writeblocks(1, sector(1));
    expect(failing.flushAll()).toEqual({ flushed: 0, failed: 1, errno: ERRNO.EIO });
    expect(failing.isCached(1)).toBe(false);
  });

  it("partial-sector reads and writes go through the cached sector", () => {
    const clock = new VirtualClock();
    const card = CowBlockDevice.blank(SS, 8);
    const c = new HostCacheBlockDevice(card, { clock });
    expect(c.writeblocks(2, Uint8Array.of(1, 2, 3), 510)).toBe(0); // spans sectors 2 and 3
    const out = new Uint8Array(3);
    expect(c.readblocks(2, out, 510)).toBe(0);
    expect([...out]).toEqual([1, 2, 3]);
    expect(c.dirtySectors()).toEqual([2, 3]);
    c.flushAll();
    expect(card.block(2)[510]).toBe(1);
    expect(card.block(3)[0]).toBe(3);
  });
});

describe("UsbHost: a PC on the same card over USB mass storage", () => {
  it("lists the card as of its cache while the camera writes: stale until the cache drops or the PC remounts", async () => {
    for (const dropAfterMicros of ["never", 200_000] as const) {
      const { clock, card, board, jpeg } = await camera();
      const host = await hostFor(card, clock, {
        mountAt: { afterMark: "a-saved" },
        cache: { dropAfterMicros },
        ops: [
          { at: { afterMark: "a-saved" }, op: "list" },
          { at: { afterMark: "b-saved" }, op: "list" },
          { at: { afterMark: "b-saved" }, op: "copy_out", path: "/B.JPG" },
          { at: { afterMark: "replug" }, op: "eject" },
          { at: { afterMark: "replug" }, op: "mount" },
          { at: { afterMark: "replug" }, op: "list" },
        ],
      });
      host.attach(board);
      save(board, "A.JPG", jpeg);
      host.mark("a-saved");
      board.utime.sleep_ms(500);
      save(board, "B.JPG", jpeg.subarray(0, 4000));
      host.mark("b-saved");
      board.utime.sleep_ms(500);
      host.mark("replug");
      board.utime.sleep_ms(10);
      const ev = host.events.filter((e) => e.op !== "flush");
      expect(ev.map((e) => `${e.op}@${e.timeMicros}`)).toEqual([
        "mount@33333", // the first sleep starts after the snapshot (33,333 µs)
        "list@33333",
        "list@533333",
        "copy_out@533333",
        "eject@1033333",
        "mount@1033333",
        "list@1033333",
      ]);
      expect(names(ev[1])).toEqual([`A.JPG:${jpeg.length}`]);
      if (dropAfterMicros === "never") {
        // The PC's cached root directory still has only A.JPG: B.JPG is invisible to it.
        expect(names(ev[2])).toEqual([`A.JPG:${jpeg.length}`]);
        expect(ev[3].result).toEqual({ ok: false, error: "FR_NO_FILE" });
      } else {
        expect(names(ev[2])).toEqual([`A.JPG:${jpeg.length}`, "B.JPG:4000"]);
        expect(ev[3].result).toEqual({ ok: true, size: 4000, sha256: sha256(jpeg.subarray(0, 4000)) });
        expect(host.copies.get("/B.JPG")).toEqual(jpeg.subarray(0, 4000));
      }
      // After a replug (eject + mount: a fresh cache) the PC sees the card as it is.
      expect(names(ev[6])).toEqual([`A.JPG:${jpeg.length}`, "B.JPG:4000"]);
      expect(host.pendingActions).toBe(0);
      expect(fsck(card).findings).toEqual([]);
    }
  });

  it("write-back: the PC's file reaches the card only when its flush falls due, during a camera sleep", async () => {
    const { clock, card, board } = await camera();
    const host = await hostFor(card, clock, {
      mountAt: { atMicros: 100_000 },
      cache: { flushDelayMicros: 1_000_000 },
      ops: [{ at: { atMicros: 150_000 }, op: "write", path: "/PC.BIN", bytes: 5000 }],
    });
    host.attach(board);
    board.utime.sleep_ms(300); // 33,333 .. 333,333 µs: mount at 100,000, write at 150,000
    expect(host.events.map((e) => `${e.op}@${e.timeMicros}`)).toEqual(["mount@100000", "write@150000"]);
    expect(host.cache!.dirtySectorCount).toBeGreaterThan(0);
    expect(board.os.listdir("/sdcard")).toEqual([]); // nothing on the card yet
    clock.advance(2_000_000); // the camera computes: no USB servicing, so no flush either
    expect(host.events).toHaveLength(2);
    board.utime.sleep_ms(10);
    const flush = host.events[2];
    expect(flush).toMatchObject({
      op: "flush",
      timeMicros: 2_333_333,
      result: { ok: true, failedSectors: 0 },
    });
    expect(host.cache!.dirtySectorCount).toBe(0);
    // The card now holds PC.BIN, byte for byte (a fresh mount, as after a reboot)...
    const fresh = await mountFat(card, { clock });
    const f = fresh.open("/PC.BIN", { read: true, write: false, disposition: "open-existing" });
    const back = new Uint8Array(f.size());
    expect(f.read(back)).toBe(5000);
    f.close();
    expect(back).toEqual(host.written.get("/PC.BIN"));
    expect(fsck(card).findings).toEqual([]);
    // ...but the camera's FatFs window still holds the root directory sector it read at listdir:
    // the camera is stale too, and does not see the PC's file until it remounts.
    expect(() => board.open("PC.BIN", "rb")).toThrow("ENOENT");
    expect(board.os.listdir("/sdcard")).toEqual([]);
  });

  /**
   * The camera has CAM2.JPG open: its FatFs window holds the FAT sector with CAM2's first cluster
   * allocated (dirty, not yet on the card). During the camera's sleep the PC mounts, writes PC.BIN
   * (allocating from the card's FAT, where that cluster is still free) and ejects. Then the camera
   * finishes CAM2 and closes it: its window writes the FAT sector back (its chain from cluster 5),
   * and re-reads the root directory (now holding PC.BIN) to add CAM2. Both entries start at cluster 5.
   */
  async function crossLink(seed: number) {
    const { clock, card, board, jpeg } = await camera();
    const host = await hostFor(
      card,
      clock,
      {
        mountAt: { afterMark: "cam2-open" },
        cache: { write: "write-back", flushDelayMicros: 1_000_000 },
        ops: [
          { at: { afterMark: "cam2-open" }, op: "list" },
          { at: { afterMark: "cam2-open" }, op: "write", path: "/PC.BIN", bytes: 3000 },
          { at: { afterMark: "cam2-open" }, op: "eject" },
        ],
      },
      seed,
    );
    host.attach(board);
    save(board, "CAM1.JPG", jpeg);
    const f = board.open("CAM2.JPG", "wb");
    f.write(jpeg.subarray(0, 1024)); // two whole sectors: FatFs writes them straight to cluster 5
    host.mark("cam2-open");
    board.utime.sleep_ms(500); // USB servicing: the PC's schedule runs here
    f.write(jpeg.subarray(1024));
    f.close();
    return { clock, card, board, jpeg, host };
  }

  it("cross-links clusters: the PC allocates from its view of the FAT while the camera's FAT sector is cached", async () => {
    const { card, board, jpeg, host } = await crossLink(7);
    expect(host.events.map((e) => `${e.op} ${e.path ?? ""} ${e.result.ok}`)).toEqual([
      "mount  true",
      "list / true",
      "write /PC.BIN true",
      "eject  true",
    ]);
    // The PC saw CAM2.JPG's entry (FatFs wrote it at f_open) but not its cluster.
    expect(names(host.events[1])).toEqual([`CAM1.JPG:${jpeg.length}`, "CAM2.JPG:0"]);
    expect(host.events[3].result.flushedSectors).toBeGreaterThan(0);

    const result = fsck(card);
    expect(result.findings).toEqual([
      {
        kind: "cross-linked-clusters",
        message: "/PC.BIN: cluster 5 is also used by /CAM2.JPG",
        path: "/PC.BIN",
        cluster: 5,
      },
    ]);
    const oracle = fsckFatBytes(readAll(card), tempDir("cardsim-usb-"));
    expect(oracle.status).toBe(1);
    expect(oracle.output).toMatch(/\/CAM2\.JPG\s+and\s+\/PC\.BIN\s+share clusters\./);

    // The silent mechanism: the camera reads its own file back and gets the PC's bytes at the start
    // (the PC's flush overwrote cluster 5's first sectors), its own bytes after.
    const pc = host.written.get("/PC.BIN")!;
    const r = board.open("CAM2.JPG", "rb");
    const back = r.read();
    r.close();
    expect(back).toHaveLength(jpeg.length);
    expect(back.subarray(0, 1024)).toEqual(pc.subarray(0, 1024));
    expect(back.subarray(1024)).toEqual(jpeg.subarray(1024));
    // ...so its header is no longer FF D8 and image.Image refuses it (firmware 4.7.0 message).
    expect(() => board.image.Image("CAM2.JPG")).toThrow("Unsupported format!");
    // And what the user gets copying PC.BIN off the PC after a replug (a fresh cache): its first
    // 1 KiB, then the camera's JPEG where the camera's later writes landed.
    host.perform({ op: "mount" });
    const copy = host.perform({ op: "copy_out", path: "/PC.BIN" });
    const expected = Uint8Array.from([...pc.subarray(0, 1024), ...jpeg.subarray(1024, 3000)]);
    expect(copy.result).toEqual({ ok: true, size: 3000, sha256: sha256(expected) });
    expect(host.copies.get("/PC.BIN")).toEqual(expected);
  });

  it("loses a directory entry that no fsck can see: the PC's delayed write-back replaces the camera's newer FAT and directory sectors", async () => {
    // The reporter's pipeline pattern: save, os.sync(), sleep_ms(500). The PC writes PC.BIN during the
    // first sleep (held in its write-back cache for 1 s); the camera then saves CAM2.JPG, allocating
    // cluster 5 again from the card's FAT; the PC's flush, due in the second sleep, writes back its
    // FAT and root directory sectors (CAM1 + PC.BIN) over the camera's (CAM1 + CAM2), and its data
    // over CAM2's first sectors.
    const { clock, card, board, jpeg } = await camera();
    const host = await hostFor(card, clock, {
      mountAt: { afterMark: "cam1" },
      cache: { write: "write-back", flushDelayMicros: 1_000_000 },
      ops: [{ at: { afterMark: "cam1" }, op: "write", path: "/PC.BIN", bytes: 3000 }],
    });
    host.attach(board);
    const step = (path: string): void => {
      save(board, path, jpeg);
      board.os.sync();
      board.utime.sleep_ms(500);
    };
    host.mark("cam1");
    step("CAM1.JPG");
    step("CAM2.JPG");
    expect(host.events.map((e) => `${e.op}@${e.timeMicros} ${e.result.ok}`)).toEqual([
      "mount@33333 true",
      "write@33333 true",
      "flush@1033333 true", // 1 s after the write, at the end of the second sleep
    ]);
    expect(fsck(card).findings).toEqual([]);
    const oracle = fsckFatBytes(readAll(card), tempDir("cardsim-usb-"));
    expect(oracle).toMatchObject({ status: 0 });
    expect(oracle.output).toContain("2 files, 5/2038 clusters");
    // Before a reboot the camera's FatFs window still holds its own root directory sector: CAM2.JPG
    // is listed, but its first cluster now holds the PC's bytes, and image.Image refuses it.
    expect(board.os.listdir("/sdcard")).toEqual(["CAM1.JPG", "CAM2.JPG"]);
    expect(() => board.image.Image("CAM2.JPG")).toThrow("Unsupported format!");
    const pc = host.written.get("/PC.BIN")!;
    const r = board.open("CAM2.JPG", "rb");
    expect(r.read(3000)).toEqual(pc);
    // Reading on follows the card's FAT, where the PC's chain ends after 2 clusters: FatFs stops with
    // FR_INT_ERR (a detected error, EIO) instead of returning the rest of CAM2's 3 clusters.
    expect(() => r.read()).toThrow("[Errno 5] EIO");
    r.close();
    // That FAT read moved the camera's window off its stale directory sector: CAM2.JPG is gone now,
    // and after a reboot (a fresh mount) too: the lost directory entry.
    expect(board.os.listdir("/sdcard")).toEqual(["CAM1.JPG", "PC.BIN"]);
    const fresh = await mountFat(card, { clock });
    expect(fresh.readdir("/").map((e) => `${e.name}:${e.size}`)).toEqual([
      `CAM1.JPG:${jpeg.length}`,
      "PC.BIN:3000",
    ]);
    const f = fresh.open("/PC.BIN", { read: true, write: false, disposition: "open-existing" });
    const pcBack = new Uint8Array(3000);
    expect(f.read(pcBack)).toBe(3000);
    f.close();
    expect(pcBack).toEqual(pc);
  });

  it("is deterministic: the same schedule and seed give the same image; another seed another", async () => {
    const a = sha256(readAll((await crossLink(7)).card));
    const b = sha256(readAll((await crossLink(7)).card));
    const c = sha256(readAll((await crossLink(8)).card));
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it("runs only when polled: time triggers at the runner's poll, mark triggers only inside a sleep", async () => {
    const { clock, card } = await camera();
    const host = await hostFor(card, clock, {
      mountAt: { atMicros: 100_000 },
      ops: [{ at: { afterMark: "m" }, op: "list" }],
    });
    host.poll();
    expect(host.events).toEqual([]);
    clock.advance(100_000);
    host.mark("m");
    host.poll(); // late: the mount runs now; the mark-triggered list waits for a sleep
    expect(host.events.map((e) => `${e.op}@${e.timeMicros}`)).toEqual(["mount@133333"]);
    host.runDue(clock, { untilMicros: clock.nowMicros + 10, inSleep: true });
    expect(host.events.map((e) => e.op)).toEqual(["mount", "list"]);
    expect(host.perform({ op: "copy_out", path: "/NOPE.TXT" }).result).toEqual({
      ok: false,
      error: "FR_NO_FILE",
    });
  });
});

describe("UsbHost on a card it cannot mount", () => {
  it("records the mount error and answers later actions with 'not mounted'", async () => {
    const clock = new VirtualClock();
    const card = CowBlockDevice.blank(SS, 256); // never formatted
    const host = await hostFor(card, clock, {
      mountAt: { atMicros: 0 },
      ops: [
        { at: { atMicros: 0 }, op: "list" },
        { at: { atMicros: 10 }, op: "write", path: "/X", bytes: 1 },
        { at: { atMicros: 10 }, op: "eject" },
      ],
    });
    clock.advance(10);
    host.poll();
    expect(host.events).toEqual([
      { timeMicros: 10, op: "mount", index: 0, result: { ok: false, error: "FR_NO_FILESYSTEM" } },
      { timeMicros: 10, op: "list", path: "/", index: 1, result: { ok: false, error: "not mounted" } },
      { timeMicros: 10, op: "write", path: "/X", index: 2, result: { ok: false, error: "not mounted" } },
      { timeMicros: 10, op: "eject", index: 3, result: { ok: false, error: "not mounted" } },
    ]);
    expect(card.changedBlockCount).toBe(0);
  });
});

describe("usb-host schedule validation", () => {
  it("accepts a schedule with defaults filled in, as plain data", () => {
    const plan = parseFaultPlan({
      faults: [{ kind: "usb-host", mountAt: { atMicros: 0 }, ops: [{ at: { afterMark: "x" }, op: "list" }] }],
    });
    expect(plan.faults[0]).toEqual({
      kind: "usb-host",
      mountAt: { atMicros: 0 },
      cache: { dropAfterMicros: "never", write: "write-back", flushOnSync: false },
      ops: [{ at: { afterMark: "x" }, op: "list" }],
    });
    expect(parseFaultPlan(JSON.parse(JSON.stringify(plan)))).toEqual(plan);
  });

  it("names every bad field and the allowed values", () => {
    expect(issuesOf({ faults: [{ kind: "usb-host" }] })).toEqual([
      "faults[0].mountAt: missing required field (object)",
    ]);
    expect(
      issuesOf({
        faults: [
          {
            kind: "usb-host",
            mountAt: { atMicros: 5 },
            cache: { dropAfterMicros: -1, write: "write-through", flushDelayMicros: 4, foo: 1 },
            ops: [
              { at: { atMicros: 3 }, op: "write", path: "/a" },
              { at: { afterMark: "x" }, op: "eject", path: "/b" },
              { at: { atMicros: 9, afterMark: "y" }, op: "copy" },
              { at: { afterMark: "" }, op: "copy_out", bytes: -2 },
            ],
          },
        ],
      }),
    ).toEqual([
      "faults[0].cache.dropAfterMicros: expected value > 0; got number -1",
      "faults[0].cache.foo: unknown field 'foo'; expected one of dropAfterMicros, write, flushDelayMicros, flushOnSync",
      "faults[0].cache.flushDelayMicros: flushDelayMicros needs write 'write-back'",
      "faults[0].ops[0].bytes: op 'write' needs bytes",
      "faults[0].ops[1].path: op 'eject' takes no path",
      "faults[0].ops[2].at: exactly one of atMicros, afterMark is required",
      'faults[0].ops[2].op: expected one of mount, list, copy_out, delete, write, eject; got string "copy"',
      'faults[0].ops[3].at.afterMark: expected length >= 1; got string ""',
      "faults[0].ops[3].bytes: expected value >= 0; got number -2",
      "faults[0].ops[3].path: op 'copy_out' needs a path",
      "faults[0].ops[3].bytes: bytes needs op 'write'",
    ]);
    expect(
      issuesOf({
        faults: [
          {
            kind: "usb-host",
            mountAt: { atMicros: 5 },
            ops: [
              { at: { atMicros: 3 }, op: "list" },
              { at: { afterMark: "x" }, op: "list" },
              { at: { atMicros: 7 }, op: "list" },
              { at: { atMicros: 6 }, op: "list" },
            ],
          },
        ],
      }),
    ).toEqual([
      "faults[0].ops[0].at.atMicros: must be >= 5 (the time of the action before it), got 3",
      "faults[0].ops[3].at.atMicros: must be >= 7 (the time of the action before it), got 6",
    ]);
    expect(
      issuesOf({
        faults: [
          { kind: "usb-host", mountAt: { afterMark: "a", occurrence: 1 } },
          { kind: "usb-host", mountAt: { atMicros: 1 }, cache: { dropAfterMicros: "sometimes" } },
        ],
      }),
    ).toEqual([
      "faults[1].cache.dropAfterMicros: expected a positive integer (µs) or 'never'; got string \"sometimes\"",
      "faults[1].kind: at most one usb-host fault per plan",
    ]);
    expect(
      issuesOf({
        faults: [
          { kind: "usb-host", mountAt: { atMicros: 0 } },
          { kind: "usb-host", mountAt: { atMicros: 1 } },
        ],
      }),
    ).toEqual(["faults[1].kind: at most one usb-host fault per plan"]);
    expect(issuesOf({ faults: [{ kind: "usb-host", mountAt: { atMicros: 0, occurrence: 2 } }] })).toEqual([
      "faults[0].mountAt.occurrence: occurrence needs afterMark",
    ]);
  });
});
