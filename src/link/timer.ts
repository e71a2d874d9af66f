/**
 * The link's only notion of time. Real time exists in `real-timer.ts` alone; tests and fuzzing pass
 * a `FakeTimer` (`fake-timer.ts`) so no timeout ever waits.
 */

/** A source of time and delayed calls, in milliseconds. */
export interface LinkTimer {
  /** Milliseconds since an arbitrary origin: only differences mean anything. */
  nowMs(): number;
  /** Calls `fire` once after `delayMs` milliseconds; the returned function cancels the call. */
  schedule(delayMs: number, fire: () => void): () => void;
  /** Resolves after `delayMs` milliseconds. */
  sleep(delayMs: number): Promise<void>;
}
