import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prng } from "../../src/clock/index.ts";
import { imageMain } from "../../sim/cli/image.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cardsim-imgcli-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

async function cli(...args: string[]): Promise<Run> {
  const out: Buffer[] = [];
  let err = "";
  const code = await imageMain(args, {
    stdout: (d) => void out.push(Buffer.from(d)),
    stderr: (t) => void (err += t),
  });
  return { code, stdout: Buffer.concat(out), stderr: err };
}

const sha = (p: string): string => createHash("sha256").update(readFileSync(p)).digest("hex");
const p = (name: string): string => join(dir, name);
const rand = (seed: number, n: number): Uint8Array => new Prng(seed).fill(new Uint8Array(n));

describe("cardsim image", () => {
  it("mkfs, put, ls, cat, rm round trip, checked by fsck.fat and mtools", async () => {
    const img = p("card.img");
    expect((await cli("mkfs", img, "--size", "16MiB", "--fat", "16")).code).toBe(0);
    const data = rand(1, 150_000);
    writeFileSync(p("photo.jpg"), data);
    expect((await cli("put", img, p("photo.jpg"), "/DCIM/x.jpg")).code).toBe(2); // no such directory
    const put = await cli("put", img, p("photo.jpg"), "/A long photo name.jpg");
    expect(put.code, put.stderr).toBe(0);
    const ls = await cli("ls", img, "-l");
    expect(ls.stdout.toString()).toMatch(/^- +150000 2025-01-01 00:00:00 A long photo name\.jpg\n$/);
    const cat = await cli("cat", img, "/a long photo name.jpg");
    expect(cat.code).toBe(0);
    expect(Buffer.compare(cat.stdout, Buffer.from(data))).toBe(0);
    expect(
      execFileSync("mcopy", ["-i", img, "::/A long photo name.jpg", "-"]).equals(Buffer.from(data)),
    ).toBe(true);
    expect(() => execFileSync("fsck.fat", ["-n", img])).not.toThrow();
    expect((await cli("fsck", img)).code).toBe(0);
    expect((await cli("rm", img, "/A long photo name.jpg")).code).toBe(0);
    expect((await cli("ls", img)).stdout.toString()).toBe("");
  });

  it("mkfs refuses to overwrite without --force and explains sizes too small for the type", async () => {
    const img = p("exists.img");
    writeFileSync(img, "keep me");
    const r = await cli("mkfs", img, "--size", "8MiB");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/exists; use --force/);
    expect(readFileSync(img, "utf8")).toBe("keep me");
    const small = await cli("mkfs", img, "--size", "8MiB", "--fat", "32", "--force");
    expect(small.code).toBe(2);
    expect(small.stderr).toMatch(/too small for FAT32/);
    expect(readFileSync(img, "utf8")).toBe("keep me");
    expect((await cli("mkfs", img, "--size", "8MiB", "--fats", "1", "--force")).code).toBe(0);
    expect(readFileSync(img)[16]).toBe(1); // BPB_NumFATs
    expect((await cli("mkfs", p("bad.img"), "--size", "12345")).stderr).toMatch(/multiple of 512/);
  });

  it("ls, cat and fsck never modify the image; failed put/rm leave it byte-identical", async () => {
    const img = p("ro.img");
    await cli("mkfs", img, "--size", "4MiB", "--fat", "12");
    writeFileSync(p("small.bin"), rand(2, 3000));
    await cli("put", img, p("small.bin"), "/small.bin");
    const before = sha(img);
    await cli("ls", img, "/", "-l");
    await cli("cat", img, "/small.bin");
    await cli("fsck", img, "--json");
    expect(sha(img)).toBe(before);
    writeFileSync(p("huge.bin"), rand(3, 5 * 1024 * 1024));
    const full = await cli("put", img, p("huge.bin"), "/huge.bin");
    expect(full.code).toBe(2);
    expect(full.stderr).toMatch(/huge\.bin: no space left on the volume \(ENOSPC\)/);
    const badName = await cli("put", img, p("small.bin"), "/what?.bin");
    expect(badName.stderr).toMatch(/what\?\.bin: name rejected by FatFs/);
    const missing = await cli("rm", img, "/nope.txt");
    expect(missing.stderr).toMatch(/ro\.img:\/nope\.txt: no such file or directory/);
    expect(sha(img)).toBe(before);
  });

  it("unusable images: exit 2 with a one-line reason, untouched", async () => {
    const empty = p("empty.img");
    writeFileSync(empty, "");
    const odd = p("odd.img");
    writeFileSync(odd, rand(4, 1000));
    const garbage = p("garbage.img");
    writeFileSync(garbage, rand(5, 64 * 1024));
    for (const [img, pattern] of [
      [empty, /0 bytes; expected a non-zero multiple of the 512-byte sector size/],
      [odd, /1000 bytes; expected a non-zero multiple/],
      [garbage, /offset 0 \(BS_jmpBoot\).*expected 0xEB or 0xE9/],
    ] as const) {
      const before = sha(img);
      for (const args of [
        ["ls", img],
        ["cat", img, "/x"],
        ["put", img, p("small.bin"), "/x"],
        ["rm", img, "/x"],
        ["fsck", img],
      ]) {
        const r = await cli(...args);
        expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(pattern);
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
      }
      expect(sha(img)).toBe(before);
    }
    expect((await cli("ls", p("missing.img"))).stderr).toMatch(/missing\.img: no such image file/);
  });

  it("fsck exits 1 on findings, with JSON on request", async () => {
    const img = p("damaged.img");
    await cli("mkfs", img, "--size", "4MiB", "--fat", "16");
    writeFileSync(p("f.bin"), rand(6, 10_000));
    await cli("put", img, p("f.bin"), "/F.BIN");
    expect((await cli("fsck", img)).code).toBe(0);
    truncateSync(img, 2 * 1024 * 1024);
    const r = await cli("fsck", img, "--json");
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout.toString()) as { clean: boolean; findings: { kind: string }[] };
    expect(json.clean).toBe(false);
    expect(json.findings.map((f) => f.kind)).toContain("truncated-image");
  });

  it("fsck's text output prints warnings (a differing FAT32 backup boot sector), still exit 0 as fsck.fat", async () => {
    const img = p("backup.img");
    expect((await cli("mkfs", img, "--size", "40MiB", "--fat", "32")).code).toBe(0);
    const bytes = readFileSync(img);
    const backup = bytes.readUInt16LE(0x32); // BPB_BkBootSec
    bytes[backup * 512 + 0x43] ^= 0xff; // the backup's volume serial number
    writeFileSync(img, bytes);
    const r = await cli("fsck", img);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(
      new RegExp(
        `^warning: backup-boot-differs: the backup boot sector \\(sector ${backup}\\) differs from the boot sector at byte 67: `,
        "m",
      ),
    );
    const json = JSON.parse((await cli("fsck", img, "--json")).stdout.toString()) as {
      warnings: { kind: string }[];
    };
    expect(json.warnings.map((w) => w.kind)).toEqual(["backup-boot-differs"]);
    // The independent checker agrees it is clean (it only mentions the backup).
    expect(() => execFileSync("fsck.fat", ["-n", img], { stdio: "pipe" })).not.toThrow();
  });

  it("--partition works on MBR images made by mkfs --partition 1", async () => {
    const img = p("mbr.img");
    expect((await cli("mkfs", img, "--size", "40MiB", "--fat", "32", "--partition", "1")).code).toBe(0);
    writeFileSync(p("k.pub"), "123\n");
    expect((await cli("put", img, p("k.pub"), "/221.pub", "--partition", "1")).code).toBe(0);
    expect((await cli("cat", img, "/221.pub")).stdout.toString()).toBe("123\n"); // auto-detected
    expect((await cli("ls", img, "--partition", "2")).stderr).toMatch(/partition 2 is empty/);
    expect(execFileSync("mcopy", ["-i", `${img}@@1M`, "::/221.pub", "-"], { encoding: "utf8" })).toBe(
      "123\n",
    );
    expect(existsSync(img)).toBe(true);
  });

  it("mkdir (-p) makes directories mtools and fsck.fat see; put into them; ENOTDIR on file/ paths", async () => {
    const img = p("dirs.img");
    expect((await cli("mkfs", img, "--size", "8MiB")).code).toBe(0);
    expect((await cli("mkdir", img, "/a/b")).stderr).toMatch(
      /dirs\.img:\/a\/b: no such directory on the path \(-p makes the missing parents\)/,
    );
    expect((await cli("mkdir", img, "/a/b", "-p")).code).toBe(0);
    expect((await cli("mkdir", img, "/a/b", "-p")).code).toBe(0); // -p: existing is fine
    expect((await cli("mkdir", img, "/a")).stderr).toMatch(/dirs\.img:\/a: already exists/);
    writeFileSync(p("f.txt"), "hello");
    expect((await cli("put", img, p("f.txt"), "/a/b/")).code).toBe(0); // into the directory
    expect(execFileSync("mcopy", ["-i", img, "::/a/b/f.txt", "-"]).toString()).toBe("hello");
    expect(execFileSync("mdir", ["-i", img, "-b", "::/a"]).toString()).toMatch(/::\/a\/b\//i);
    expect(() => execFileSync("fsck.fat", ["-n", img])).not.toThrow();
    const before = sha(img);
    for (const args of [
      ["ls", img, "/a/b/f.txt/"],
      ["cat", img, "/a/b/f.txt/"],
      ["rm", img, "/a/b/f.txt/"],
      ["put", img, p("f.txt"), "/a/b/f.txt/"],
    ]) {
      const r = await cli(...args);
      expect([r.code, r.stderr], args.join(" ")).toEqual([
        2,
        expect.stringMatching(/f\.txt\/: not a directory \(ENOTDIR\)/),
      ]);
    }
    expect((await cli("mkdir", img, "/a/b/f.txt/c", "-p")).stderr).toMatch(
      /\/a\/b\/f\.txt: exists and is a file/,
    );
    const noDir = await cli("put", img, p("f.txt"), "/nodir/");
    expect(noDir.stderr).toMatch(/no such directory \(make it first: cardsim image mkdir/);
    expect(sha(img)).toBe(before);
    expect((await cli("ls", img, "/a/b/f.txt")).stdout.toString()).toBe("f.txt\n");
  });

  it("put --mtime stamps the file; a bad --mtime is located and changes nothing", async () => {
    const img = p("mtime.img");
    await cli("mkfs", img, "--size", "4MiB");
    writeFileSync(p("m.txt"), "x");
    expect((await cli("put", img, p("m.txt"), "/m.txt", "--mtime", "2031-07-04 12:34:56")).code).toBe(0);
    expect((await cli("ls", img, "-l")).stdout.toString()).toMatch(/ 2031-07-04 12:34:56 m\.txt/);
    const before = sha(img);
    for (const bad of ["2025-02-30 00:00:00", "1979-12-31 00:00:00", "yesterday", "2025-01-01 24:00:00"]) {
      const r = await cli("put", img, p("m.txt"), "/n.txt", "--mtime", bad);
      expect([r.code, r.stderr], bad).toEqual([
        2,
        expect.stringMatching(/--mtime '.*': expected a UTC date/),
      ]);
    }
    expect(sha(img)).toBe(before);
  });

  it("mkfs refuses sizes a FAT cannot hold, before touching the file; the new image is sparse", async () => {
    const img = p("keep.img");
    writeFileSync(img, "precious");
    for (const size of ["99999G", "3000G", "2049G"]) {
      const r = await cli("mkfs", img, "--size", size, "--force");
      expect([r.code, r.stderr], size).toEqual([
        2,
        expect.stringMatching(/holds at most 4294967295 sectors/),
      ]);
      expect(readFileSync(img, "utf8")).toBe("precious");
    }
    const big = p("big.img");
    expect((await cli("mkfs", big, "--size", "4G", "--fat", "32")).code).toBe(0);
    const { size, blocks } = statSync(big);
    expect(size).toBe(4 * 1024 ** 3);
    expect(blocks * 512).toBeLessThan(64 * 1024 ** 2); // FATs are zero: holes, not 4 GiB on disk
    expect(() => execFileSync("fsck.fat", ["-n", big])).not.toThrow();
    rmSync(big);
    expect(readdirSync(dir).filter((f) => f.includes(".cardsim-"))).toEqual([]); // no temporaries left
  });

  it("is reachable through sim/cli/main.ts", () => {
    const out = execFileSync("node_modules/.bin/tsx", ["sim/cli/main.ts", "image", "fsck", p("ro.img")], {
      encoding: "utf8",
    });
    expect(out).toMatch(/clean/);
  });
});
