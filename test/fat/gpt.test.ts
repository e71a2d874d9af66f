/**
 * GPT cards: tables made by gdisk's `sgdisk` (the independent writer), FAT32 volumes made by
 * `mkfs.fat --offset` and filled by mtools at the partition's byte offset, exFAT volumes made by
 * `mkfs.exfat` (or Debian's forensics exFAT dump) spliced into the partition. Our reads must equal
 * the originals byte for byte; our writes must pass fsck.fat -n / fsck.exfat -n on the extracted
 * partition; a damaged header or entry array must give the same verdict as `sgdisk -v` (main damaged,
 * backup used) or a located exit-2 error when both are damaged.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CowBlockDevice, RamBlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { loadFatDriver } from "../../src/fat/drivers.ts";
import { formatExfat } from "../../src/fat/exfat-mkfs.ts";
import { exfatVolumeOf } from "../../src/fat/exfat-fsck.ts";
import { fsck } from "../../src/fat/fsck.ts";
import { guidString, MICROSOFT_BASIC_DATA_GUID, readGpt } from "../../src/fat/gpt.ts";
import { locateFatVolume, PartitionError } from "../../src/fat/partition.ts";
import { OPENMV_FATFS, TsFatfsDriver } from "../../src/fat/ts-fatfs/index.ts";
import { imageMain } from "../../sim/cli/image.ts";
import { fsckExfatFile, writeSparsePartition } from "./exfat-helpers.ts";
import { bytes, fsckFat, sha256, tempDir } from "./helpers.ts";

const SGDISK = "/usr/sbin/sgdisk";
const FORENSICS = "/usr/share/forensics-samples";

async function cli(...args: string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  const out: Buffer[] = [];
  let err = "";
  const code = await imageMain(args, {
    stdout: (d) => void out.push(Buffer.from(d)),
    stderr: (t) => void (err += t),
  });
  return { code, stdout: Buffer.concat(out), stderr: err };
}

let dir: string;
beforeAll(() => {
  dir = tempDir("cardsim-gpt-");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A sparse image of `mib` MiB with a fresh GPT (sgdisk -o) and the partitions `spec` asks for. */
function gptImage(name: string, mib: number, spec: string[]): string {
  const p = join(dir, name);
  writeFileSync(p, new Uint8Array(0));
  execFileSync("truncate", ["-s", `${mib}M`, p]);
  execFileSync(SGDISK, ["-o", ...spec, p], { stdio: "pipe" });
  return p;
}

/** `sgdisk -v`'s verdict on each structure: "Main header: OK" and so on. */
function sgdiskVerdict(p: string): Record<string, string> {
  const r = spawnSync(SGDISK, ["-v", p], { encoding: "utf8" });
  const out: Record<string, string> = {};
  for (const m of `${r.stdout}${r.stderr}`.matchAll(
    /^(Main header|Backup header|Main partition table|Backup partition table): (\w+)/gm,
  ))
    out[m[1]] = m[2];
  return out;
}

/** Copies sectors [start, start+count) of image `p` into their own file (for fsck.fat / fsck.exfat). */
function extract(p: string, start: number, count: number, name: string): string {
  const out = join(dir, name);
  const data = readFileSync(p).subarray(start * 512, (start + count) * 512);
  writeFileSync(out, data);
  return out;
}

