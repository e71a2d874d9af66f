/** Oracles for the exFAT tests: exfatprogs' mkfs.exfat, fsck.exfat -n and dump.exfat on temp files. */
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, ftruncateSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { CowBlockDevice, RamBlockDevice, type BlockDevice } from "../../src/block/index.ts";

const SBIN = (tool: string): string => `/usr/sbin/${tool}`;

/** A fresh `mkfs.exfat` image of `bytes` bytes with the given options (e.g. ["-c", "32K", "-L", "CAM"]). */
export function mkfsExfatImage(dir: string, name: string, bytes: number, options: string[] = []): Uint8Array {
  const p = join(dir, name);
  writeFileSync(p, new Uint8Array(0));
  execFileSync("truncate", ["-s", String(bytes), p]);
  execFileSync(SBIN("mkfs.exfat"), [...options, p], { stdio: "pipe" });
  return new Uint8Array(readFileSync(p));
}

/** `fsck.exfat -n` on an image: exit status (0 clean) and output. */
export function fsckExfat(
  dir: string,
  image: Uint8Array,
  name = "check.img",
): { status: number; output: string } {
  const p = join(dir, name);
  writeFileSync(p, image);
  const r = spawnSync(SBIN("fsck.exfat"), ["-n", p], { encoding: "utf8" });
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

/** The numbers `dump.exfat` prints for an image (boot region and root entries), by label. */
export function dumpExfat(dir: string, image: Uint8Array, name = "dump.img"): Record<string, string> {
  const p = join(dir, name);
  writeFileSync(p, image);
  return dumpExfatFile(p);
}

/** {@link dumpExfat} on an image file already on disk. */
export function dumpExfatFile(p: string): Record<string, string> {
  const out = execFileSync(SBIN("dump.exfat"), [p], { encoding: "utf8" });
  const fields: Record<string, string> = {};
  for (const line of out.split("\n")) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (m) fields[m[1].trim()] = m[2].trim();
  }
  return fields;
}

/** A RAM device over a copy of `image` that logs every write as [lba, sectors]. */
export function loggingDevice(image: Uint8Array): {
  device: BlockDevice;
  data: Uint8Array;
  writes: [number, number][];
} {
  const ram = RamBlockDevice.fromImage(image);
  const writes: [number, number][] = [];
  const device: BlockDevice = {
    readblocks: (lba, buf, off) => ram.readblocks(lba, buf, off),
    writeblocks: (lba, buf, off) => {
      writes.push([lba, buf.length / 512]);
      return ram.writeblocks(lba, buf, off);
    },
    ioctl: (op, arg) => ram.ioctl(op, arg),
  };
  return { device, data: ram.data, writes };
}

/**
 * Writes sectors `start..start+count` of a sparse device to a sparse file (only the stored blocks),
 * so exfatprogs can check a 64 GB card's partition without 64 GB of disk.
 */
export function writeSparsePartition(
  dir: string,
  name: string,
  dev: CowBlockDevice,
  start: number,
  count: number,
): string {
  const p = join(dir, name);
  const fd = openSync(p, "w");
  try {
    ftruncateSync(fd, count * dev.blockSize);
    const buf = new Uint8Array(dev.blockSize);
    for (const b of dev.changedBlocks()) {
      if (b < start || b >= start + count) continue;
      dev.readblocks(b, buf);
      writeSync(fd, buf, 0, buf.length, (b - start) * dev.blockSize);
    }
  } finally {
    closeSync(fd);
  }
  return p;
}

/** `fsck.exfat -n` on an image file already on disk. */
export function fsckExfatFile(path: string): { status: number; output: string } {
  const r = spawnSync(SBIN("fsck.exfat"), ["-n", path], { encoding: "utf8" });
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}
