import type { ByteStream, StreamEnd } from "./byte-stream.ts";
import type { LinkTimer } from "./timer.ts";

/** How a read finished (`overflow`: more than `maxBytes` arrived without the match). */
export type ReadEnd = "found" | "timeout" | "closed" | "overflow";

/** The bytes a read consumed and why it stopped. */
export interface ReadResult {
  /** Through the match when `end` is `found`; otherwise everything received meanwhile. */
  data: Uint8Array;
  end: ReadEnd;
}

/** Time limits of one read, in milliseconds; omitted means no limit. */
export interface ReadLimits {
  /** The longest silence between two arrivals (mpremote: 10 s between characters). */
  idleTimeoutMs?: number;
  /** The longest the whole read may take. */
  totalTimeoutMs?: number;
  /** The most bytes a read may gather without its match: a board that never ends a frame. */
  maxBytes?: number;
}

/** Incoming bytes of a stream, read with timeouts on an injected timer. */
export class ReceiveQueue {
  private buf = new Uint8Array(4096);
  private head = 0;
  private tail = 0;
  private waiter: ((arrived: boolean) => void) | null = null;
  private ending: StreamEnd | null = null;

  constructor(
    private readonly stream: ByteStream,
    private readonly timer: LinkTimer,
  ) {
    stream.onData((chunk) => this.push(chunk));
    void stream.closed.then((end) => {
      this.ending = end;
      this.waiter?.(false);
    });
  }

  /** How the stream ended, or null while open. */
  get streamEnd(): StreamEnd | null {
    return this.ending ?? this.stream.end;
  }

  /** Bytes received and not yet read. */
  available(): number {
    return this.tail - this.head;
  }

  /** Takes every byte received so far. */
  drain(): Uint8Array {
    return this.take(this.tail - this.head);
  }

  /** Reads through the first occurrence of `ending`. */
  readUntil(ending: Uint8Array, limits: ReadLimits): Promise<ReadResult> {
    let scanned = this.head;
    return this.wait(() => {
      const from = Math.max(this.head, scanned - ending.length + 1);
      const at = indexOf(this.buf, ending, from, this.tail);
      scanned = this.tail;
      return at < 0 ? -1 : at + ending.length - this.head;
    }, limits);
  }

  /** Reads exactly `count` bytes. */
  readBytes(count: number, limits: ReadLimits): Promise<ReadResult> {
    return this.wait(() => (this.tail - this.head >= count ? count : -1), limits);
  }

  private push(chunk: Uint8Array): void {
    if (this.tail + chunk.length > this.buf.length) {
      const live = this.tail - this.head;
      const size = Math.max(this.buf.length, (live + chunk.length) * 2);
      if (size === this.buf.length) this.buf.copyWithin(0, this.head, this.tail);
      else {
        const next = new Uint8Array(size);
        next.set(this.buf.subarray(this.head, this.tail), 0);
        this.buf = next;
      }
      this.head = 0;
      this.tail = live;
    }
    this.buf.set(chunk, this.tail);
    this.tail += chunk.length;
    this.waiter?.(true);
  }

  private take(count: number): Uint8Array {
    const out = this.buf.slice(this.head, this.head + count);
    this.head += count;
    if (this.head === this.tail) this.head = this.tail = 0;
    return out;
  }

  /** `match` returns how many bytes to consume once satisfied, or -1. */
  private wait(match: () => number, limits: ReadLimits): Promise<ReadResult> {
    if (this.waiter) throw new Error("ReceiveQueue: only one read at a time");
    const now = match();
    if (now >= 0) return Promise.resolve({ data: this.take(now), end: "found" });
    if (this.streamEnd) return Promise.resolve({ data: this.drain(), end: "closed" });
    const over = (): boolean => limits.maxBytes !== undefined && this.available() > limits.maxBytes;
    if (over()) return Promise.resolve({ data: this.drain(), end: "overflow" });
    return new Promise((resolve) => {
      let cancelIdle: (() => void) | undefined;
      let cancelTotal: (() => void) | undefined;
      const finish = (end: ReadEnd, count: number): void => {
        cancelIdle?.();
        cancelTotal?.();
        this.waiter = null;
        resolve({ data: this.take(count), end });
      };
      const armIdle = (): void => {
        cancelIdle?.();
        if (limits.idleTimeoutMs !== undefined)
          cancelIdle = this.timer.schedule(limits.idleTimeoutMs, () => finish("timeout", this.available()));
      };
      armIdle();
      if (limits.totalTimeoutMs !== undefined)
        cancelTotal = this.timer.schedule(limits.totalTimeoutMs, () => finish("timeout", this.available()));
      this.waiter = (arrived) => {
        const n = match();
        if (n >= 0) finish("found", n);
        else if (this.ending) finish("closed", this.available());
        else if (over()) finish("overflow", this.available());
        else if (arrived) armIdle();
      };
    });
  }
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number, to: number): number {
  const first = needle[0];
  const last = to - needle.length;
  for (let i = hay.indexOf(first, from); i >= 0 && i <= last; i = hay.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}
