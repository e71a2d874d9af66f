/**
 * ts-fatfs in `sdfat` mode (TEENSY_SDFAT): SdFat's separate FAT cache. Same bytes on the card as
 * FatFs's tiny window once everything is synced, checked by fsck.fat and mtools; a different order
 * on the way: at f_sync the directory sector goes before the FAT sectors, so a cut between them leaves
 * an entry pointing at clusters the FAT still calls free (DEVICE-FACTS, "Teensy 4.1 storage").
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CowBlockDevice, readAll } from "../../src/block/index.ts";
import { Prng, VirtualClock } from "../../src/clock/index.ts";
import { FatError, type FatEngine } from "../../src/fat/fat-engine.ts";
import { fsck } from "../../src/fat/fsck.ts";
import { formatWith } from "../../src/fat/mkfs.ts";
import { TEENSY_SDFAT, TsFatfsDriver, type TsFatfsConfig } from "../../src/fat/ts-fatfs/index.ts";
import { LoggingBlockDevice } from "../../src/fat/differential/logging-device.ts";
import { bytes, fsckFat, layoutOf, mcopyOut, tempDir } from "./helpers.ts";

const TINY_R015: TsFatfsConfig = { window: "tiny", revision: "R0.15", host: "js-fatfs" };
const MiB = 1024 * 1024;
const dir = tempDir("cardsim-sdfat-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function card(config: TsFatfsConfig, mib: number, fatType: 16 | 32) {
  const dev = CowBlockDevice.blank(512, (mib * MiB) / 512);
  const drv = new TsFatfsDriver(config, new VirtualClock());
  formatWith(drv, dev, { fatType, fats: 2 });
  return { drv, dev };
}

/** A seeded workload of creates, appends, rewrites, renames, deletes and directories; returns reads. */
function workload(e: FatEngine, seed: number): string[] {
  const rng = new Prng(seed);
  const names: string[] = [];
  const seen: string[] = [];
  e.mkdir("/D");
  for (let step = 0; step < 40; step++) {
    const pick = rng.nextInt(6);
    const name = names.length > 0 && pick > 1 ? names[rng.nextInt(names.length)] : `/D/F${step}.BIN`;
    try {
      if (pick <= 2) {
        const f = e.open(name, {
          read: false,
          write: true,
          disposition: pick === 2 ? "open-append" : "create-always",
        });
        const data = bytes(seed * 1000 + step, 1 + rng.nextInt(9000));
        for (let o = 0; o < data.length; o += 700) f.write(data.subarray(o, o + 700));
        if (rng.nextInt(3) === 0) f.sync();
        f.close();
        if (!names.includes(name)) names.push(name);
      } else if (pick === 3 && names.length > 0) {
        const to = `/D/R${step}.BIN`;
        e.rename(name, to);
        names[names.indexOf(name)] = to;
      } else if (pick === 4 && names.length > 1) {
        e.unlink(name);
        names.splice(names.indexOf(name), 1);
      } else {
        const f = e.open(name, { read: true, write: false, disposition: "open-existing" });
        const b = new Uint8Array(f.size());
        f.read(b);
        f.close();
        seen.push(`${name}:${b.length}:${b.reduce((a, x) => (a * 31 + x) >>> 0, 7)}`);
      }
    } catch (err) {
      if (!(err instanceof FatError)) throw err;
      seen.push(`${name}:FRESULT ${err.fresult}`);
    }
  }
  seen.push(
    e
      .readdir("/D")
      .map((x) => `${x.name}=${x.size}`)
      .join(","),
  );
  return seen;
}

/** Every file under /D with its bytes (the engine is unmounted after). */
function contents(e: FatEngine): Record<string, string> {
  const out: Record<string, string> = {};
  for (const x of e.readdir("/D")) {
    if (x.isDirectory) continue;
    const f = e.open(`/D/${x.name}`, { read: true, write: false, disposition: "open-existing" });
    const b = new Uint8Array(f.size());
    f.read(b);
    f.close();
    out[x.name] = Buffer.from(b).toString("base64");
  }
  e.unmount();
  return out;
}

