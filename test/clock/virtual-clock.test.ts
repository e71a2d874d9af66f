import { describe, expect, it } from "vitest";
import { VirtualClock, calendarFromUnixSeconds, fatTimestamp } from "../../src/clock/index.ts";
import { Prng } from "../../src/clock/prng.ts";

describe("VirtualClock", () => {
  it("starts at zero and advances by whole microseconds", () => {
    const clock = new VirtualClock();
    expect(clock.nowMicros).toBe(0);
    clock.advance(1500);
    expect(clock.nowMicros).toBe(1500);
    expect(clock.nowMillis).toBe(1);
    expect(() => clock.advance(-1)).toThrow(/non-negative integer/);
    expect(() => clock.advance(0.5)).toThrow(/non-negative integer/);
  });

  it("fires alarms in time order, at their own time, during advance", () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    clock.scheduleIn(300, () => fired.push(`b@${clock.nowMicros}`));
    clock.scheduleIn(100, () => fired.push(`a@${clock.nowMicros}`));
    const late = clock.scheduleIn(1000, () => fired.push("late"));
    clock.scheduleIn(300, () => fired.push(`c@${clock.nowMicros}`));
    clock.advance(500);
    expect(fired).toEqual(["a@100", "b@300", "c@300"]);
    expect(clock.nowMicros).toBe(500);
    expect(clock.cancel(late)).toBe(true);
    clock.advance(1000);
    expect(fired).toHaveLength(3);
  });

  it("an alarm may schedule another alarm inside the same advance", () => {
    const clock = new VirtualClock();
    const times: number[] = [];
    clock.scheduleIn(10, () => {
      times.push(clock.nowMicros);
      clock.scheduleIn(10, () => times.push(clock.nowMicros));
    });
    clock.advance(100);
    expect(times).toEqual([10, 20]);
  });

  it("derives calendar time from its epoch without the host time zone", () => {
    const clock = new VirtualClock(1_735_689_600); // 2025-01-01T00:00:00Z
    clock.advance(((25 * 60 + 7) * 60 + 9) * 1_000_000); // +1 day 01:07:09
    expect(clock.calendar()).toMatchObject({ year: 2025, month: 1, day: 2, hour: 1, minute: 7, second: 9 });
  });
});

describe("calendarFromUnixSeconds", () => {
  it("agrees with the proleptic Gregorian calendar across leap years", () => {
    for (const seconds of [0, 951_782_400, 1_709_164_800, 4_107_542_399, 1_735_689_732]) {
      const d = new Date(seconds * 1000);
      const t = calendarFromUnixSeconds(seconds);
      expect([t.year, t.month, t.day, t.hour, t.minute, t.second]).toEqual([
        d.getUTCFullYear(),
        d.getUTCMonth() + 1,
        d.getUTCDate(),
        d.getUTCHours(),
        d.getUTCMinutes(),
        d.getUTCSeconds(),
      ]);
      expect(t.weekday).toBe((d.getUTCDay() + 6) % 7);
    }
  });

  it("packs FAT date and time words (FAT spec, DIR_WrtDate / DIR_WrtTime)", () => {
    const packed = fatTimestamp(calendarFromUnixSeconds(1_735_689_733)); // 2025-01-01 00:02:13
    expect(packed >>> 16).toBe(((2025 - 1980) << 9) | (1 << 5) | 1);
    expect(packed & 0xffff).toBe((0 << 11) | (2 << 5) | 6);
  });
});

describe("Prng", () => {
  it("is a pure function of its seed", () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const seqA = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(seqA);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(seqA);
  });

  it("fill gives each nextUint32 value's bytes least significant first, at any length and offset", () => {
    for (const [length, offset] of [
      [0, 0],
      [3, 0],
      [4, 0],
      [517, 0],
      [512, 1],
      [1000, 4],
      [6, 2],
    ]) {
      const a = new Prng(length * 31 + offset);
      const b = new Prng(length * 31 + offset);
      const out = a.fill(new Uint8Array(length + offset).subarray(offset));
      const want = new Uint8Array(length);
      for (let i = 0; i < length; i += 4) {
        const v = b.nextUint32();
        for (let k = 0; k < 4 && i + k < length; k++) want[i + k] = (v >>> (8 * k)) & 0xff;
      }
      expect(Buffer.from(out).equals(Buffer.from(want))).toBe(true);
      expect(a.nextUint32()).toBe(b.nextUint32());
    }
  });

  it("fillUint32 gives the values of as many nextUint32 calls, and continues the stream", () => {
    for (const seed of [0, 1, 42, 0xffffffff]) {
      const a = new Prng(seed);
      const b = new Prng(seed);
      a.nextUint32();
      b.nextUint32();
      const words = a.fillUint32(new Uint32Array(1000));
      expect(Array.from(words)).toEqual(Array.from({ length: 1000 }, () => b.nextUint32()));
      expect(a.nextUint32()).toBe(b.nextUint32());
      expect(a.nextFloat()).toBe(b.nextFloat());
    }
  });

  it("stays within bounds and covers them", () => {
    const p = new Prng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const v = p.nextInt(10);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(10);
      seen.add(v);
    }
    expect(seen.size).toBe(10);
    expect(() => p.nextInt(0)).toThrow(/positive integer/);
  });

  it("forks independent streams by label", () => {
    const p = new Prng(1);
    expect(p.fork("noise").nextUint32()).toBe(new Prng(1).fork("noise").nextUint32());
    expect(p.fork("noise").nextUint32()).not.toBe(p.fork("torn").nextUint32());
  });
});
