/**
 * The virtual board over a real pty (socat), driven by src/link's raw-REPL client through a real
 * serial port object: the framing, the board's modules, the simulated card under them, its power.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CowBlockDevice } from "../../src/block/index.ts";
import { SdCard, tiny64mTestConfig } from "../../src/card/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { FatRuntime } from "../../src/fat/js-fatfs-engine.ts";
import { fsck } from "../../src/fat/fsck.ts";
import { microPythonMkfsWith } from "../../src/fat/mkfs.ts";
import { FaultyBlockDevice, parseFaultPlan } from "../../src/faults/index.ts";
import { LinkError, openSerialStream } from "../../src/link/index.ts";
import { Vfs, mountFatVolume } from "../../src/vfs/index.ts";
import { run, startBoard, type BoardUnderTest } from "./helpers.ts";

const socat = existsSync("/usr/bin/socat");

/** A block device wrapper as agent.py writes it: logs every write, forwards everything. */
const LOG_BDEV = `
import vfs, machine, os
class LogBdev:
    def __init__(self, dev):
        self.dev = dev
        self.writes = []
    def readblocks(self, block, buf):
        return self.dev.readblocks(block, buf)
    def writeblocks(self, block, buf):
        self.writes.append((block, len(buf) // 512))
        return self.dev.writeblocks(block, buf)
    def ioctl(self, op, arg):
        return self.dev.ioctl(op, arg)
try:
    from vfs import VfsFat
except ImportError:
    from cardsim_board import VfsFat
vfs.umount('/sdcard')
log = LogBdev(machine.SDCard(1))
vfs.mount(VfsFat(log), '/sdcard')
os.chdir('/sdcard')
`;

