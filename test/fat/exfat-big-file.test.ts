/**
 * Files over 4 GiB: exFAT sizes are 64-bit in FatFs (FSIZE_t is QWORD with FF_FS_EXFAT), so a 4 GiB +
 * 1 MiB file is written, sought past 4 GiB and read back, and `fsck.exfat -n` finds the card clean;
 * FAT32 stops at 0xFFFFFFFF bytes with a short write, as ff.c's f_write does ("file size cannot reach
 * 4 GiB at FAT volume"). The cards are sparse RAM devices (zero blocks are not stored), the smallest
 * that hold the file (6 GiB); the data is zero but for marker sectors at known offsets, so the image
 * stays small in memory and on disk.
 */
import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { CowBlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { loadFatDriver } from "../../src/fat/drivers.ts";
import { formatExfat } from "../../src/fat/exfat-mkfs.ts";
import { fsck } from "../../src/fat/fsck.ts";
import { formatWith } from "../../src/fat/mkfs.ts";
import { fsckExfatFile, writeSparsePartition } from "./exfat-helpers.ts";
import { tempDir } from "./helpers.ts";

const GIB = 2 ** 30;
const MIB = 2 ** 20;
const dir = tempDir("cardsim-bigfile-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A 512-byte marker naming its own file offset. */
function marker(offset: number): Uint8Array {
  const m = new Uint8Array(512).fill(0xa5);
  new DataView(m.buffer).setFloat64(0, offset, true);
  return m;
}

/** Offsets of the markers: every 512 MiB, and sectors around the 4 GiB line. */
const MARKS = [
  0,
  512 * MIB,
  GIB,
  2 * GIB,
  3 * GIB,
  4 * GIB - 512,
  4 * GIB,
  4 * GIB + 512,
  4 * GIB + MIB - 512,
];

/** Writes `size` bytes (zero but for MARKS) in 64 MiB calls; returns the bytes the engine took. */
function writeBig(f: { write(d: Uint8Array): number }, size: number): number {
  const chunk = new Uint8Array(64 * MIB);
  let done = 0;
  while (done < size) {
    const n = Math.min(chunk.length, size - done);
    const part = chunk.subarray(0, n);
    const inside = MARKS.filter((m) => m >= done && m < done + n);
    for (const m of inside) part.set(marker(m), m - done);
    const wrote = f.write(part);
    for (const m of inside) part.fill(0, m - done, m - done + 512);
    done += wrote;
    if (wrote < n) break;
  }
  return done;
}

describe("files over 4 GiB", () => {
  it("exFAT: a 4 GiB + 1 MiB file written, sought past 4 GiB, read back; fsck.exfat -n clean", async () => {
    const card = CowBlockDevice.blank(512, (6 * GIB) / 512);
    const L = formatExfat(card);
    const driver = await loadFatDriver(new VirtualClock(), "ts-fatfs");
    const size = 4 * GIB + MIB;
    let e = driver.mount(card);
    const f = e.open("/big.bin", { read: false, write: true, disposition: "create-always" });
    expect(writeBig(f, size)).toBe(size);
    f.close();
    e.unmount();

    e = driver.mount(card);
    expect(e.stat("/big.bin").size).toBe(size);
    const r = e.open("/big.bin", { read: true, write: false, disposition: "open-existing" });
    const buf = new Uint8Array(512);
    for (const m of MARKS) {
      r.seek(m);
      expect(r.read(buf), `marker at ${m}`).toBe(512);
      expect(Buffer.from(buf).equals(Buffer.from(marker(m))), `marker at ${m}`).toBe(true);
    }
    r.seek(4 * GIB + 4096); // a zero sector past 4 GiB
    expect(r.read(buf)).toBe(512);
    expect(buf.every((b) => b === 0)).toBe(true);
    r.seek(size - 10);
    expect(r.read(buf)).toBe(10); // the end is where the 64-bit DataLength says
    r.close();
    e.unmount();
    expect(fsck(card).clean).toBe(true);
    const part = writeSparsePartition(dir, "big-part.img", card, L.partitionStart, L.volumeLength);
    const ours = fsckExfatFile(part);
    expect(ours.status, ours.output).toBe(0);
    expect(ours.output).toMatch(/files 1\b/);
  });

  it("FAT32: growth stops at 0xFFFFFFFF bytes with a short write, as FatFs's f_write", async () => {
    const card = CowBlockDevice.blank(512, (6 * GIB) / 512);
    const driver = await loadFatDriver(new VirtualClock(), "ts-fatfs-per-file");
    formatWith(driver, card, { fatType: 32, fats: 2 });
    const e = driver.mount(card);
    const f = e.open("/big.bin", { read: false, write: true, disposition: "create-always" });
    expect(writeBig(f, 4 * GIB + MIB)).toBe(0xffffffff);
    expect(f.write(new Uint8Array(1))).toBe(0); // at the limit nothing more goes in
    f.seek(4 * GIB + 100); // f_lseek clamps to 0xFFFFFFFF on FAT
    expect(f.tell()).toBe(0xffffffff);
    f.close();
    expect(e.stat("/big.bin").size).toBe(0xffffffff);
    e.unmount();
    expect(fsck(card).clean).toBe(true);
  });
});
