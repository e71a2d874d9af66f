/**
 * The ESP32's side of the link (src/pov/esp32-protocol.ts) over any byte stream: one request frame,
 * one reply frame (stop-and-wait, as the seed's ESP32 sends its messages), or raw bytes and whatever
 * comes back until the line is quiet. Every failure is a LinkError naming the port: no answer within
 * the reply timeout, bytes that are not a frame (garbage, a bad CRC), a reply to another request, or
 * the stream ending.
 */
import { LinkError, ReceiveQueue, seconds, type ByteStream, type LinkTimer } from "../../link/index.ts";
import {
  FRAME_HEADER_BYTES,
  FRAME_TRAILER_BYTES,
  FrameDecoder,
  MAX_PAYLOAD,
  SOF,
  decodeReply,
  encodeFrame,
  type Esp32Reply,
} from "../../pov/index.ts";

export interface Esp32ClientOptions {
  /** No reply byte for this long: the Teensy does not answer (default 5 s). */
  replyTimeoutMs?: number;
  /** Silence that ends the replies to raw bytes (default 500 ms: ten inter-byte timeouts of the Teensy). */
  quietMs?: number;
}

export class Esp32Client {
  private readonly queue: ReceiveQueue;
  private seq = 0;
  private readonly replyTimeoutMs: number;
  private readonly quietMs: number;

  constructor(
    private readonly stream: ByteStream,
    timer: LinkTimer,
    options: Esp32ClientOptions = {},
  ) {
    this.queue = new ReceiveQueue(stream, timer);
    this.replyTimeoutMs = options.replyTimeoutMs ?? 5000;
    this.quietMs = options.quietMs ?? 500;
  }

  get port(): string {
    return this.stream.name;
  }

  /** The next request's seq (the ESP32 numbers its frames 0, 1, 2, ... mod 256). */
  nextSeq(): number {
    return this.seq++ & 0xff;
  }

  /** The seq the next request will carry. */
  peekSeq(): number {
    return this.seq & 0xff;
  }

  /** Sends one request and reads its reply; `what` names the request in errors. */
  async request(type: number, payload: Uint8Array, what: string, timeoutMs?: number): Promise<Esp32Reply> {
    const seq = this.nextSeq();
    return this.exchange(encodeFrame({ type, seq, payload }), seq, what, timeoutMs);
  }

  /** Sends a framed request (seq already in it) and reads its one reply. */
  async exchange(frame: Uint8Array, seq: number, what: string, timeoutMs?: number): Promise<Esp32Reply> {
    this.stale();
    await this.write(frame, what);
    const reply = await this.readFrame(what, timeoutMs ?? this.replyTimeoutMs);
    if (reply.seq !== seq)
      throw this.fail(
        "frame",
        `the reply to ${what} on ${this.port} carries seq ${reply.seq}, expected ${seq}`,
      );
    return reply;
  }

  /**
   * Several requests with up to `window` frames in flight (replies come in order): the sector scans
   * would otherwise wait one line round trip per 255 sectors.
   */
  async requests(
    list: readonly { type: number; payload: Uint8Array; what: string }[],
    window = 16,
  ): Promise<Esp32Reply[]> {
    this.stale();
    const out: Esp32Reply[] = [];
    const seqs: number[] = [];
    let sent = 0;
    while (out.length < list.length) {
      while (sent < list.length && sent - out.length < window) {
        const { type, payload, what } = list[sent++];
        const seq = this.nextSeq();
        seqs.push(seq);
        await this.write(encodeFrame({ type, seq, payload }), what);
      }
      const i = out.length;
      const reply = await this.readFrame(list[i].what, this.replyTimeoutMs);
      if (reply.seq !== seqs[i])
        throw this.fail(
          "frame",
          `the reply to ${list[i].what} on ${this.port} carries seq ${reply.seq}, expected ${seqs[i]}`,
        );
      out.push(reply);
    }
    return out;
  }

  /** Sends raw bytes and returns everything that comes back until the line has been quiet for quietMs. */
  async raw(bytes: Uint8Array, what: string): Promise<Uint8Array> {
    this.stale();
    await this.write(bytes, what);
    const parts: Uint8Array[] = [];
    for (;;) {
      const r = await this.queue.readBytes(1, { idleTimeoutMs: this.quietMs });
      if (r.data.length) parts.push(r.data);
      if (r.end === "closed") throw this.ended(what);
      if (r.end === "timeout") break;
    }
    return Uint8Array.from(parts.flatMap((p) => [...p]));
  }

