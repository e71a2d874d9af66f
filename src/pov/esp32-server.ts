/**
 * The Teensy's side of the ESP32 protocol: frames in, replies out, answered from the
 * {@link SDStorageManager} and the {@link PovEngine}. Transport-neutral (the virtual Teensy puts it
 * behind a pty; scenario steps feed it bytes). A save's chunks are staged in RAM and reach the card
 * only once the image is complete: a broken or garbled transfer never leaves a half-saved file.
 */
import type { Esp32DebugServer } from "./esp32-debug.ts";
import { PovFormatError } from "./format-error.ts";
import {
  FrameDecoder,
  MSG,
  NACK_REASON,
  decodeRequest,
  encodeAck,
  encodeInfoBody,
  encodeListBody,
  encodeNack,
  nackReasonName,
  type DecodeEvent,
  type NackReason,
} from "./esp32-protocol.ts";
import type { PovEngine } from "./pov-engine.ts";
import { SDError, sdErrorName } from "./sd-error.ts";
import type { SDStorageManager } from "./sd-storage.ts";

/** Most names a LIST reply carries (the seed's example buffer: `char filenames[32][64]`). */
export const LIST_MAX = 32;

export class Esp32Server {
  private readonly decoder = new FrameDecoder();
  private staging: {
    name: string;
    width: number;
    height: number;
    pixels: Uint8Array;
    received: number;
  } | null = null;

  /** The debug messages (esp32-debug.ts), on a test firmware only. */
  private debug: Esp32DebugServer | null = null;

  constructor(
    private readonly sd: SDStorageManager,
    private readonly engine: PovEngine,
    private readonly log: (line: string) => void,
    /** Largest image the staging buffer takes (bytes of pixels). */
    private readonly maxImageBytes: number,
  ) {}

  /** Answers the debug messages 0x70..0x78 the firmware implements (the others stay unknown types). */
  attachDebug(debug: Esp32DebugServer): void {
    this.debug = debug;
  }

  /** Bytes from the ESP32 → the reply bytes to send back (possibly several frames, or none). */
  receive(bytes: Uint8Array): Uint8Array {
    return this.answer(this.decoder.push(bytes));
  }

  /** The line went quiet (inter-byte timeout): a partial frame is NACKed as truncated. */
  idle(): Uint8Array {
    return this.answer(this.decoder.idle());
  }

  /** Bytes of a partial frame held. */
  get pending(): number {
    return this.decoder.pending;
  }

  /** True while a chunked save is in progress. */
  get saving(): boolean {
    return this.staging !== null;
  }

  private answer(events: DecodeEvent[]): Uint8Array {
    const out: Uint8Array[] = [];
    for (const e of events) {
      if (e.kind === "error") {
        // A damaged frame in the middle of a transfer ends the transfer: the ESP32 starts over.
        if (this.staging && (e.type === undefined || e.type === MSG.SD_SAVE_IMAGE))
          this.abandon("a damaged frame");
        out.push(this.nack(e.seq ?? 0, e.type ?? 0, e.reason, SDError.SD_OK, e.detail));
        continue;
      }
      out.push(this.handle(e.frame.type, e.frame.seq, e.frame.payload));
    }
    const total = out.reduce((n, b) => n + b.length, 0);
    const joined = new Uint8Array(total);
    let at = 0;
    for (const b of out) {
      joined.set(b, at);
      at += b.length;
    }
    return joined;
  }

  private nack(seq: number, request: number, reason: NackReason, sdError: number, text: string): Uint8Array {
    this.log(`ESP32: NACK ${nackReasonName(reason)}${sdError ? ` ${sdErrorName(sdError)}` : ""}: ${text}`);
    return encodeNack(seq, request, reason, sdError, text);
  }

  private abandon(why: string): void {
    if (!this.staging) return;
    this.log(`ESP32: save of ${this.staging.name} abandoned (${why}); nothing written`);
    this.staging = null;
  }

