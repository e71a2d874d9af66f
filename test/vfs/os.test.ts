import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CowBlockDevice, ERRNO, readAll } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { S_IFDIR, S_IFREG } from "../../src/vfs/index.ts";
import { bootVfs } from "../../src/openmv/boot.ts";
import { freshCard, oserror } from "./helpers.ts";

describe("mount table, cwd and path lookup (extmod/vfs.c)", () => {
  it("boots like OpenMV: /flash and /sdcard mounted, cwd /sdcard, '/' lists the mount points", async () => {
    const { vfs } = await freshCard();
    expect(vfs.getcwd()).toBe("/sdcard");
    expect(vfs.listdir("/")).toEqual(["flash", "sdcard"]);
    expect(vfs.ilistdir("/")).toEqual([
      ["flash", S_IFDIR, 0],
      ["sdcard", S_IFDIR, 0],
    ]);
    expect(vfs.stat("/")).toEqual([S_IFDIR, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("relative paths resolve against the volume's cwd; '..' never leaves the volume", async () => {
    const { vfs } = await freshCard();
    vfs.mkdir("a");
    vfs.mkdir("a/b");
    vfs.open("a/b/f.txt", "w").with((f) => f.write("x"));
    vfs.chdir("a/b");
    expect(vfs.getcwd()).toBe("/sdcard/a/b");
    expect(vfs.listdir()).toEqual(["f.txt"]);
    expect(vfs.open("../b/./f.txt").with((f) => f.read())).toBe("x");
    vfs.chdir("../..");
    expect(vfs.getcwd()).toBe("/sdcard");
    vfs.chdir("..");
    expect(vfs.getcwd()).toBe("/sdcard");
    expect(vfs.listdir("/sdcard/a/b/../..")).toEqual(["a"]);
    vfs.chdir("/");
    expect(vfs.getcwd()).toBe("/");
    expect(vfs.listdir()).toEqual(["flash", "sdcard"]);
    expect(vfs.listdir("sdcard/a")).toEqual(["b"]); // at '/', relative names match mount points
    expect(oserror(() => vfs.open("f.txt")).errno).toBe(ERRNO.EPERM);
    vfs.chdir("/flash");
    expect(vfs.getcwd()).toBe("/flash");
  });

  it("getcwd reports the on-disk case; names match case-insensitively", async () => {
    const { vfs } = await freshCard();
    vfs.mkdir("Images");
    vfs.chdir("IMAGES");
    expect(vfs.getcwd()).toBe("/sdcard/Images");
    vfs.open("/sdcard/images/A.TXT", "w").with((f) => f.write("1"));
    expect(vfs.listdir()).toEqual(["A.TXT"]);
  });

  it("chdir to a missing directory or a file is ENOENT and leaves the cwd alone", async () => {
    const { vfs } = await freshCard();
    vfs.open("f.txt", "w").close();
    expect(oserror(() => vfs.chdir("nope")).errno).toBe(ERRNO.ENOENT);
    expect(oserror(() => vfs.chdir("f.txt")).errno).toBe(ERRNO.ENOENT);
    expect(oserror(() => vfs.chdir("/nomount")).errno).toBe(ERRNO.ENODEV);
    expect(vfs.getcwd()).toBe("/sdcard");
  });

  it("a path through a missing dir or a file is ENOENT (FatFs FR_NO_PATH), not ENOTDIR", async () => {
    const { vfs } = await freshCard();
    vfs.open("f.txt", "w").close();
    expect(oserror(() => vfs.open("f.txt/x", "w")).errno).toBe(ERRNO.ENOENT);
    expect(oserror(() => vfs.open("nodir/x", "w")).errno).toBe(ERRNO.ENOENT);
    expect(oserror(() => vfs.open("nodir/../x")).errno).toBe(ERRNO.ENOENT);
    expect(oserror(() => vfs.mkdir("nodir/sub")).errno).toBe(ERRNO.ENOENT);
  });

  it("invalid names are EINVAL (FR_INVALID_NAME)", async () => {
    const { vfs } = await freshCard();
    for (const name of ["a:b.txt", "a*b", "q?.txt", 'x"y', "<>", "a|b", "...", "x".repeat(256)]) {
      expect([name, oserror(() => vfs.open(name, "w")).errno]).toEqual([name, ERRNO.EINVAL]);
    }
    expect(oserror(() => vfs.mkdir("bad:dir")).errno).toBe(ERRNO.EINVAL);
    // a 255-character name is fine
    vfs.open("y".repeat(255), "w").close();
    expect(vfs.listdir()).toEqual(["y".repeat(255)]);
  });

  it("mount/umount: EPERM on a used mount point, EINVAL when not mounted; umount at cwd resets it to '/'", async () => {
    const { vfs, sdcard } = await freshCard();
    expect(oserror(() => vfs.mount(sdcard!, "/sdcard")).errno).toBe(ERRNO.EPERM);
    const f = vfs.open("keep.txt", "w");
    vfs.umount("/sdcard");
    expect(vfs.getcwd()).toBe("/");
    expect(vfs.listdir("/")).toEqual(["flash"]);
    expect(oserror(() => vfs.umount("/sdcard")).errno).toBe(ERRNO.EINVAL);
    // VfsFat.umount() is a no-op: the open file still works and the volume can be mounted again
    f.write("still open");
    f.close();
    vfs.mount(sdcard!, "/sd");
    expect(vfs.open("/sd/keep.txt").with((g) => g.read())).toBe("still open");
  });
});

describe("os functions on a FAT volume (extmod/vfs_fat.c)", () => {
  it("mkdir: EEXIST for an existing dir, a mount point and '/'", async () => {
    const { vfs } = await freshCard();
    vfs.mkdir("d");
    expect(oserror(() => vfs.mkdir("d")).errno).toBe(ERRNO.EEXIST);
    expect(oserror(() => vfs.mkdir("/sdcard")).errno).toBe(ERRNO.EEXIST);
    expect(oserror(() => vfs.mkdir("/")).errno).toBe(ERRNO.EEXIST);
    expect(oserror(() => vfs.mkdir("/nomount/d")).errno).toBe(ERRNO.ENODEV);
  });

  it("remove/rmdir: EISDIR, ENOTDIR (prints as '20'), ENOENT, EACCES for non-empty or current dir", async () => {
    const { vfs } = await freshCard();
    vfs.mkdir("d");
    vfs.open("d/f.txt", "w").close();
    expect(oserror(() => vfs.remove("d")).errno).toBe(ERRNO.EISDIR);
    const notDir = oserror(() => vfs.rmdir("d/f.txt"));
    expect(notDir.errno).toBe(ERRNO.ENOTDIR);
    expect(notDir.str()).toBe("20");
    expect(oserror(() => vfs.remove("nope")).errno).toBe(ERRNO.ENOENT);
    expect(oserror(() => vfs.rmdir("d")).errno).toBe(ERRNO.EACCES);
    vfs.remove("d/f.txt");
    vfs.chdir("d");
    expect(oserror(() => vfs.rmdir("/sdcard/d")).errno).toBe(ERRNO.EACCES);
    vfs.chdir("..");
    vfs.rmdir("d");
    expect(vfs.listdir()).toEqual([]);
  });

  it("rename: moves between dirs, replaces an existing file, refuses a dir target and other volumes", async () => {
    const { vfs } = await freshCard();
    vfs.mkdir("d");
    vfs.open("a.txt", "w").with((f) => f.write("A"));
    vfs.open("b.txt", "w").with((f) => f.write("B"));
    vfs.rename("a.txt", "b.txt");
    expect(vfs.listdir()).toEqual(["d", "b.txt"]);
    expect(vfs.open("b.txt").with((f) => f.read())).toBe("A");
    vfs.rename("b.txt", "d/c.txt");
    expect(vfs.listdir("d")).toEqual(["c.txt"]);
    vfs.mkdir("e");
    expect(oserror(() => vfs.rename("d/c.txt", "e")).errno).toBe(ERRNO.EISDIR);
    expect(oserror(() => vfs.rename("d/c.txt", "/flash/c.txt")).errno).toBe(ERRNO.EPERM);
    expect(oserror(() => vfs.rename("missing", "x")).errno).toBe(ERRNO.ENOENT);
  });

  it("stat: files, directories, the volume root (2000-01-01) and mtime from the virtual clock", async () => {
    const clock = new VirtualClock(); // 2025-01-01T00:00:00Z
    const { vfs } = await freshCard(8192, clock);
    clock.advance(3_723_000_000); // +1 h 2 min 3 s
    vfs.open("t.txt", "w").with((f) => f.write("12345"));
    vfs.mkdir("d");
    const st = vfs.stat("t.txt");
    // FAT keeps 2-second resolution
    expect(st).toEqual([S_IFREG, 0, 0, 0, 0, 0, 5, 1735693322, 1735693322, 1735693322]);
    expect(vfs.stat("d")[0]).toBe(S_IFDIR);
    expect(vfs.stat("/sdcard")).toEqual([S_IFDIR, 0, 0, 0, 0, 0, 0, 946684800, 946684800, 946684800]);
    expect(oserror(() => vfs.stat("nope")).errno).toBe(ERRNO.ENOENT);
    expect(oserror(() => vfs.stat("/sdcard/.")).errno).toBe(ERRNO.EINVAL);
  });

  it("statvfs reports clusters; free space drops as a file grows", async () => {
    const { vfs } = await freshCard();
    const before = vfs.statvfs("/sdcard");
    const [bsize, frsize, blocks, bfree, bavail, , , , , namemax] = before;
    expect(frsize).toBe(bsize);
    expect(bavail).toBe(bfree);
    expect(namemax).toBe(255);
    expect(blocks * bsize).toBeLessThan(8192 * 512);
    vfs.open("big.bin", "wb").with((f) => f.write(new Uint8Array(bsize * 3)));
    expect(vfs.statvfs("/sdcard")[3]).toBe(bfree - 3);
    expect(vfs.statvfs("/")).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 256]);
  });

  it("ENOSPC when the card is full: partial data is written, str(e) is '28' on mimxrt", async () => {
    const { vfs } = await freshCard(256); // 128 KiB card
    const [bsize, , , bfree] = vfs.statvfs("/sdcard");
    const f = vfs.open("fill.bin", "wb");
    const e = oserror(() => f.write(new Uint8Array(bsize * (bfree + 1))));
    expect(e.errno).toBe(ERRNO.ENOSPC);
    expect(e.str()).toBe("28");
    f.close();
    expect(vfs.stat("fill.bin")[6]).toBe(bsize * bfree);
    expect(vfs.statvfs("/sdcard")[3]).toBe(0);
  });

  it("the card image passes fsck.fat and mtools lists what the VFS wrote", async () => {
    const { vfs, card } = await freshCard();
    vfs.mkdir("imgs");
    vfs.open("imgs/221_1000_raw.jpg", "wb").with((f) => f.write(new Uint8Array(5000).fill(0xd8)));
    vfs.open("221.pub", "w").with((f) => f.write("12345\n"));
    vfs.rename("imgs/221_1000_raw.jpg", "imgs/221_1000.jpg");
    const dir = mkdtempSync(join(tmpdir(), "vfs-"));
    const img = join(dir, "card.img");
    writeFileSync(img, readAll(card));
    const fsck = spawnSync("/usr/sbin/fsck.fat", ["-n", img], { encoding: "utf8" });
    expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
    const listing = execFileSync("mdir", ["-i", img, "-b", "::/imgs"], { encoding: "utf8" });
    expect(listing.trim().split("\n")).toEqual(["::/imgs/221_1000.jpg"]);
    const pub = execFileSync("mtype", ["-i", img, "::/221.pub"], { encoding: "utf8" });
    expect(pub).toBe("12345\n");
  });

  it("an unformatted card raises ENODEV at boot; format: 'if-needed' formats it", async () => {
    const clock = new VirtualClock();
    const card = CowBlockDevice.blank(512, 4096);
    await expect(bootVfs({ card, clock, mountFlash: false })).rejects.toMatchObject({ errno: ERRNO.ENODEV });
    const { vfs } = await bootVfs({ card, clock, format: "if-needed", mountFlash: false });
    expect(vfs.getcwd()).toBe("/sdcard");
    expect(vfs.listdir()).toEqual([]);
  });
});
