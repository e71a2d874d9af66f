import { describe, expect, it } from "vitest";
import { ERRNO } from "../../src/block/index.ts";
import { FileIO, TextIOWrapper, VfsFat, Vfs } from "../../src/vfs/index.ts";
import { SpyEngine, freshCard, oserror } from "./helpers.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("open() modes (vfs_fat_file.c file_open)", () => {
  it("'w' creates and truncates; 'r' reads text; 'rb' reads bytes", async () => {
    const { vfs } = await freshCard();
    vfs.open("f.txt", "w").with((f) => expect(f.write("first version")).toBe(13));
    vfs.open("f.txt", "w").with((f) => expect(f.write("v2")).toBe(2));
    const t = vfs.open("f.txt");
    expect(t).toBeInstanceOf(TextIOWrapper);
    expect(t.read()).toBe("v2");
    t.close();
    const b = vfs.open("f.txt", "rb");
    expect(b).toBeInstanceOf(FileIO);
    expect(b.read()).toEqual(bytes("v2"));
    b.close();
  });

  it("'r' on a missing file is ENOENT; 'x' on an existing file is EEXIST, on a new one creates it", async () => {
    const { vfs } = await freshCard();
    expect(oserror(() => vfs.open("missing.txt")).errno).toBe(ERRNO.ENOENT);
    expect(oserror(() => vfs.open("missing.txt", "rb")).str()).toBe("[Errno 2] ENOENT");
    vfs.open("x.txt", "x").with((f) => f.write("made"));
    expect(oserror(() => vfs.open("x.txt", "x")).errno).toBe(ERRNO.EEXIST);
    expect(vfs.open("x.txt").with((f) => f.read())).toBe("made");
  });

  it("'a' creates or opens and starts at the end; seeking back and writing overwrites there", async () => {
    const { vfs } = await freshCard();
    vfs.open("log.txt", "a").with((f) => f.write("one\n"));
    vfs.open("log.txt", "a").with((f) => {
      expect(f.tell()).toBe(4);
      f.write("two\n");
    });
    expect(vfs.open("log.txt").with((f) => f.read())).toBe("one\ntwo\n");
    // 'a' is FA_OPEN_ALWAYS + seek to the end, not O_APPEND
    vfs.open("log.txt", "a").with((f) => {
      f.seek(0);
      f.write("ONE");
    });
    expect(vfs.open("log.txt").with((f) => f.read())).toBe("ONE\ntwo\n");
  });

  it("'r+' keeps the content and writes from the start; 'w+' truncates and can read back", async () => {
    const { vfs } = await freshCard();
    vfs.open("f.bin", "wb").with((f) => f.write(bytes("0123456789")));
    vfs.open("f.bin", "r+b").with((f) => {
      expect(f.write(bytes("ab"))).toBe(2);
      expect(f.read(3)).toEqual(bytes("234"));
    });
    expect(vfs.open("f.bin", "rb").with((f) => text(f.read()))).toBe("ab23456789");
    vfs.open("f.bin", "w+").with((f) => {
      f.write("new");
      expect(f.seek(0)).toBe(0);
      expect(f.read()).toBe("new");
    });
    expect(vfs.stat("f.bin")[6]).toBe(3);
  });

  it("reading a write-only file or writing a read-only one is EACCES (FR_DENIED)", async () => {
    const { vfs } = await freshCard();
    const w = vfs.open("f.txt", "w");
    expect(oserror(() => w.read()).errno).toBe(ERRNO.EACCES);
    w.close();
    const r = vfs.open("f.txt", "r");
    expect(oserror(() => r.write("x")).errno).toBe(ERRNO.EACCES);
    r.close();
  });

  it("a directory: open for reading is ENOENT (FR_NO_FILE), for writing EACCES; the volume root is EINVAL", async () => {
    const { vfs } = await freshCard();
    vfs.mkdir("dir");
    expect(oserror(() => vfs.open("dir")).errno).toBe(ERRNO.ENOENT);
    expect(oserror(() => vfs.open("dir", "w")).errno).toBe(ERRNO.EACCES);
    expect(oserror(() => vfs.open("/sdcard")).errno).toBe(ERRNO.EINVAL);
    expect(oserror(() => vfs.open("/")).errno).toBe(ERRNO.EPERM);
    expect(oserror(() => vfs.open("/nocard/x.txt")).errno).toBe(ERRNO.ENODEV);
  });
});