  /** Bytes nobody asked for (a late reply, line noise) are an error: they would be read as the next reply. */
  private stale(): void {
    if (this.queue.available() === 0) return;
    const got = this.queue.drain();
    throw this.fail("garbage", `${got.length} unexpected bytes from ${this.port} between requests`, got);
  }

  private async write(bytes: Uint8Array, what: string): Promise<void> {
    try {
      await this.stream.write(bytes);
    } catch (e) {
      if (e instanceof LinkError) throw e;
      throw new LinkError({
        code: "disconnected",
        port: this.port,
        what: `sending ${what} to ${this.port} failed: ${(e as Error).message}`,
        hint: "is the Teensy (or the virtual Teensy) still connected?",
        cause: e,
      });
    }
  }

  /** Waits for the line to be quiet and drops what came (a late reply to a request that timed out). */
  async settle(): Promise<void> {
    for (;;) {
      const r = await this.queue.readBytes(1, { idleTimeoutMs: this.quietMs });
      if (r.end !== "found") return;
    }
  }

  private async readFrame(what: string, timeoutMs: number): Promise<Esp32Reply> {
    const limits = { idleTimeoutMs: timeoutMs };
    const head = await this.queue.readBytes(FRAME_HEADER_BYTES, limits);
    if (head.end === "closed") throw this.ended(what, head.data);
    if (head.end === "timeout")
      throw this.fail(
        head.data.length ? "garbage" : "no-answer",
        head.data.length
          ? `a partial reply to ${what} from ${this.port}, then nothing for ${seconds(timeoutMs)}`
          : `no answer to ${what} from ${this.port} within ${seconds(timeoutMs)}`,
        head.data,
      );
    const h = head.data;
    const n = h[3] | (h[4] << 8);
    if (h[0] !== SOF || n > MAX_PAYLOAD)
      throw this.fail(
        "garbage",
        `the reply to ${what} from ${this.port} is not a frame (expected SOF 0xa5 and a length ≤ ${MAX_PAYLOAD})`,
        // What else already arrived, so the message shows more than five bytes of the noise.
        Uint8Array.from([...h, ...this.queue.drain()]),
      );
    const tail = await this.queue.readBytes(n + FRAME_TRAILER_BYTES, limits);
    const bytes = Uint8Array.from([...h, ...tail.data]);
    if (tail.end === "closed") throw this.ended(what, bytes);
    if (tail.end === "timeout")
      throw this.fail("garbage", `a truncated reply to ${what} from ${this.port}`, bytes);
    const [event] = new FrameDecoder().push(bytes);
    if (event?.kind !== "frame")
      throw this.fail(
        "garbage",
        `a damaged reply to ${what} from ${this.port}: ${event?.detail ?? "no frame"}`,
        bytes,
      );
    try {
      return decodeReply(event.frame);
    } catch (e) {
      throw this.fail("frame", `the reply to ${what} from ${this.port}: ${(e as Error).message}`, bytes);
    }
  }

  private ended(what: string, received?: Uint8Array): LinkError {
    const end = this.queue.streamEnd;
    return this.fail(
      "disconnected",
      `${this.port} closed while waiting for the reply to ${what}${end?.detail ? ` (${end.detail})` : ""}`,
      received,
    );
  }

  private fail(
    code: "no-answer" | "garbage" | "frame" | "disconnected",
    what: string,
    received?: Uint8Array,
  ) {
    return new LinkError({
      code,
      port: this.port,
      what,
      hint:
        code === "no-answer"
          ? "is the Teensy powered and running a firmware that speaks the ESP32 framing (docs/esp32-link.md), at this baud?"
          : code === "disconnected"
            ? "the Teensy was unplugged or reset, or the virtual Teensy exited"
            : "is this the Teensy's ESP32 port, at the right baud, speaking the framing of docs/esp32-link.md?",
      ...(received !== undefined && received.length > 0 && { received }),
    });
  }

  async close(): Promise<void> {
    await this.stream.close();
  }
}
