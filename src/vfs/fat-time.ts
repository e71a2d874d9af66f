/**
 * FAT date/time words → `os.stat()` seconds, as MicroPython's extmod/vfs_fat.c `fat_vfs_stat` calls
 * `timeutils_seconds_since_epoch(1980 + year7, month4, day5, hour5, min6, 2 * sec5)` (shared/timeutils).
 *
 * The board computes in 32-bit unsigned `mp_uint_t`; this emulates that arithmetic, so dates before
 * 2000 (FAT allows 1980..2107) give the same wrapped results as on the device. A month outside 1..12
 * (a corrupted entry) indexes past `days_since_jan1` on the board; here it counts as 0 days.
 */

const DAYS_SINCE_JAN1 = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

/** Seconds from 1970-01-01 to 2000-01-01 (`TIMEUTILS_SECONDS_1970_TO_2000`). */
export const SECONDS_1970_TO_2000 = 946_684_800;

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const u32 = (x: number): number => x >>> 0;
const mul32 = (a: number, b: number): number => Math.imul(a, b) >>> 0;
const div32 = (a: number, b: number): number => Math.floor(u32(a) / b);

/** `timeutils_seconds_since_2000` with 32-bit unsigned wrap-around. */
export function secondsSince2000(
  year: number,
  month: number,
  date: number,
  hour: number,
  minute: number,
  second: number,
): number {
  let yday = (DAYS_SINCE_JAN1[month - 1] ?? 0) + date;
  if (month >= 3 && isLeapYear(year)) yday += 1;
  const y = u32(year - 2000);
  const days = u32(yday - 1 + div32(y + 3, 4) - div32(y + 99, 100) + div32(y + 399, 400));
  return u32(second + minute * 60 + hour * 3600 + mul32(days, 86400) + mul32(y, 31_536_000));
}

/**
 * `os.stat()` time for a FAT date and time word.
 * @param epochYear 1970 (`MICROPY_EPOCH_IS_1970`) or 2000
 * @returns seconds since the epoch, as the board prints them
 */
export function fatTimestampToSeconds(fatDate: number, fatTime: number, epochYear: 1970 | 2000): number {
  const s = secondsSince2000(
    1980 + ((fatDate >> 9) & 0x7f),
    (fatDate >> 5) & 0x0f,
    fatDate & 0x1f,
    (fatTime >> 11) & 0x1f,
    (fatTime >> 5) & 0x3f,
    2 * (fatTime & 0x1f),
  );
  return epochYear === 1970 ? u32(s + SECONDS_1970_TO_2000) : s;
}
