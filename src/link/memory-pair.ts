import { StreamCore, type ByteStream } from "./byte-stream.ts";
import { LinkError } from "./link-error.ts";

/** Two connected in-memory streams: what one writes, the other receives. */
export interface MemoryPair {
  /** The host's end (give it to `RawRepl`). */
  host: ByteStream;
  /** The device's end (give it to a fake device or the virtual board's REPL). */
  device: ByteStream;
  /** Simulates an unplugged cable: both ends end as `disconnected`. */
  disconnect(detail?: string): void;
}

class MemoryEnd extends StreamCore {
  peer!: MemoryEnd;

  constructor(readonly name: string) {
    super();
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.isClosed) {
      return Promise.reject(
        new LinkError({
          code: "disconnected",
          port: this.name,
          what: `${this.name} is closed`,
          hint: "the other end hung up",
        }),
      );
    }
    const copy = bytes.slice();
    // Microtasks, not macrotasks: a FakeTimer's auto-advance runs only after every byte in flight.
    queueMicrotask(() => this.peer.deliver(copy));
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.finish({ reason: "closed" });
    queueMicrotask(() => this.peer.finish({ reason: "disconnected", detail: "the other end closed" }));
    return Promise.resolve();
  }

  hangUp(detail: string): void {
    this.finish({ reason: "disconnected", detail });
  }
}

/** Creates a connected pair of in-memory streams named `name` (used in error messages). */
export function memoryPair(name = "memory"): MemoryPair {
  const host = new MemoryEnd(name);
  const device = new MemoryEnd(`${name} (device end)`);
  host.peer = device;
  device.peer = host;
  return {
    host,
    device,
    disconnect(detail = "unplugged") {
      host.hangUp(detail);
      device.hangUp(detail);
    },
  };
}
