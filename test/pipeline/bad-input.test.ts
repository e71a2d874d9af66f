/** Bad input through the board and both pipelines: the firmware's error where it has one, else a typed error. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FaultyBlockDevice, parseFaultPlan } from "../../src/faults/index.ts";
import {
  UnknownFirmwareError,
  firmwareByVersion,
  openmvFirmware470,
  openmvFirmware481,
} from "../../src/openmv/firmware.ts";
import { OSError } from "../../src/vfs/index.ts";
import { asReportedPipeline } from "../../src/pipeline/as-reported.ts";
import { hardenedPipeline } from "../../src/pipeline/hardened.ts";
import { pipelineByName } from "../../src/pipeline/index.ts";
import { PRIV, boot, preparedCard } from "./helpers.ts";

function raised(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected an exception");
}

describe("firmware profiles", () => {
  it("looks versions up and names the known ones when it cannot", () => {
    expect(firmwareByVersion("4.7.0")).toBe(openmvFirmware470);
    expect(firmwareByVersion("v4.8.1")).toBe(openmvFirmware481);
    const e = raised(() => firmwareByVersion("4.6.9"));
    expect(e).toBeInstanceOf(UnknownFirmwareError);
    expect((e as Error).message).toBe(
      "unknown OpenMV firmware version '4.6.9'; known versions: 4.7.0, 4.8.0, 4.8.1, 4.9.0",
    );
    expect(() => pipelineByName("fast")).toThrow("known pipelines: as-reported, hardened");
  });

  it("image.Image(missing): 'Could not find the file' on 4.7.0, [Errno 2] ENOENT on 4.8.1", async () => {
    const { base, clock } = await preparedCard();
    const texts: string[] = [];
    for (const firmware of [openmvFirmware470, openmvFirmware481]) {
      const b = await boot({ clock, card: base.fork(), firmware });
      for (const p of ["/sdcard/myimages/none.jpg", "/sdcard/nodir/none.jpg"]) {
        const e = raised(() => b.image.Image(p));
        expect(e).toBeInstanceOf(OSError);
        texts.push((e as OSError).str());
      }
      b.halt();
    }
    expect(texts).toEqual([
      "Could not find the file",
      "Could not find the path",
      "[Errno 2] ENOENT",
      "[Errno 2] ENOENT",
    ]);
  });

  it("a disk error while reading an image: the FatFs text on 4.7.0, [Errno 5] EIO on 4.8.1", async () => {
    const { base, clock } = await preparedCard();
    const texts: string[] = [];
    for (const firmware of [openmvFirmware470, openmvFirmware481]) {
      const plan = parseFaultPlan({ faults: [{ kind: "transient-error", op: "read", probability: 1 }] });
      let failing = false;
      const inner = base.fork();
      const faulty = new FaultyBlockDevice(inner, plan, { clock });
      // Reads fail only once armed: route through the faulty device then.
      const card = {
        readblocks: (n: number, buf: Uint8Array, o?: number) =>
          failing ? faulty.readblocks(n, buf, o) : inner.readblocks(n, buf, o),
        writeblocks: (n: number, buf: Uint8Array, o?: number) => inner.writeblocks(n, buf, o),
        ioctl: (op: number, arg: number) => inner.ioctl(op, arg),
      };
      const b = await boot({ clock, card, firmware });
      const path = asReportedPipeline.saveRaw(b, asReportedPipeline.capture(b));
      b.halt();
      const b2 = await boot({ clock, card, firmware });
      b2.os.listdir("/sdcard/myimages"); // directory cached in the window
      failing = true;
      expect(asReportedPipeline.readBack(b2, path)).toBeNull();
      failing = false;
      texts.push(b2.log.at(-1)!.replace(/^.*error: /, ""));
      b2.halt();
    }
    expect(texts).toEqual(["A hard error occurred in the low level disk I/O layer", "[Errno 5] EIO"]);
  });
});

describe("bad input", () => {
  it("save(): quality out of range is the firmware's OSError; an unknown extension appends .jpg", async () => {
    const { base, clock } = await preparedCard();
    const b = await boot({ clock, card: base.fork() });
    const img = b.sensor.snapshot();
    for (const quality of [0, 101]) {
      const e = raised(() => img.save("/sdcard/q.jpg", { quality }));
      expect((e as OSError).str()).toBe("Error: 1 <= quality <= 100!");
    }
    expect(b.os.listdir("/sdcard")).not.toContain("q.jpg");
    const jpeg = b.image.Image(320, 240, b.image.JPEG, { buffer: img.copy().compress(50).bytearray() });
    expect(jpeg.save("/sdcard/x.txt")).toBe("/sdcard/x.txt.jpg");
    expect(b.os.listdir("/sdcard")).toContain("x.txt.jpg");
    b.halt();
  });

  it("missing, malformed and too-small .pub: logged errors, no crash, no .enc", async () => {
    const { base, clock } = await preparedCard();
    const cases: [string, string | null][] = [
      ["missing.pub", null],
      ["bad.pub", "0x1234abcd\n"],
      ["small.pub", "3233\n"],
    ];
    const lines: string[][] = [];
    for (const p of [asReportedPipeline, hardenedPipeline]) {
      const b = await boot({ clock, card: base.fork() });
      const raw = p.saveRaw(b, p.capture(b));
      for (const [name, text] of cases) {
        if (text !== null) b.open(name, "w").with((f) => f.write(text));
        expect(p.encryptFile(b, raw, `/sdcard/myimages/${name}.enc`, name)).toBe(false);
      }
      lines.push(b.log.filter((l) => l.startsWith("ERROR")));
      expect(b.os.listdir("/sdcard/myimages").filter((n) => n.endsWith(".enc"))).toEqual([]);
      b.halt();
    }
    const pre = "ERROR, [IMG] Failed to encrypt and save image: ";
    expect(lines[0]).toEqual([
      `${pre}[Errno 2] ENOENT`,
      `${pre}invalid syntax for integer with base 10`,
      `${pre}small.pub:1: expected a modulus of at least 344 bits (43 bytes), found 12 bits`,
    ]);
    expect(lines[1]).toEqual([
      `${pre}OSError: [Errno 2] ENOENT`,
      `${pre}KeyFileError: bad.pub:1: expected the RSA modulus as a decimal integer, found "0x1234abcd\\n"`,
      `${pre}KeyFileError: small.pub:1: expected a modulus of at least 344 bits (43 bytes), found 12 bits`,
    ]);
  });

  it("truncated .enc: the board's exception as-reported, EncTruncatedError hardened", async () => {
    const { base, clock } = await preparedCard();
    const errs: string[] = [];
    for (const p of [asReportedPipeline, hardenedPipeline]) {
      const b = await boot({ clock, card: base.fork() });
      const raw = p.saveRaw(b, p.capture(b));
      expect(p.encryptFile(b, raw, "/sdcard/myimages/t.enc")).toBe(true);
      const data = b.open("/sdcard/myimages/t.enc", "rb").with((f) => f.read());
      b.open("/sdcard/myimages/t.enc", "wb").with((f) => f.write(data.subarray(0, 200)));
      expect(p.decryptFile(b, "/sdcard/myimages/t.enc", "/sdcard/myimages/t.jpg", PRIV)).toBe(false);
      errs.push(b.log.at(-1)!);
      b.halt();
    }
    // 200 bytes: key block whole, IV block cut to 72 bytes → the lax library fails on it.
    expect(errs[0]).toMatch(/^ERROR, \[IMG\] Failed to decrypt and save image: (Decryption failed|IV|key)$/);
    expect(errs[1]).toMatch(
      /^ERROR, \[IMG\] Failed to decrypt and save image: EncTruncatedError: \.enc offset 200: expected file of \d+ bytes, found end of file at 200 bytes$/,
    );
  });

  it("a JPEG buffer that is not a JPEG: saved silently as-reported (load then fails), refused hardened", async () => {
    const { base, clock } = await preparedCard();
    const b = await boot({ clock, card: base.fork() });
    const garbage = new Uint8Array(1000).map((_, i) => (i * 7) & 0xff);
    const img = b.image.Image(320, 240, b.image.JPEG, { buffer: garbage });
    img.save("/sdcard/g.jpg");
    expect(b.open("/sdcard/g.jpg", "rb").with((f) => f.read())).toEqual(garbage);
    expect((raised(() => b.image.Image("/sdcard/g.jpg")) as OSError).str()).toBe("Unsupported format!");
    // Encrypted garbage: as-reported decrypts and saves it; hardened refuses the plaintext.
    b.open("/sdcard/g.bin", "wb").with((f) => f.write(garbage));
    expect(asReportedPipeline.encryptFile(b, "/sdcard/g.bin", "/sdcard/g.enc")).toBe(true);
    expect(asReportedPipeline.decryptFile(b, "/sdcard/g.enc", "/sdcard/g2.jpg", PRIV)).toBe(true);
    expect(hardenedPipeline.decryptFile(b, "/sdcard/g.enc", "/sdcard/g3.jpg", PRIV)).toBe(false);
    expect(b.log.at(-1)).toBe(
      "ERROR, [IMG] Failed to decrypt and save image: FileIntegrityError: /sdcard/g.enc (decrypted) offset 0: " +
        "expected a JPEG header (FF D8 ... SOF), found Unsupported format!",
    );
    expect(b.os.listdir("/sdcard")).not.toContain("g3.jpg");
    b.halt();
  });
});

describe("oracles", () => {
  it("the .enc of main.py decrypts with openssl to the raw JPEG, which djpeg decodes", async () => {
    const { base, clock } = await preparedCard();
    const b = await boot({ clock, card: base.fork() });
    const r = asReportedPipeline.main(b, { frames: 2, intervalMs: 1000 });
    expect(r.frames.map((f) => [f.readBackOk, f.encrypted])).toEqual([
      [true, true],
      [true, true],
    ]);
    const f0 = r.frames[0];
    const jpeg = b.open(f0.rawPath, "rb").with((f) => f.read());
    const enc = b.open(f0.encPath, "rb").with((f) => f.read());
    b.halt();
    const dir = mkdtempSync(join(tmpdir(), "cardsim-enc-"));
    const keyPem = join(dir, "k.pem");
    writeFileSync(
      keyPem,
      execFileSync("cat", [join(import.meta.dirname, "../../scenarios/keys/rsa1024/221.pem")]),
    );
    writeFileSync(join(dir, "k.bin"), enc.subarray(0, 128));
    writeFileSync(join(dir, "iv.bin"), enc.subarray(128, 256));
    writeFileSync(join(dir, "body.bin"), enc.subarray(256));
    const rsa = (f: string) =>
      execFileSync("openssl", [
        "pkeyutl",
        "-decrypt",
        "-inkey",
        keyPem,
        "-pkeyopt",
        "rsa_padding_mode:pkcs1",
        "-in",
        join(dir, f),
      ]);
    const key = rsa("k.bin").toString("hex");
    const iv = rsa("iv.bin").toString("hex");
    const plain = execFileSync("openssl", [
      "enc",
      "-d",
      "-aes-256-cbc",
      "-K",
      key,
      "-iv",
      iv,
      "-in",
      join(dir, "body.bin"),
    ]);
    expect(new Uint8Array(plain)).toEqual(jpeg);
    writeFileSync(join(dir, "raw.jpg"), jpeg);
    const ppm = execFileSync("djpeg", ["-pnm", join(dir, "raw.jpg")]);
    expect(ppm.subarray(0, 15).toString("latin1")).toBe("P6\n320 240\n255\n");
  });
});