describe("file object methods (py/stream.c)", () => {
  it("write() accepts str and bytes in both modes, with (max_len) and (off, max_len)", async () => {
    const { vfs } = await freshCard();
    vfs.open("w.bin", "wb").with((f) => {
      expect(f.write("abc")).toBe(3);
      expect(f.write(bytes("0123456789"), 4)).toBe(4);
      expect(f.write(bytes("0123456789"), 8, 5)).toBe(2);
    });
    expect(vfs.open("w.bin").with((f) => f.read())).toBe("abc012389");
  });

  it("text read(n) counts characters, binary read(n) bytes", async () => {
    const { vfs } = await freshCard();
    vfs.open("u.txt", "w").with((f) => f.write("aé€😀z"));
    vfs.open("u.txt").with((f) => {
      expect(f.read(2)).toBe("aé");
      expect(f.read(2)).toBe("€😀");
      expect(f.read(5)).toBe("z");
      expect(f.read(1)).toBe("");
    });
    vfs.open("u.txt", "rb").with((f) => expect(f.read(2)).toEqual(bytes("aé").subarray(0, 2)));
  });

  it("invalid UTF-8 in text mode raises UnicodeError", async () => {
    const { vfs } = await freshCard();
    vfs.open("bad.txt", "wb").with((f) => f.write(Uint8Array.of(0x61, 0xff, 0x62)));
    expect(() => vfs.open("bad.txt").with((f) => f.read())).toThrow(
      expect.objectContaining({ pyType: "UnicodeError" }),
    );
  });

  it("read() without size asks f_read for 256-byte chunks, the rest of a short chunk, then 0", async () => {
    const { vfs, sdcard, card } = await freshCard();
    vfs.open("600.bin", "wb").with((f) => f.write(new Uint8Array(600).fill(7)));
    const spy = new SpyEngine(sdcard!.engine);
    const spyVfs = new Vfs();
    spyVfs.mount(new VfsFat(spy, card), "/sd");
    const data = spyVfs.open("/sd/600.bin", "rb").with((f) => f.read());
    expect(data).toEqual(new Uint8Array(600).fill(7));
    expect(spy.reads).toEqual([
      { want: 256, got: 256 },
      { want: 256, got: 256 },
      { want: 256, got: 88 },
      { want: 168, got: 0 },
    ]);
  });

  it("readline() reads one byte per f_read; readlines() and iteration split on \\n", async () => {
    const { vfs, sdcard, card } = await freshCard();
    vfs.open("l.txt", "w").with((f) => f.write("ab\ncd\n\nlast"));
    const spy = new SpyEngine(sdcard!.engine);
    const spyVfs = new Vfs();
    spyVfs.mount(new VfsFat(spy, card), "/sd");
    expect(spyVfs.open("/sd/l.txt").with((f) => f.readline())).toBe("ab\n");
    expect(spy.reads.map((r) => r.want)).toEqual([1, 1, 1]);
    expect(vfs.open("l.txt").with((f) => f.readlines())).toEqual(["ab\n", "cd\n", "\n", "last"]);
    expect(vfs.open("l.txt", "rb").with((f) => [...f].map(text))).toEqual(["ab\n", "cd\n", "\n", "last"]);
    expect(vfs.open("l.txt").with((f) => f.readline(1) + "|" + f.readline(5))).toBe("a|b\n");
  });

  it("readinto() fills the buffer (or nbytes of it) and returns the count", async () => {
    const { vfs } = await freshCard();
    vfs.open("r.bin", "wb").with((f) => f.write(bytes("hello world")));
    vfs.open("r.bin", "rb").with((f) => {
      const buf = new Uint8Array(8);
      expect(f.readinto(buf, 5)).toBe(5);
      expect(text(buf.subarray(0, 5))).toBe("hello");
      expect(f.readinto(buf)).toBe(6);
      expect(text(buf.subarray(0, 6))).toBe(" world");
      expect(f.readinto(buf)).toBe(0);
    });
  });

  it("seek(offset, whence) and tell(); a negative SEEK_SET is EINVAL; read-only files clip at the end", async () => {
    const { vfs } = await freshCard();
    vfs.open("s.txt", "w").with((f) => f.write("0123456789"));
    vfs.open("s.txt").with((f) => {
      expect(f.seek(3)).toBe(3);
      expect(f.read(1)).toBe("3");
      expect(f.seek(2, 1)).toBe(6);
      expect(f.seek(-2, 2)).toBe(8);
      expect(f.read()).toBe("89");
      expect(f.tell()).toBe(10);
      expect(oserror(() => f.seek(-1)).errno).toBe(ERRNO.EINVAL);
      expect(f.seek(100)).toBe(10); // FatFs clips a read-only file's position to its size
      expect(f.seek(-20, 2)).toBe(10); // wraps in FSIZE_t, then clipped
    });
  });

  it("a closed file: read/write/flush raise EINVAL, close() again is allowed, tell() keeps the position", async () => {
    const { vfs } = await freshCard();
    const f = vfs.open("c.txt", "w");
    f.write("hello!");
    f.flush();
    f.close();
    f.close();
    expect(f.closed).toBe(true);
    expect(oserror(() => f.write("world!")).errno).toBe(ERRNO.EINVAL);
    expect(oserror(() => f.read()).errno).toBe(ERRNO.EINVAL);
    expect(oserror(() => f.flush()).str()).toBe("[Errno 22] EINVAL");
    expect(f.tell()).toBe(6);
  });
});
