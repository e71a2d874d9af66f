import type { LinkTimer } from "./timer.ts";

interface Pending {
  atMs: number;
  seq: number;
  fire: () => void;
}

/** Options of a {@link FakeTimer}. */
export interface FakeTimerOptions {
  /**
   * When true (the default), the timer jumps to its next due call whenever the event loop has
   * nothing else to run (after every pending microtask), so a 10 s timeout fires at once once the
   * other side has gone quiet. Use it only with in-memory streams, whose bytes travel as
   * microtasks; over real I/O a jump could overtake bytes still in flight.
   */
  autoAdvance?: boolean;
}

/**
 * A virtual timer for tests and fuzzing: time moves only by {@link FakeTimer.advance} or by
 * auto-advance, calls fire in due order (ties in scheduling order), and nothing waits for real.
 */
export class FakeTimer implements LinkTimer {
  private now = 0;
  private seq = 0;
  private pending: Pending[] = [];
  private stepQueued = false;
  private readonly autoAdvance: boolean;

  constructor(options: FakeTimerOptions = {}) {
    this.autoAdvance = options.autoAdvance ?? true;
  }

  nowMs(): number {
    return this.now;
  }

  /** Number of calls not yet fired or cancelled. */
  get pendingCount(): number {
    return this.pending.length;
  }

  schedule(delayMs: number, fire: () => void): () => void {
    const entry: Pending = { atMs: this.now + Math.max(0, delayMs), seq: this.seq++, fire };
    this.pending.push(entry);
    this.queueStep();
    return () => {
      const i = this.pending.indexOf(entry);
      if (i >= 0) this.pending.splice(i, 1);
    };
  }

  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.schedule(delayMs, resolve));
  }

  /** Moves time forward by `deltaMs`, firing every call that falls due, in order. */
  advance(deltaMs: number): void {
    const target = this.now + deltaMs;
    for (;;) {
      const next = this.earliest();
      if (next === undefined || next.atMs > target) break;
      this.fireEntry(next);
    }
    this.now = target;
  }

  private earliest(): Pending | undefined {
    let best: Pending | undefined;
    for (const p of this.pending)
      if (!best || p.atMs < best.atMs || (p.atMs === best.atMs && p.seq < best.seq)) best = p;
    return best;
  }

  private fireEntry(entry: Pending): void {
    this.pending.splice(this.pending.indexOf(entry), 1);
    this.now = Math.max(this.now, entry.atMs);
    entry.fire();
  }

  private queueStep(): void {
    if (!this.autoAdvance || this.stepQueued) return;
    this.stepQueued = true;
    setImmediate(() => {
      this.stepQueued = false;
      const next = this.earliest();
      if (next === undefined) return;
      this.fireEntry(next);
      if (this.pending.length > 0) this.queueStep();
    });
  }
}