describe("ts-fatfs sdfat mode (SdFat's separate FAT cache)", () => {
  it.each([
    [16, 16 as const, [1, 2, 3]],
    [64, 32 as const, [1]],
  ])(
    "a %i MiB FAT%i card ends with the FATs, directories and file contents of FatFs's tiny window; fsck.fat and mtools agree",
    (mib, fatType, seeds) => {
      for (const seed of seeds) {
        const sd = card(TEENSY_SDFAT, mib, fatType);
        const tiny = card(TINY_R015, mib, fatType);
        const es = sd.drv.mount(sd.dev);
        const et = tiny.drv.mount(tiny.dev);
        expect(workload(es, seed)).toEqual(workload(et, seed));
        es.unmount();
        et.unmount();
        // Same FATs, boot sector and root directory; file contents equal through the engine (the slack
        // past a file's end is whatever the window held: FatFs's tiny window leaks FAT bytes there).
        const img = readAll(sd.dev);
        const meta = layoutOf(img).firstDataSector * 512;
        expect(
          Buffer.compare(img.subarray(0, meta), readAll(tiny.dev).subarray(0, meta)),
          `seed ${seed}`,
        ).toBe(0);
        expect(contents(sd.drv.mount(sd.dev, { readOnly: true }))).toEqual(
          contents(tiny.drv.mount(tiny.dev, { readOnly: true })),
        );
        expect(fsck(sd.dev).clean).toBe(true);
        const path = join(dir, `sd-${mib}-${seed}.img`);
        writeFileSync(path, img);
        expect(fsckFat(path).status, fsckFat(path).output).toBe(0);
        // One file read back by an independent reader.
        const e = sd.drv.mount(sd.dev, { readOnly: true });
        const first = e.readdir("/D").find((x) => !x.isDirectory && x.size > 0);
        if (first) {
          const f = e.open(`/D/${first.name}`, { read: true, write: false, disposition: "open-existing" });
          const b = new Uint8Array(f.size());
          f.read(b);
          f.close();
          expect(Buffer.compare(mcopyOut(path, `/D/${first.name}`), b)).toBe(0);
        }
        e.unmount();
      }
    },
  );

  it("f_sync writes the directory sector before the FAT sector (tiny: the FAT goes first)", () => {
    const order = (config: TsFatfsConfig): string[] => {
      const { drv, dev } = card(config, 16, 16);
      const L = layoutOf(readAll(dev));
      const log = new LoggingBlockDevice(dev);
      const e = drv.mount(log);
      const f = e.open("/A.POV", { read: false, write: true, disposition: "create-always" });
      f.write(bytes(5, 34_584)); // 360x32 RGB + header: 17 clusters of 2 KiB
      const from = log.ops.length;
      f.close();
      const fatEnd = L.reservedSectors + L.numFats * L.fatSectors;
      return log.ops
        .slice(from)
        .filter((o) => o.kind === "write")
        .map((o) =>
          o.at < L.reservedSectors
            ? "boot"
            : o.at < fatEnd
              ? "fat"
              : o.at < L.firstDataSector
                ? "dir"
                : "data",
        )
        .filter((r, i, a) => r !== a[i - 1]);
    };
    expect(order(TEENSY_SDFAT)).toEqual(["data", "dir", "fat"]);
    expect(order(TINY_R015)).not.toEqual(["data", "dir", "fat"]);
    expect(order(TINY_R015).indexOf("fat")).toBeLessThan(order(TINY_R015).indexOf("dir"));
  });

  it("a cut after the directory write leaves an entry pointing at clusters the FAT calls free", () => {
    const { drv, dev } = card(TEENSY_SDFAT, 16, 16);
    const L = layoutOf(readAll(dev));
    const fatEnd = L.reservedSectors + L.numFats * L.fatSectors;
    // A device that drops every write once close has written the directory sector (a cut there).
    let armed = false;
    let cut = false;
    const dying = {
      readblocks: (n: number, b: Uint8Array, o?: number) => dev.readblocks(n, b, o),
      writeblocks: (n: number, b: Uint8Array, o?: number) => {
        if (cut) return -5;
        const rc = dev.writeblocks(n, b, o);
        if (armed && n >= fatEnd && n < L.firstDataSector) cut = true;
        return rc;
      },
      ioctl: (op: number, arg: number) => dev.ioctl(op, arg),
    };
    const e = drv.mount(dying);
    const f = e.open("/A.POV", { read: false, write: true, disposition: "create-always" });
    f.write(bytes(6, 34_584));
    armed = true; // the cut comes with close's directory write
    expect(() => f.close()).toThrow(FatError);
    const r = fsck(dev);
    expect(r.findings.map((x) => x.kind)).toContain("invalid-cluster");
    expect(r.findings.find((x) => x.kind === "invalid-cluster")?.message).toMatch(/A\.POV.*marked free/);
  });
});
