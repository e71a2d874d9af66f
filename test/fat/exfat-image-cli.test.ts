/**
 * `cardsim image` on exFAT card dumps, unchanged commands: a real dump with an MBR (Debian's
 * forensics-samples-exfat) listed, read and checked through --partition 1; an SDXC card image made by
 * our mkfs changed with mkdir/put/rm, then checked by fsck.exfat -n on its partition.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RamBlockDevice } from "../../src/block/index.ts";
import { formatExfat } from "../../src/fat/exfat-mkfs.ts";
import { imageMain } from "../../sim/cli/image.ts";
import { fsckExfat } from "./exfat-helpers.ts";
import { bytes, sha256, tempDir } from "./helpers.ts";

async function cli(...args: string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  const out: Buffer[] = [];
  let err = "";
  const code = await imageMain(args, {
    stdout: (d) => void out.push(Buffer.from(d)),
    stderr: (t) => void (err += t),
  });
  return { code, stdout: Buffer.concat(out), stderr: err };
}

describe("cardsim image on exFAT", () => {
  const dir = tempDir("cardsim-exfat-cli-");

  it("a real card dump with an MBR: ls, cat and fsck through --partition 1", async () => {
    const img = join(dir, "fs.exfat");
    writeFileSync(
      img,
      execFileSync("xz", ["-dc", "/usr/share/forensics-samples/fs.exfat.xz"], { maxBuffer: 1 << 27 }),
    );
    const ls = await cli("ls", img, "/pic1", "--partition", "1");
    expect(ls.code).toBe(0);
    expect(ls.stdout.toString()).toContain("IMG_1054.JPG\n");
    const cat = await cli("cat", img, "/pic1/IMG_1054.JPG", "--partition", "1");
    expect(sha256(cat.stdout)).toBe(
      sha256(readFileSync("/usr/share/forensics-samples/original-files/pic1/IMG_1054.JPG")),
    );
    const fsck = await cli("fsck", img, "--partition", "1");
    expect([fsck.code, fsck.stdout.toString()]).toEqual([0, `${img}: exFAT; clean\n`]);
  });

  it("an SDXC-layout image: mkdir, put, rm change it; fsck.exfat -n finds it clean", async () => {
    const card = new RamBlockDevice(512, (80 << 20) / 512);
    const L = formatExfat(card);
    const img = join(dir, "card.img");
    writeFileSync(img, card.data);
    const photo = join(dir, "photo.jpg");
    writeFileSync(photo, bytes(3, 300_000));
    expect((await cli("mkdir", img, "/DCIM")).code).toBe(0);
    expect((await cli("put", img, photo, "/DCIM/photo.jpg")).code).toBe(0);
    expect((await cli("put", img, photo, "/DCIM/gone.jpg")).code).toBe(0);
    expect((await cli("rm", img, "/DCIM/gone.jpg")).code).toBe(0);
    expect((await cli("ls", img, "/DCIM")).stdout.toString()).toBe("photo.jpg\n");
    expect(sha256((await cli("cat", img, "/DCIM/photo.jpg")).stdout)).toBe(sha256(readFileSync(photo)));
    expect((await cli("fsck", img)).code).toBe(0);
    const part = new Uint8Array(readFileSync(img)).subarray(L.partitionStart * 512);
    const theirs = fsckExfat(dir, part);
    expect(theirs.status, theirs.output).toBe(0);
    expect(theirs.output).toMatch(/directories 2, files 1/);
  });
});
