/**
 * The one clock of the model. Time is an integer number of microseconds since the simulated power-on
 * epoch; nothing in src/ or sim/ reads the host clock (STYLE.md, "One clock, one unit").
 */

/** A pending alarm; cancel it with {@link VirtualClock.cancel}. */
export interface Alarm {
  readonly id: number;
  /** Absolute virtual time at which the alarm fires, in microseconds. */
  readonly atMicros: number;
}

interface PendingAlarm extends Alarm {
  readonly callback: () => void;
}

/** Calendar time that the virtual clock's zero corresponds to (FatFs timestamps, `utime.localtime`). */
export const DEFAULT_EPOCH_UNIX_SECONDS = 1_735_689_600; // 2025-01-01T00:00:00Z

export class VirtualClock {
  private now = 0;
  private nextId = 1;
  private alarms: PendingAlarm[] = [];

  /**
   * @param epochUnixSeconds wall-clock time (UTC) at virtual time zero; used only to derive calendar
   *   timestamps, never to read the host's time.
   */
  constructor(readonly epochUnixSeconds: number = DEFAULT_EPOCH_UNIX_SECONDS) {}

  /** Current virtual time in microseconds. */
  get nowMicros(): number {
    return this.now;
  }

  /** Current virtual time in whole milliseconds (`utime.ticks_ms`). */
  get nowMillis(): number {
    return Math.floor(this.now / 1000);
  }

  /** Unix time in milliseconds (UTC) that corresponds to the current virtual time. */
  get unixMillis(): number {
    return this.epochUnixSeconds * 1000 + Math.floor(this.now / 1000);
  }

  /** Moves time forward by `deltaMicros`, firing every alarm that falls due, in time order. */
  advance(deltaMicros: number): void {
    if (!Number.isInteger(deltaMicros) || deltaMicros < 0) {
      throw new Error(`VirtualClock.advance: deltaMicros must be a non-negative integer, got ${deltaMicros}`);
    }
    const target = this.now + deltaMicros;
    for (;;) {
      const due = this.alarms[0];
      if (due === undefined || due.atMicros > target) break;
      this.alarms.shift();
      this.now = due.atMicros;
      due.callback();
    }
    this.now = target;
  }

  /** Schedules `callback` to run `deltaMicros` from now. Alarms at equal times fire in scheduling order. */
  scheduleIn(deltaMicros: number, callback: () => void): Alarm {
    if (!Number.isInteger(deltaMicros) || deltaMicros < 0) {
      throw new Error(
        `VirtualClock.scheduleIn: deltaMicros must be a non-negative integer, got ${deltaMicros}`,
      );
    }
    const alarm: PendingAlarm = { id: this.nextId++, atMicros: this.now + deltaMicros, callback };
    let i = this.alarms.length;
    while (i > 0 && this.alarms[i - 1].atMicros > alarm.atMicros) i--;
    this.alarms.splice(i, 0, alarm);
    return { id: alarm.id, atMicros: alarm.atMicros };
  }

  /** Cancels an alarm; returns false if it already fired or was cancelled. */
  cancel(alarm: Alarm): boolean {
    const i = this.alarms.findIndex((a) => a.id === alarm.id);
    if (i < 0) return false;
    this.alarms.splice(i, 1);
    return true;
  }

  /** Number of alarms still pending. */
  get pendingAlarms(): number {
    return this.alarms.length;
  }

  /** Calendar fields (UTC) of the current virtual time, for FAT timestamps and `utime.localtime()`. */
  calendar(): CalendarTime {
    return calendarFromUnixSeconds(Math.floor(this.unixMillis / 1000));
  }
}

/** Broken-down UTC time. `month` is 1..12, `weekday` 0 = Monday (MicroPython `utime.localtime`). */
export interface CalendarTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
  yearday: number;
}

/** Civil-from-days (H. Hinnant's algorithm) without the host's Date or time zone. */
export function calendarFromUnixSeconds(unixSeconds: number): CalendarTime {
  const days = Math.floor(unixSeconds / 86400);
  const secs = unixSeconds - days * 86400;
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const cumulative = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
  const yearday = cumulative[month - 1] + day + (leap && month > 2 ? 1 : 0);
  return {
    year,
    month,
    day,
    hour: Math.floor(secs / 3600),
    minute: Math.floor((secs % 3600) / 60),
    second: secs % 60,
    weekday: (((days + 3) % 7) + 7) % 7, // 1970-01-01 was a Thursday (weekday 3)
    yearday,
  };
}

/** Packs a calendar time into the FAT date/time word pair as FatFs `get_fattime()` returns it. */
export function fatTimestamp(t: CalendarTime): number {
  const year = Math.min(Math.max(t.year, 1980), 2107);
  return (
    (((year - 1980) << 25) |
      (t.month << 21) |
      (t.day << 16) |
      (t.hour << 11) |
      (t.minute << 5) |
      (t.second >> 1)) >>>
    0
  );
}
