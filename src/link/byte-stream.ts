/**
 * The small byte-stream interface the raw REPL runs over: a serial port, a child process's stdio,
 * or one end of an in-memory pair.
 */

/** How a stream ended. */
export interface StreamEnd {
  /** `closed`: we closed it; `disconnected`: the other side went away (unplugged, exited, closed). */
  reason: "closed" | "disconnected";
  /** What the implementation knows: an OS error, an exit code, the tail of a process's stderr. */
  detail?: string;
}

/** A bidirectional byte stream. */
export interface ByteStream {
  /** What errors name: a port path (`/dev/ttyACM0`), a command line, `memory`. */
  readonly name: string;
  /** The baud rate when the stream is a serial port (for error hints); undefined otherwise. */
  readonly baud?: number;
  /**
   * Sends bytes; resolves once the implementation has handed them on (to the OS, the pipe, the
   * peer). Rejects once the stream has ended. The caller may reuse `bytes` afterwards.
   */
  write(bytes: Uint8Array): Promise<void>;
  /** Sets the only receiver of incoming bytes; bytes that arrived before are delivered at once. */
  onData(receiver: (chunk: Uint8Array) => void): void;
  /** Resolves (never rejects) once, when the stream ends for any reason. */
  readonly closed: Promise<StreamEnd>;
  /** True once the stream has ended. */
  readonly isClosed: boolean;
  /** How the stream ended, or null while it is open (the value `closed` resolves with). */
  readonly end: StreamEnd | null;
  /** Releases the underlying resource (port, process, peer); safe to call more than once. */
  close(): Promise<void>;
}

/**
 * The shared half of every implementation: buffers bytes until a receiver is set and settles the
 * `closed` promise exactly once.
 */
export abstract class StreamCore implements ByteStream {
  abstract readonly name: string;
  readonly closed: Promise<StreamEnd>;
  private receiver: ((chunk: Uint8Array) => void) | null = null;
  private early: Uint8Array[] = [];
  private ending: StreamEnd | null = null;
  private settle!: (end: StreamEnd) => void;

  constructor() {
    this.closed = new Promise((resolve) => (this.settle = resolve));
  }

  get isClosed(): boolean {
    return this.ending !== null;
  }

  /** How the stream ended, or null while it is open. */
  get end(): StreamEnd | null {
    return this.ending;
  }

  abstract write(bytes: Uint8Array): Promise<void>;
  abstract close(): Promise<void>;

  onData(receiver: (chunk: Uint8Array) => void): void {
    this.receiver = receiver;
    const early = this.early;
    this.early = [];
    for (const chunk of early) receiver(chunk);
  }

  /** Hands incoming bytes to the receiver (or keeps them until there is one). */
  protected deliver(chunk: Uint8Array): void {
    if (this.ending || chunk.length === 0) return;
    if (this.receiver) this.receiver(chunk);
    else this.early.push(chunk);
  }

  /** Marks the stream ended; later calls keep the first reason. */
  protected finish(end: StreamEnd): void {
    if (this.ending) return;
    this.ending = end;
    this.settle(end);
  }
}