  private handle(type: number, seq: number, payload: Uint8Array): Uint8Array {
    // A debug message observes: it never ends a chunked save in progress.
    if (this.debug?.handles(type)) return this.debug.handle(type, seq, payload);
    let req;
    try {
      req = decodeRequest({ type, seq, payload });
    } catch (e) {
      if (!(e instanceof PovFormatError)) throw e;
      const reason = e.field === "type" ? NACK_REASON.UNKNOWN_TYPE : NACK_REASON.BAD_PAYLOAD;
      if (type === MSG.SD_SAVE_IMAGE) this.abandon("a malformed chunk");
      return this.nack(seq, type, reason, SDError.SD_OK, e.message.replace(/^frame: /, ""));
    }
    if (req.type !== MSG.SD_SAVE_IMAGE && this.staging)
      this.abandon(`message 0x${req.type.toString(16)} mid-transfer`);
    const sdNack = (code: number, what: string) =>
      this.nack(seq, type, NACK_REASON.SD_ERROR, code, `${what}: ${this.sd.getErrorString(code)}`);
    switch (req.type) {
      case MSG.SD_LIST_IMAGES: {
        const names = this.sd.listImages(LIST_MAX);
        if (this.sd.getLastError() !== SDError.SD_OK) return sdNack(this.sd.getLastError(), "listImages");
        return encodeAck(seq, type, encodeListBody(names));
      }
      case MSG.SD_GET_INFO:
        return encodeAck(
          seq,
          type,
          encodeInfoBody({
            cardPresent: this.sd.isCardPresent(),
            total: this.sd.getTotalSpace(),
            free: this.sd.getFreeSpace(),
          }),
        );
      case MSG.SD_DELETE_IMAGE: {
        const code = this.sd.deleteImage(req.name);
        return code === SDError.SD_OK ? encodeAck(seq, type) : sdNack(code, `deleteImage ${req.name}`);
      }
      case MSG.SD_LOAD_IMAGE: {
        this.debug?.noteLoad(req.name);
        const code = this.engine.loadImageFromSD(req.name, this.sd);
        if (code !== SDError.SD_OK) return sdNack(code, `loadImage ${req.name}`);
        this.engine.setEnabled(true);
        const body = new Uint8Array(4);
        new DataView(body.buffer).setUint16(0, this.engine.width, true);
        new DataView(body.buffer).setUint16(2, this.engine.height, true);
        return encodeAck(seq, type, body);
      }
      case MSG.SD_SAVE_IMAGE: {
        const size = req.width * req.height * 3;
        if (req.offset === 0) {
          if (this.staging) this.abandon("a new transfer started");
          if (size > this.maxImageBytes)
            return sdNack(SDError.SD_ERROR_OUT_OF_MEMORY, `saveImage ${req.name} (${size} bytes)`);
          this.staging = {
            name: req.name,
            width: req.width,
            height: req.height,
            pixels: new Uint8Array(size),
            received: 0,
          };
        }
        const s = this.staging;
        if (
          !s ||
          s.name !== req.name ||
          s.width !== req.width ||
          s.height !== req.height ||
          s.received !== req.offset
        ) {
          const expected = s
            ? `${s.name} ${s.width}x${s.height} offset ${s.received}`
            : "offset 0 (a new transfer)";
          this.abandon("a chunk out of sequence");
          return this.nack(
            seq,
            type,
            NACK_REASON.BAD_SEQUENCE,
            SDError.SD_OK,
            `chunk of ${req.name} ${req.width}x${req.height} at offset ${req.offset}: expected ${expected}`,
          );
        }
        s.pixels.set(req.chunk, req.offset);
        s.received += req.chunk.length;
        if (s.received < size) return encodeAck(seq, type);
        this.staging = null;
        const code = this.sd.saveImage(s.name, s.pixels, s.width, s.height);
        return code === SDError.SD_OK ? encodeAck(seq, type) : sdNack(code, `saveImage ${s.name}`);
      }
    }
  }
}
