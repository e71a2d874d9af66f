/** OpenMvBoard: boot mounts, utime on the virtual clock with sleep hooks, machine ids, log, halt/reboot. */
import { describe, expect, it } from "vitest";
import { CowBlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { BoardConfigError, OpenMvBoard, uniqueIdHex } from "../../src/openmv/board.ts";
import { openmvFirmware481 } from "../../src/openmv/firmware.ts";
import { OSError } from "../../src/vfs/index.ts";

async function fresh(uniqueId?: Uint8Array) {
  const clock = new VirtualClock();
  const card = CowBlockDevice.blank(512, 8192);
  const board = await OpenMvBoard.boot({
    clock,
    card,
    firmware: openmvFirmware481,
    seed: 5,
    format: true,
    ...(uniqueId && { uniqueId }),
  });
  return { clock, card, board };
}

describe("OpenMvBoard", () => {
  it("boots with /flash and /sdcard mounted and /sdcard as the cwd", async () => {
    const { board } = await fresh();
    expect(board.os.listdir("/")).toEqual(["flash", "sdcard"]);
    expect(board.os.getcwd()).toBe("/sdcard");
    board.open("221.pub", "w").with((f) => f.write("123\n"));
    expect(board.os.listdir("/sdcard")).toEqual(["221.pub"]);
    board.halt();
  });

  it("utime: sleep_ms runs the hooks inside the sleep and ends on time; time() is whole Unix seconds", async () => {
    const { board, clock } = await fresh();
    const seen: [number, number, number][] = [];
    const off = board.onSleep(({ startMicros, endMicros }) => {
      seen.push([clock.nowMicros, startMicros, endMicros]);
      clock.advance(100_000); // the PC's USB work takes 100 ms of the sleep
    });
    const t0 = clock.nowMicros;
    board.utime.sleep_ms(500);
    expect(seen).toEqual([[t0, t0, t0 + 500_000]]);
    expect(clock.nowMicros).toBe(t0 + 500_000);
    off();
    board.utime.sleep_ms(20);
    expect(seen).toHaveLength(1);
    expect(board.utime.ticks_ms()).toBe(Math.floor(clock.nowMicros / 1000));
    expect(board.utime.time()).toBe(clock.epochUnixSeconds + Math.floor(clock.nowMicros / 1_000_000));
    expect(board.utime.ticks_diff(5, (1 << 30) - 5)).toBe(10);
    expect(() => board.utime.sleep_ms(-1)).toThrow(BoardConfigError);
    board.halt();
  });

  it("machine.unique_id() is 8 configurable bytes; the default maps to device 221, others to none", async () => {
    const a = await fresh();
    expect(a.board.machine.unique_id()).toHaveLength(8);
    expect(a.board.deviceId()).toBe(221);
    a.board.halt();
    const uid = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    const b = await fresh(uid);
    expect(uniqueIdHex(b.board.machine.unique_id())).toBe("0102030405060708");
    expect(b.board.deviceId()).toBeUndefined();
    b.board.halt();
    await expect(
      OpenMvBoard.boot({
        clock: new VirtualClock(),
        firmware: openmvFirmware481,
        seed: 1,
        uniqueId: new Uint8Array(7),
      }),
    ).rejects.toThrow("uniqueId: expected 8 bytes, got 7");
  });

  it("print() collects lines; sensor frames are seeded; halt() drops unsynced state and a new boot sees the card", async () => {
    const { board, clock, card } = await fresh();
    board.print("INFO,", 1, "x");
    expect(board.log).toEqual(["INFO, 1 x"]);
    const a = board.sensor.snapshot().bytearray().slice();
    const f = board.open("open.bin", "wb");
    f.write(new Uint8Array(2000));
    board.halt(); // power loss with the file open: its entry is never written
    const again = await OpenMvBoard.boot({
      clock,
      card,
      firmware: openmvFirmware481,
      seed: 5,
      runtime: board.runtime,
    });
    expect(again.sensor.snapshot().bytearray()).toEqual(a);
    expect(again.os.listdir()).toEqual(["open.bin"]);
    expect(again.os.stat("open.bin")[6]).toBe(0);
    expect(() => again.image.Image("missing.jpg")).toThrow(OSError);
    again.halt();
  });
});
