import { describe, expect, it } from "vitest";
import { FRESULT, FatError } from "../../src/fat/fat-engine.ts";
import {
  FRESULT_TO_ERRNO,
  MICROPYTHON_DEFAULT_ERRNO_NAMES,
  OSError,
  SECONDS_1970_TO_2000,
  ValueError,
  fatTimestampToSeconds,
  fatErrorOf,
  fresultToErrno,
  withFatErrors,
} from "../../src/vfs/index.ts";

describe("OSError prints as MicroPython's mp_obj_exception_print", () => {
  it("OSError(ENOENT): str '[Errno 2] ENOENT', errno 2, args (2,)", () => {
    const e = OSError.of(2);
    expect(e.str()).toBe("[Errno 2] ENOENT");
    expect(e.message).toBe("[Errno 2] ENOENT");
    expect(`error: ${e.str()}`).toBe("error: [Errno 2] ENOENT");
    expect(e.errno).toBe(2);
    expect(e.args).toEqual([2]);
    expect(e.repr()).toBe("OSError(2,)");
    expect(e.exc()).toBe("OSError: [Errno 2] ENOENT");
  });

  it("an errno missing from mimxrt's MICROPY_PY_ERRNO_LIST prints as a bare number", () => {
    // ENOSPC (28), ENOTDIR (20), EROFS (30) are not in the default list.
    expect(OSError.of(28).str()).toBe("28");
    expect(OSError.of(20).str()).toBe("20");
    expect(OSError.of(28).errno).toBe(28);
    // a firmware that lists them prints them
    const names = new Map([...MICROPYTHON_DEFAULT_ERRNO_NAMES, [28, "ENOSPC"]]);
    expect(OSError.of(28, names).str()).toBe("[Errno 28] ENOSPC");
  });

  it("a message OSError prints the message and has no errno", () => {
    const e = OSError.msg("Unsupported format!");
    expect(e.str()).toBe("Unsupported format!");
    expect(e.errno).toBeUndefined();
    expect(e.repr()).toBe("OSError('Unsupported format!',)");
    expect(e.exc()).toBe("OSError: Unsupported format!");
  });

  it("two args with a known errno append the second; otherwise the tuple is printed", () => {
    expect(new OSError([2, "no card"]).str()).toBe("[Errno 2] ENOENT: no card");
    expect(new OSError(["a", "b"]).str()).toBe("('a', 'b')");
    expect(new OSError([]).str()).toBe("");
  });

  it("ValueError('key') prints key", () => {
    const e = new ValueError("key");
    expect(e.str()).toBe("key");
    expect(e.exc()).toBe("ValueError: key");
  });
});

describe("FRESULT → errno (extmod/vfs_fat_file.c fresult_to_errno_table)", () => {
  it("maps every FRESULT as MicroPython does", () => {
    const expected: Record<keyof typeof FRESULT, number> = {
      FR_OK: 0,
      FR_DISK_ERR: 5,
      FR_INT_ERR: 5,
      FR_NOT_READY: 16,
      FR_NO_FILE: 2,
      FR_NO_PATH: 2,
      FR_INVALID_NAME: 22,
      FR_DENIED: 13,
      FR_EXIST: 17,
      FR_INVALID_OBJECT: 22,
      FR_WRITE_PROTECTED: 30,
      FR_INVALID_DRIVE: 19,
      FR_NOT_ENABLED: 19,
      FR_NO_FILESYSTEM: 19,
      FR_MKFS_ABORTED: 5,
      FR_TIMEOUT: 5,
      FR_LOCKED: 5,
      FR_NOT_ENOUGH_CORE: 12,
      FR_TOO_MANY_OPEN_FILES: 24,
      FR_INVALID_PARAMETER: 22,
    };
    for (const [name, code] of Object.entries(FRESULT)) {
      expect([name, fresultToErrno(code)]).toEqual([name, expected[name as keyof typeof FRESULT]]);
    }
    expect(FRESULT_TO_ERRNO).toHaveLength(20);
  });

  it("withFatErrors turns a FatError into OSError(errno) and lets other errors through", () => {
    expect(() =>
      withFatErrors(() => {
        throw new FatError(FRESULT.FR_DENIED, "unlink", "/d");
      }),
    ).toThrow("[Errno 13] EACCES");
    expect(() =>
      withFatErrors(() => {
        throw new RangeError("bug");
      }),
    ).toThrow(RangeError);
  });
});

describe("FAT timestamps → os.stat seconds (timeutils_seconds_since_epoch)", () => {
  const fat = (y: number, mo: number, d: number, h: number, mi: number, s: number) => ({
    date: ((y - 1980) << 9) | (mo << 5) | d,
    time: (h << 11) | (mi << 5) | (s >> 1),
  });

  it("with the 1970 epoch (mimxrt) equals Unix time, 1980..2107", () => {
    for (const [y, mo, d, h, mi, s] of [
      [1980, 1, 1, 0, 0, 0],
      [1999, 12, 31, 23, 59, 58],
      [2000, 2, 29, 12, 0, 0],
      [2024, 3, 1, 1, 2, 4],
      [2025, 1, 1, 0, 0, 0],
      [2100, 3, 1, 0, 0, 0],
      [2105, 12, 31, 23, 59, 58],
    ] as const) {
      const { date, time } = fat(y, mo, d, h, mi, s);
      expect(fatTimestampToSeconds(date, time, 1970)).toBe(Date.UTC(y, mo - 1, d, h, mi, s) / 1000);
    }
  });

  it("with the 2000 epoch counts from 2000-01-01 (vfs_fat.c's root date 0x2821 is 0)", () => {
    expect(fatTimestampToSeconds(0x2821, 0, 2000)).toBe(0);
    expect(fatTimestampToSeconds(0x2821, 0, 1970)).toBe(SECONDS_1970_TO_2000);
    const { date, time } = fat(2025, 6, 15, 10, 30, 20);
    expect(fatTimestampToSeconds(date, time, 2000)).toBe(
      Date.UTC(2025, 5, 15, 10, 30, 20) / 1000 - SECONDS_1970_TO_2000,
    );
  });
});

describe("fatErrorOf", () => {
  it("gives the FatFs failure behind a VFS OSError, and undefined for one the VFS raised itself", () => {
    const cause = new FatError(FRESULT.FR_NO_PATH, "open", "/nodir/x.jpg");
    let raised: unknown;
    try {
      withFatErrors(() => {
        throw cause;
      });
    } catch (e) {
      raised = e;
    }
    expect(raised).toBeInstanceOf(OSError);
    expect((raised as OSError).errno).toBe(2);
    expect(fatErrorOf(raised as OSError)).toBe(cause);
    expect(fatErrorOf(OSError.of(2))).toBeUndefined();
  });
});