/** Writes `data` into file `p` at byte `offset`, in place. */
function patch(p: string, offset: number, data: Uint8Array): void {
  const fd = openSync(p, "r+");
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

describe("GPT partition tables", () => {
  it("reads the Microsoft basic data GUID from its mixed-endian bytes", () => {
    const b = Uint8Array.from([
      0xa2, 0xa0, 0xd0, 0xeb, 0xe5, 0xb9, 0x33, 0x44, 0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26, 0x99, 0xc7,
    ]);
    expect(guidString(b, 0)).toBe(MICROSOFT_BASIC_DATA_GUID);
  });

  it("an sgdisk table: partitions, types, names as sgdisk -i prints them", () => {
    const img = gptImage("table.img", 64, [
      "-n",
      "1:2048:+8M",
      "-t",
      "1:8300",
      "-c",
      "1:linux",
      "-n",
      "2:0:+20M",
      "-t",
      "2:0700",
      "-c",
      "2:CAMERA",
    ]);
    const t = readGpt(RamBlockDevice.fromImage(readFileSync(img)));
    expect(t.used).toBe("primary");
    for (const part of t.partitions) {
      const info = execFileSync(SGDISK, ["-i", String(part.number), img], { encoding: "utf8" });
      expect(info).toContain(`Partition GUID code: ${part.typeGuid}`);
      expect(info).toContain(`Partition unique GUID: ${part.uniqueGuid}`);
      expect(info).toContain(`First sector: ${part.startSector} `);
      expect(info).toContain(`Last sector: ${part.startSector + part.sectorCount - 1} `);
      expect(info).toContain(`Partition name: '${part.name}'`);
    }
    expect(t.partitions.map((p) => [p.number, p.name])).toEqual([
      [1, "linux"],
      [2, "CAMERA"],
    ]);
    expect(t.partitions[1].typeGuid).toBe(MICROSOFT_BASIC_DATA_GUID);
  });

  it("FAT32 by mkfs.fat --offset, files by mtools: ls/cat byte-exact; put/mkdir/rm pass fsck.fat -n and mtools reads them", async () => {
    // Partition 1 is Linux (skipped: not basic data), partition 2 the FAT32 volume.
    const img = gptImage("fat32.img", 96, [
      "-n",
      "1:2048:+4M",
      "-t",
      "1:8300",
      "-n",
      "2:0:+60M",
      "-t",
      "2:0700",
    ]);
    const part = readGpt(RamBlockDevice.fromImage(readFileSync(img))).partitions[1];
    execFileSync(
      "mkfs.fat",
      ["-F", "32", "--offset", String(part.startSector), img, String(part.sectorCount / 2)],
      {
        stdio: "pipe",
      },
    );
    const at = `${img}@@${part.startSector * 512}`;
    const photo = join(dir, "photo.jpg");
    writeFileSync(photo, bytes(7, 200_000));
    execFileSync("mmd", ["-i", at, "::/DCIM"]);
    execFileSync("mcopy", ["-i", at, photo, "::/DCIM/PHOTO.JPG"]);
    const ls = await cli("ls", img, "/DCIM");
    expect([ls.code, ls.stdout.toString(), ls.stderr]).toEqual([0, "PHOTO.JPG\n", ""]);
    expect(sha256((await cli("cat", img, "/DCIM/PHOTO.JPG")).stdout)).toBe(sha256(readFileSync(photo)));
    expect(sha256((await cli("cat", img, "/DCIM/PHOTO.JPG", "--partition", "2")).stdout)).toBe(
      sha256(readFileSync(photo)),
    );
    expect((await cli("ls", img, "--partition", "1")).stderr).toMatch(/no FAT file system/);
    expect((await cli("ls", img, "--partition", "3")).stderr).toMatch(
      /GPT partition 3 is unused \(entries in use: 1, 2\)/,
    );

    const mine = join(dir, "mine.bin");
    writeFileSync(mine, bytes(8, 70_000));
    expect((await cli("mkdir", img, "/LOGS/2025", "-p")).code).toBe(0);
    expect((await cli("put", img, mine, "/LOGS/2025/run.bin")).code).toBe(0);
    expect((await cli("rm", img, "/DCIM/PHOTO.JPG")).code).toBe(0);
    const fsckOurs = await cli("fsck", img);
    expect(fsckOurs.code).toBe(0);
    expect(fsck(locateFatVolume(RamBlockDevice.fromImage(readFileSync(img))).device).clean).toBe(true);
    const vol = extract(img, part.startSector, part.sectorCount, "fat32-part.img");
    expect(fsckFat(vol).status).toBe(0);
    expect(sha256(execFileSync("mcopy", ["-n", "-i", at, "::/LOGS/2025/run.bin", "-"]))).toBe(
      sha256(readFileSync(mine)),
    );
    expect(execFileSync("mdir", ["-b", "-i", at, "::/DCIM"], { encoding: "utf8" }).trim()).toBe("");
    // The table itself was not touched.
    expect(spawnSync(SGDISK, ["-v", img], { encoding: "utf8" }).stdout).toContain("No problems found");
  });

  it("exFAT spliced in (Debian's forensics dump): every file byte-exact; our writes pass fsck.exfat -n", async () => {
    const dump = execFileSync("xz", ["-dc", `${FORENSICS}/fs.exfat.xz`], { maxBuffer: 1 << 27 });
    const mbrStart = dump.readUInt32LE(446 + 8);
    const mbrCount = dump.readUInt32LE(446 + 12);
    const img = gptImage("exfat.img", 64, ["-n", `1:2048:+${mbrCount}`, "-t", "1:0700"]);
    patch(img, 2048 * 512, dump.subarray(mbrStart * 512, (mbrStart + mbrCount) * 512));
    const found = locateFatVolume(RamBlockDevice.fromImage(readFileSync(img)));
    expect([found.scheme, found.partition?.number, found.partition?.startSector]).toEqual(["gpt", 1, 2048]);
    expect(exfatVolumeOf(RamBlockDevice.fromImage(readFileSync(img)))).not.toBeNull();
    // The directories ending in "2" were deleted on the card; a .png there differs from its original
    // only in its tIME/tEXt chunks (exfat-engine.test.ts compares their payload), so it is held to
    // its length here, every other file to its bytes.
    let files = 0;
    for (const sub of ["audio1", "movie1", "pic1", "text1"]) {
      const names = (await cli("ls", img, `/${sub}`)).stdout.toString().trim().split("\n");
      for (const name of names) {
        const ours = (await cli("cat", img, `/${sub}/${name}`)).stdout;
        const original = readFileSync(`${FORENSICS}/original-files/${sub}/${name}`);
        if (name.endsWith(".png")) expect(ours.length, name).toBe(original.length);
        else expect(sha256(ours), name).toBe(sha256(original));
        files++;
      }
    }
    expect(files).toBe(18);
    expect((await cli("fsck", img)).stdout.toString()).toBe(`${img}: exFAT; clean\n`);

    const mine = join(dir, "big.bin");
    writeFileSync(mine, bytes(9, 1_500_000));
    expect((await cli("mkdir", img, "/upload")).code).toBe(0);
    expect((await cli("put", img, mine, "/upload/big.bin")).code).toBe(0);
    expect(sha256((await cli("cat", img, "/upload/big.bin")).stdout)).toBe(sha256(readFileSync(mine)));
    const vol = extract(img, 2048, mbrCount, "exfat-part.img");
    const r = fsckExfatFile(vol);
    expect(r.status, r.output).toBe(0);
  });

  describe("damaged tables", () => {
    function fresh(name: string): { img: string; start: number } {
      const img = gptImage(name, 48, ["-n", "1:2048:+32M", "-t", "1:0700"]);
      execFileSync("mkfs.fat", ["-F", "16", "--offset", "2048", img, String(32 * 1024)], { stdio: "pipe" });
      const note = join(dir, "note.txt");
      writeFileSync(note, "seen through the backup table\n");
      execFileSync("mcopy", ["-i", `${img}@@1M`, note, "::/NOTE.TXT"]);
      return { img, start: 2048 };
    }
    const sectors = (p: string): number => readFileSync(p).length / 512;

    it("a bad primary header CRC: the backup at the last LBA is used, with a warning naming field and values", async () => {
      const { img } = fresh("bad-primary.img");
      patch(img, 512 + 16, Uint8Array.of(0x01, 0x02, 0x03, 0x04));
      expect(sgdiskVerdict(img)).toMatchObject({ "Main header": "ERROR", "Backup header": "OK" });
      const r = await cli("cat", img, "/NOTE.TXT");
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toBe("seen through the backup table\n");
      expect(r.stderr).toMatch(
        new RegExp(
          `^warning: .*bad-primary\\.img: primary GPT header \\(LBA 1\\) HeaderCRC32 at byte 16: expected 0x[0-9A-F]{8}, found 0x04030201; using the backup GPT header at LBA ${sectors(img) - 1} \\(as UEFI firmware does\\)\\n$`,
        ),
      );
    });

    it("a damaged primary entry array: PartitionEntryArrayCRC32 is named, the backup array is used", async () => {
      const { img } = fresh("bad-array.img");
      patch(img, 2 * 512 + 56, Uint8Array.of(0x58)); // a byte of entry 1's name
      expect(sgdiskVerdict(img)).toMatchObject({
        "Main partition table": "ERROR",
        "Backup partition table": "OK",
      });
      const r = await cli("ls", img);
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toBe("NOTE.TXT\n");
      expect(r.stderr).toMatch(
        /primary GPT header \(LBA 1\) PartitionEntryArrayCRC32 at byte 88: expected 0x[0-9A-F]{8}, found 0x[0-9A-F]{8}; using the backup/,
      );
    });

    it("both headers damaged: exit 2 naming each header, field, expected and found; the image is unchanged", async () => {
      const { img } = fresh("bad-both.img");
      patch(img, 512, new TextEncoder().encode("EFI FART"));
      patch(img, (sectors(img) - 1) * 512 + 24, Uint8Array.of(7)); // backup MyLBA
      // sgdisk finds no GPT either: it offers to create a new one.
      expect(spawnSync(SGDISK, ["-v", img], { encoding: "utf8" }).stdout).toContain(
        "Creating new GPT entries",
      );
      const before = sha256(readFileSync(img));
      for (const cmd of [
        ["ls", img],
        ["fsck", img],
        ["put", img, join(dir, "note.txt"), "/X.TXT"],
      ]) {
        const r = await cli(...cmd);
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(
          'primary GPT header (LBA 1) Signature at byte 0: expected "EFI PART", found "EFI FART"',
        );
        expect(r.stderr).toMatch(/backup GPT header \(LBA \d+\) HeaderCRC32 at byte 16: expected 0x/);
      }
      expect(sha256(readFileSync(img))).toBe(before);
      expect(() => locateFatVolume(RamBlockDevice.fromImage(readFileSync(img)))).toThrow(PartitionError);
    });

    it("a GPT without a basic data partition names the types it found", async () => {
      const img = gptImage("linux-only.img", 16, ["-n", "1:2048:0", "-t", "1:8300"]);
      const r = await cli("ls", img);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("no Microsoft basic data partition (EBD0A0A2-B9E5-4433-87C0-68B6B72699C7)");
      expect(r.stderr).toContain("0FC63DAF-8483-4772-8E79-3D69D8477DE4");
    });
  });

  it("formatExfat({ gpt }) writes a GPT sgdisk finds valid; the Teensy's engine mounts it, the camera's finds no file system", async () => {
    const sectors = (64 << 20) / 512;
    const card = CowBlockDevice.blank(512, sectors);
    const L = formatExfat(card, { gpt: true, volumeSerial: 0x1234abcd });
    const img = writeSparsePartition(dir, "ours-gpt.img", card, 0, sectors);
    expect(spawnSync(SGDISK, ["-v", img], { encoding: "utf8" }).stdout).toContain("No problems found");
    const info = execFileSync(SGDISK, ["-i", "1", img], { encoding: "utf8" });
    expect(info).toContain(`Partition GUID code: ${MICROSOFT_BASIC_DATA_GUID}`);
    expect(info).toContain(`First sector: ${L.partitionStart} `);
    expect(info).toContain(`Last sector: ${L.partitionStart + L.volumeLength - 1} `);
    const part = writeSparsePartition(dir, "ours-gpt-part.img", card, L.partitionStart, L.volumeLength);
    expect(fsckExfatFile(part).status).toBe(0);

    const clock = new VirtualClock();
    const teensy = (await loadFatDriver(clock, "ts-fatfs-sdfat")).mount(card);
    const f = teensy.open("/a.txt", { read: false, write: true, disposition: "create-always" });
    f.write(new TextEncoder().encode("through the GPT"));
    f.close();
    teensy.unmount();
    expect(
      (
        await cli("cat", writeSparsePartition(dir, "after.img", card, 0, sectors), "/a.txt")
      ).stdout.toString(),
    ).toBe("through the GPT");
    expect(
      fsckExfatFile(writeSparsePartition(dir, "after-part.img", card, L.partitionStart, L.volumeLength))
        .status,
    ).toBe(0);
    // FatFs R0.13c (the camera) has no GPT: the protective MBR's 0xEE entry points at the GPT header.
    expect(() => new TsFatfsDriver(OPENMV_FATFS, clock).mount(card)).toThrow(/FR_NO_FILESYSTEM/);
  });
});
