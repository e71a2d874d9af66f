/**
 * CPU time of this process split into the main thread and the others (V8's GC and compiler threads,
 * a TypeScript loader's thread), from /proc/self/task/<tid>/stat (Linux; elsewhere `undefined`).
 * Clock ticks of 10 ms, so a figure over ~1 s is good to ~2 %. process.cpuUsage() gives the total.
 */
import { readdirSync, readFileSync } from "node:fs";

/** utime + stime in ms per thread id (the main thread's id is the process id). */
export type ThreadTimes = ReadonlyMap<number, number>;

const TICK_MS = 10; // USER_HZ is 100 on Linux

export function threadTimes(): ThreadTimes | undefined {
  try {
    const out = new Map<number, number>();
    for (const tid of readdirSync("/proc/self/task")) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      // fields after "(comm)": state is field 3, utime 14, stime 15
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(Number(tid), (Number(f[11]) + Number(f[12])) * TICK_MS);
    }
    return out;
  } catch {
    return undefined;
  }
}

/** "main N ms, other threads M ms" between two {@link threadTimes}, or "" off Linux. */
export function threadSplit(before: ThreadTimes | undefined, after: ThreadTimes | undefined): string {
  if (!before || !after) return "";
  let main = 0;
  let other = 0;
  for (const [tid, ms] of after) {
    const d = ms - (before.get(tid) ?? 0);
    if (tid === process.pid) main += d;
    else other += d;
  }
  return `main thread ${main} ms, other threads ${other} ms`;
}
