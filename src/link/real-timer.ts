/**
 * REAL TIME: the single place in src/ that reads the host's clock or waits on it (STYLE.md: nothing
 * in the model does). Only the serial link uses it, for timeouts and the classic-mode pacing that a
 * real board needs; the model never sees it.
 */
import type { LinkTimer } from "./timer.ts";

/** Host time through `process.hrtime.bigint()` and `setTimeout`. */
export const realTimer: LinkTimer = {
  nowMs: () => Number(process.hrtime.bigint() / 1000n) / 1000,
  schedule(delayMs, fire) {
    const handle = setTimeout(fire, delayMs);
    return () => clearTimeout(handle);
  },
  sleep: (delayMs) => new Promise((resolve) => setTimeout(resolve, delayMs)),
};