describe.skipIf(!socat)("the virtual board behind a pty", () => {
  let t: BoardUnderTest;
  beforeAll(async () => {
    t = await startBoard({ seed: 7 });
  }, 30_000);
  afterAll(async () => t?.stop());

  it("answers the raw REPL handshake and leaves it for the friendly REPL's banner", async () => {
    await t.repl.close();
    const s = await openSerialStream(t.board.path);
    let got = "";
    s.onData((c) => (got += Buffer.from(c).toString("latin1")));
    const until = async (text: string) => {
      for (let i = 0; i < 100 && !got.includes(text); i++) await new Promise((r) => setTimeout(r, 20));
      expect(got).toContain(text);
    };
    await s.write(Buffer.from("\r\x03\r\x01", "latin1"));
    await until("raw REPL; CTRL-B to exit\r\n>");
    await s.write(Buffer.from("\x02", "latin1"));
    await until("MicroPython v1.27.0");
    await until(">>> ");
    await s.close();
    await t.reconnect();
  });

  it("splits an exec's stdout from its traceback; print's \\n arrives as \\r\\n", async () => {
    const r = await t.repl.exec("print('a')\nprint('b')\nraise ValueError('key')");
    expect(r.stdout).toBe("a\r\nb\r\n");
    expect(r.stderr).toMatch(/^Traceback \(most recent call last\):\r\n {2}File "<stdin>", line 3/);
    expect(r.stderr.endsWith("ValueError: key\r\n")).toBe(true);
  });

  it("takes a program of more than 2 KB by raw-paste with flow control", async () => {
    const lines = Array.from({ length: 60 }, (_, i) => `x${i} = ${i} * 3  # ${"filler ".repeat(4)}`);
    const program = `${lines.join("\n")}\nprint(sum([${lines.map((_, i) => `x${i}`).join(", ")}]))\n`;
    expect(program.length).toBeGreaterThan(2048);
    const r = await t.repl.exec(program);
    expect(r.mode).toBe("raw-paste");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`${3 * ((59 * 60) / 2)}\r\n`);
  });

  it("mounts /flash and /sdcard as the board boots, cwd /sdcard", async () => {
    expect(await run(t, "import os, sys\nprint(os.listdir('/'), os.getcwd(), sys.path)")).toBe(
      "['flash', 'sdcard'] /sdcard ['', '.frozen', '/flash/lib', '/sdcard', '/sdcard/lib']\r\n",
    );
  });

  it("raises OSError with the board's errno and text for a missing file, per firmware for imlib", async () => {
    const out = await run(
      t,
      [
        "import image",
        "try:\n    open('nope.txt')\nexcept OSError as e:\n    print(e.errno, repr(e), str(e))",
        "try:\n    image.Image('nope.jpg')\nexcept OSError as e:\n    print(e.errno, str(e))",
        "try:\n    open('x.txt', 'w').write(b'1')\n    os.mkdir('x.txt')\nexcept OSError as e:\n    print(str(e))",
      ].join("\n"),
    );
    // firmware 4.7.0 (the default): imlib raises FatFs's text (e.errno is args[0], as in MicroPython)
    expect(out).toBe(
      "2 OSError(2,) [Errno 2] ENOENT\r\nCould not find the file Could not find the file\r\n[Errno 17] EEXIST\r\n",
    );
  });

  it("soft reset: a fresh interpreter (globals gone), open files closed by finalisers", async () => {
    await run(t, "x = 1\nf = open('/sdcard/soft.txt', 'w')\nf.write('kept by the finaliser')");
    const boot = await t.repl.softReset();
    expect(boot).toBe("");
    expect(await run(t, "print('x' in globals())\nprint(open('/sdcard/soft.txt').read())")).toBe(
      "False\r\nkept by the finaliser\r\n",
    );
  });

  it("writes through VfsFat(LogBdev(machine.SDCard(1))) and reads the file back", async () => {
    const out = await run(
      t,
      `${LOG_BDEV}
with open('log.bin', 'wb') as f:
    f.write(bytes(range(256)) * 12)
n = len(log.writes)
data = open('log.bin', 'rb').read()
print(n > 0, len(data), data == bytes(range(256)) * 12, os.stat('log.bin')[6])
print(len(log.writes) == n)`,
    );
    expect(out).toBe("True 3072 True 3072\r\nTrue\r\n");
  });

  it("machine.reset() is an MCU reset: a fresh interpreter, open files abandoned (not flushed)", async () => {
    // The frame ends without its `>` and the power-on banner follows (a real board drops USB here):
    // the link reports it and reconnects.
    const err = await t.repl
      .exec(
        "x = 1\nf = open('/sdcard/mcu.txt', 'w')\nf.write('never flushed')\nimport machine\nmachine.reset()",
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LinkError);
    await t.reconnect(); // the board came back in the friendly REPL, as after power-on
    expect(await run(t, "import os\nprint('x' in globals(), os.stat('/sdcard/mcu.txt')[6])")).toBe(
      "False 0\r\n",
    );
  });

  it("same seed, same os.urandom and random bytes; each boot restarts the stream", async () => {
    const draw = "import os, random\nprint(os.urandom(16).hex(), random.getrandbits(32))";
    await t.repl.softReset();
    const a = await run(t, draw);
    await t.repl.softReset();
    expect(await run(t, draw)).toBe(a);
    const other = await startBoard({ seed: 7 });
    const different = await startBoard({ seed: 8 });
    try {
      expect(await run(other, draw)).toBe(a);
      expect(await run(different, draw)).not.toBe(a);
    } finally {
      await other.stop();
      await different.stop();
    }
  }, 30_000);
});

describe.skipIf(!socat)("the virtual board's card, power switch and Ctrl-C", () => {
  it("a write lands on the simulated card: saved on stop, fsck clean, the engine reads it", async () => {
    const saved = join(mkdtempSync(join(tmpdir(), "cardsim-vb-card-")), "card.img");
    const t = await startBoard({ firmware: "4.8.0", saveCard: saved });
    try {
      await run(
        t,
        `${LOG_BDEV}\nos.mkdir('myimages')\nwith open('myimages/a.txt', 'w') as f:\n    f.write('on the card\\n' * 100)`,
      );
      // firmware 4.8.0: imlib raises OSError(errno), not FatFs's text
      expect(
        await run(t, "import image\ntry:\n    image.Image('no.jpg')\nexcept OSError as e:\n    print(e)"),
      ).toBe("[Errno 2] ENOENT\r\n");
    } finally {
      await t.stop();
    }
    const image = new Uint8Array(readFileSync(saved));
    expect(image.length).toBe(64 * 1024 * 1024);
    const dev = CowBlockDevice.over(image);
    expect(fsck(dev).findings).toEqual([]);
    const engine = (await FatRuntime.load(new VirtualClock())).mount(dev);
    const f = engine.open("/myimages/a.txt", { read: true, write: false, disposition: "open-existing" });
    const buf = new Uint8Array(2000);
    const n = f.read(buf);
    expect(new TextDecoder().decode(buf.subarray(0, n))).toBe("on the card\n".repeat(100));
  }, 30_000);

  it("SIGUSR1 cuts the power: unsynced file data is lost exactly as on the simulator", async () => {
    const t = await startBoard();
    try {
      await run(
        t,
        "with open('keep.txt', 'w') as f:\n    f.write('closed before the cut')\nf2 = open('lost.bin', 'wb')\nf2.write(b'u' * 3000)",
      );
      t.board.powerCycle();
      await new Promise((r) => setTimeout(r, 300));
      await t.reconnect();
      const after = await run(
        t,
        "import os\nprint(sorted(os.listdir()))\nprint([os.stat(n)[6] for n in sorted(os.listdir())])\nprint(open('keep.txt').read())",
      );
      // The same steps on the simulator's stack: fresh card, same FAT engine, cut with no write in flight.
      const clock = new VirtualClock();
      const fat = await FatRuntime.load(clock);
      const card = new SdCard(tiny64mTestConfig, clock);
      microPythonMkfsWith(fat, card.media);
      const faulty = new FaultyBlockDevice(card, parseFaultPlan({ version: 1, seed: 0, faults: [] }), {
        clock,
      });
      const vfs = new Vfs();
      const vol = mountFatVolume(vfs, faulty, fat, "/sdcard");
      vfs.chdir("/sdcard");
      vfs.open("keep.txt", "w").with((f) => f.write("closed before the cut"));
      vfs.open("lost.bin", "wb").write(new Uint8Array(3000).fill(0x75));
      faulty.cutNow();
      vol.engine.unmount();
      faulty.reboot();
      const vfs2 = new Vfs();
      mountFatVolume(vfs2, faulty, fat, "/sdcard");
      const names = vfs2.listdir("/sdcard").sort();
      const sizes = names.map((n) => vfs2.stat(`/sdcard/${n}`)[6]);
      expect(after).toBe(
        `[${names.map((n) => `'${n}'`).join(", ")}]\r\n[${sizes.join(", ")}]\r\nclosed before the cut\r\n`,
      );
      expect(names.includes("lost.bin") ? sizes[names.indexOf("lost.bin")] : 0).toBe(0);
    } finally {
      await t.stop();
    }
  }, 30_000);

  it("Ctrl-C on a busy loop: the worker is restarted, the REPL and the card come back", async () => {
    const t = await startBoard();
    try {
      await run(t, "with open('before.txt', 'w') as f:\n    f.write('written before the loop')");
      const err = await t.repl.exec("while True:\n    pass", { timeoutMs: 600 }).catch((e: unknown) => e);
      // Either the link's idle timeout fired first (LinkError timeout, recovered), or, on a loaded
      // machine, the board's KeyboardInterrupt frame completed the exec as a Python error: both are
      // an interrupted loop with the raw REPL back.
      if (err instanceof LinkError) {
        expect(err.code).toBe("timeout");
        expect(err.recovered).toBe(true);
      } else expect((err as { stderr: string }).stderr).toMatch(/KeyboardInterrupt/);
      expect(await run(t, "print(open('before.txt').read())")).toBe("written before the loop\r\n");
    } finally {
      await t.stop();
    }
  }, 30_000);
});
