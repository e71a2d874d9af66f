/**
 * The ESP32 ↔ Teensy serial protocol of seed 002 (messages 0x10–0x14), with the framing the seed
 * leaves open settled here (README.md, "ESP32 framing"):
 *
 * ```
 * frame  = SOF 0xA5 | type u8 | seq u8 | length u16 LE | payload[length] | crc32 u32 LE
 * crc32  = CRC-32 (IEEE/zlib, as the ESP32 ROM's esp_crc32_le) of type, seq, length and payload
 * length ≤ 1024 (MAX_PAYLOAD); a 34,560-byte image travels as 0x10 chunks
 * reply  = ACK 0x06 or NACK 0x15 (ASCII ACK/NAK), same framing, echoing the request's seq;
 *          ACK  payload: request type, then the seed's response body
 *          NACK payload: request type (0 if unknown), reason u8, SDError u8, reason text (ASCII)
 * ```
 *
 * Request payloads (the seed's formats; multi-byte fields little-endian):
 * - 0x10 SAVE_IMAGE: name_len u8, name, width u16, height u16, offset u32, chunk bytes. The chunks of
 *   one image come in order (offset = bytes already sent); the Teensy keeps them in RAM and calls
 *   saveImage once the last byte arrived, so a broken transfer never reaches the card.
 * - 0x11 LIST_IMAGES: empty. ACK body: count u8, then name_len u8 + name per image.
 * - 0x12 DELETE_IMAGE: name_len u8, name. ACK body: empty.
 * - 0x13 GET_INFO: empty. ACK body: card_present u8, total u64, free u64 (bytes).
 * - 0x14 LOAD_IMAGE: name_len u8, name. ACK body: width u16, height u16.
 */
import { crc32 } from "node:zlib";
import { PovFormatError, hex32 } from "./format-error.ts";

export const SOF = 0xa5;
export const ACK = 0x06;
export const NACK = 0x15;
export const MAX_PAYLOAD = 1024;
/** SOF + type + seq + length. */
export const FRAME_HEADER_BYTES = 5;
export const FRAME_TRAILER_BYTES = 4;

export const MSG = {
  SD_SAVE_IMAGE: 0x10,
  SD_LIST_IMAGES: 0x11,
  SD_DELETE_IMAGE: 0x12,
  SD_GET_INFO: 0x13,
  SD_LOAD_IMAGE: 0x14,
} as const;
export type MsgType = (typeof MSG)[keyof typeof MSG];
const MSG_TYPES = new Set<number>(Object.values(MSG));

/** Why a frame was refused (the NACK's reason byte). */
export const NACK_REASON = {
  BAD_CHECKSUM: 1,
  BAD_LENGTH: 2,
  TRUNCATED: 3,
  GARBAGE: 4,
  UNKNOWN_TYPE: 5,
  BAD_PAYLOAD: 6,
  SD_ERROR: 7,
  BAD_SEQUENCE: 8,
} as const;
export type NackReasonName = keyof typeof NACK_REASON;
export type NackReason = (typeof NACK_REASON)[NackReasonName];

export function nackReasonName(code: number): string {
  for (const [k, v] of Object.entries(NACK_REASON)) if (v === code) return k;
  return `reason ${code}`;
}

/** One frame on the wire. */
export interface Frame {
  readonly type: number;
  readonly seq: number;
  readonly payload: Uint8Array;
}

/** Frames `payload` (≤ {@link MAX_PAYLOAD} bytes). */
export function encodeFrame(frame: Frame): Uint8Array {
  const n = frame.payload.length;
  if (n > MAX_PAYLOAD) throw new RangeError(`payload ${n} bytes exceeds MAX_PAYLOAD ${MAX_PAYLOAD}`);
  const out = new Uint8Array(FRAME_HEADER_BYTES + n + FRAME_TRAILER_BYTES);
  out[0] = SOF;
  out[1] = frame.type & 0xff;
  out[2] = frame.seq & 0xff;
  out[3] = n & 0xff;
  out[4] = n >>> 8;
  out.set(frame.payload, FRAME_HEADER_BYTES);
  new DataView(out.buffer).setUint32(
    FRAME_HEADER_BYTES + n,
    crc32(out.subarray(1, FRAME_HEADER_BYTES + n)),
    true,
  );
  return out;
}

/** What the decoder produced. */
export type DecodeEvent =
  | { readonly kind: "frame"; readonly frame: Frame }
  | {
      readonly kind: "error";
      readonly reason: NackReason;
      /** What was wrong, for the NACK's text. */
      readonly detail: string;
      /** Type and seq of the damaged frame when its header was read. */
      readonly type?: number;
      readonly seq?: number;
    };

/**
 * The strict streaming decoder: bytes in any chunking → frames and errors. Garbage before a SOF is
 * one GARBAGE error; a length above MAX_PAYLOAD is BAD_LENGTH; a checksum mismatch BAD_CHECKSUM (the
 * decoder then resynchronises on the next SOF after the bad frame's SOF); {@link idle} (the line was
 * quiet, the caller's inter-byte timeout) turns a partial frame into TRUNCATED. Never throws.
 */
export class FrameDecoder {
  private buf: number[] = [];
  private garbage = 0;

  push(bytes: Uint8Array): DecodeEvent[] {
    const out: DecodeEvent[] = [];
    for (const b of bytes) this.buf.push(b);
    this.scan(out);
    return out;
  }

  /** The line went quiet: a partial frame is truncated; pending garbage is reported. */
  idle(): DecodeEvent[] {
    const out: DecodeEvent[] = [];
    if (this.buf.length > 0) {
      const type = this.buf.length > 1 ? this.buf[1] : undefined;
      const seq = this.buf.length > 2 ? this.buf[2] : undefined;
      const want =
        this.buf.length >= FRAME_HEADER_BYTES
          ? FRAME_HEADER_BYTES + (this.buf[3] | (this.buf[4] << 8)) + FRAME_TRAILER_BYTES
          : undefined;
      out.push({
        kind: "error",
        reason: NACK_REASON.TRUNCATED,
        detail: `truncated frame: ${this.buf.length} of ${want ?? "at least " + FRAME_HEADER_BYTES} bytes`,
        ...(type !== undefined && { type }),
        ...(seq !== undefined && { seq }),
      });
      this.buf = [];
    }
    this.flushGarbage(out);
    return out;
  }

  /** Bytes held (a partial frame). */
  get pending(): number {
    return this.buf.length;
  }

  private flushGarbage(out: DecodeEvent[]): void {
    if (this.garbage === 0) return;
    out.push({
      kind: "error",
      reason: NACK_REASON.GARBAGE,
      detail: `${this.garbage} byte${this.garbage === 1 ? "" : "s"} outside any frame (expected SOF 0xa5)`,
    });
    this.garbage = 0;
  }

  private scan(out: DecodeEvent[]): void {
    for (;;) {
      let skip = 0;
      while (skip < this.buf.length && this.buf[skip] !== SOF) skip++;
      if (skip > 0) {
        this.garbage += skip;
        this.buf.splice(0, skip);
      }
      if (this.buf.length === 0) return;
      if (this.garbage > 0) this.flushGarbage(out);
      if (this.buf.length < FRAME_HEADER_BYTES) return;
      const type = this.buf[1];
      const seq = this.buf[2];
      const n = this.buf[3] | (this.buf[4] << 8);
      if (n > MAX_PAYLOAD) {
        out.push({
          kind: "error",
          reason: NACK_REASON.BAD_LENGTH,
          detail: `length at offset 3: expected at most ${MAX_PAYLOAD}, found ${n}`,
          type,
          seq,
        });
        this.buf.splice(0, 1);
        continue;
      }
      const total = FRAME_HEADER_BYTES + n + FRAME_TRAILER_BYTES;
      if (this.buf.length < total) return;
      const bytes = Uint8Array.from(this.buf.slice(0, total));
      const want = crc32(bytes.subarray(1, FRAME_HEADER_BYTES + n));
      const got = new DataView(bytes.buffer).getUint32(FRAME_HEADER_BYTES + n, true);
      if (want !== got) {
        out.push({
          kind: "error",
          reason: NACK_REASON.BAD_CHECKSUM,
          detail: `crc32 at offset ${FRAME_HEADER_BYTES + n}: expected ${hex32(want)}, found ${hex32(got)}`,
          type,
          seq,
        });
        this.buf.splice(0, 1);
        continue;
      }
      this.buf.splice(0, total);
      out.push({
        kind: "frame",
        frame: { type, seq, payload: bytes.slice(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + n) },
      });
    }
  }
}

/** A decoded request. */
export type Esp32Request =
  | {
      readonly type: typeof MSG.SD_SAVE_IMAGE;
      readonly name: string;
      readonly width: number;
      readonly height: number;
      /** Byte offset of this chunk in the image's pixel data. */
      readonly offset: number;
      readonly chunk: Uint8Array;
    }
  | { readonly type: typeof MSG.SD_LIST_IMAGES }
  | { readonly type: typeof MSG.SD_DELETE_IMAGE; readonly name: string }
  | { readonly type: typeof MSG.SD_GET_INFO }
  | { readonly type: typeof MSG.SD_LOAD_IMAGE; readonly name: string };

const ascii = new TextDecoder("latin1");
const encodeAscii = (s: string): Uint8Array => Uint8Array.from([...s].map((c) => c.charCodeAt(0) & 0xff));

function nameBytes(name: string): Uint8Array {
  const b = encodeAscii(name);
  if (b.length < 1 || b.length > 255) throw new RangeError(`name must be 1..255 bytes, got ${b.length}`);
  return Uint8Array.from([b.length, ...b]);
}

/** Payload of a request (one frame; a save is one chunk). */
export function encodeRequestPayload(req: Esp32Request): Uint8Array {
  switch (req.type) {
    case MSG.SD_LIST_IMAGES:
    case MSG.SD_GET_INFO:
      return new Uint8Array(0);
    case MSG.SD_DELETE_IMAGE:
    case MSG.SD_LOAD_IMAGE:
      return nameBytes(req.name);
    case MSG.SD_SAVE_IMAGE: {
      const n = nameBytes(req.name);
      const out = new Uint8Array(n.length + 8 + req.chunk.length);
      out.set(n);
      const v = new DataView(out.buffer);
      v.setUint16(n.length, req.width, true);
      v.setUint16(n.length + 2, req.height, true);
      v.setUint32(n.length + 4, req.offset, true);
      out.set(req.chunk, n.length + 8);
      return out;
    }
  }
}

/** Save-image overhead before the chunk for a name of `nameLength` bytes. */
export function saveChunkOverhead(nameLength: number): number {
  return 1 + nameLength + 8;
}

/**
 * The frames that save one image: chunks of at most `chunkBytes` (default: as large as MAX_PAYLOAD
 * allows), seq numbers from `firstSeq`.
 */
export function saveImageFrames(
  image: { name: string; width: number; height: number; pixels: Uint8Array },
  options: { chunkBytes?: number; firstSeq?: number } = {},
): Uint8Array[] {
  const room = MAX_PAYLOAD - saveChunkOverhead(encodeAscii(image.name).length);
  const chunk = Math.min(options.chunkBytes ?? room, room);
  if (chunk < 1) throw new RangeError("the name leaves no room for pixels in a frame");
  const frames: Uint8Array[] = [];
  let seq = options.firstSeq ?? 0;
  for (let offset = 0; offset < image.pixels.length || offset === 0; offset += chunk) {
    const payload = encodeRequestPayload({
      type: MSG.SD_SAVE_IMAGE,
      name: image.name,
      width: image.width,
      height: image.height,
      offset,
      chunk: image.pixels.subarray(offset, offset + chunk),
    });
    frames.push(encodeFrame({ type: MSG.SD_SAVE_IMAGE, seq: seq++ & 0xff, payload }));
    if (image.pixels.length === 0) break;
  }
  return frames;
}

/** Parses a request frame's payload strictly; throws {@link PovFormatError} (file `frame`). */
export function decodeRequest(frame: Frame): Esp32Request {
  const p = frame.payload;
  const fail = (field: string, offset: number, expected: string, found: string): never => {
    throw new PovFormatError("frame", field, FRAME_HEADER_BYTES + offset, expected, found);
  };
  if (!MSG_TYPES.has(frame.type))
    fail("type", -4, "a message type 0x10..0x14", `0x${frame.type.toString(16).padStart(2, "0")}`);
  const readName = (): { name: string; end: number } => {
    if (p.length < 1) fail("name_len", 0, "1 byte", "end of payload");
    const n = p[0];
    if (n === 0) fail("name_len", 0, "1..255", "0");
    if (p.length < 1 + n) fail("name", 1, `${n} bytes`, `${p.length - 1} bytes`);
    const name = ascii.decode(p.subarray(1, 1 + n));
    const bad = [...name].findIndex((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) > 0x7e);
    if (bad >= 0) fail("name", 1 + bad, "printable ASCII", `0x${name.charCodeAt(bad).toString(16)}`);
    return { name, end: 1 + n };
  };
  const empty = () => {
    if (p.length !== 0) fail("payload", 0, "no payload", `${p.length} bytes`);
  };
  switch (frame.type) {
    case MSG.SD_LIST_IMAGES:
      empty();
      return { type: MSG.SD_LIST_IMAGES };
    case MSG.SD_GET_INFO:
      empty();
      return { type: MSG.SD_GET_INFO };
    case MSG.SD_DELETE_IMAGE:
    case MSG.SD_LOAD_IMAGE: {
      const { name, end } = readName();
      if (end !== p.length) fail("payload", end, `${end} bytes (name_len + name)`, `${p.length} bytes`);
      return { type: frame.type, name };
    }
    default: {
      const { name, end } = readName();
      if (p.length < end + 8) fail("width/height/offset", end, "8 bytes", `${p.length - end} bytes`);
      const v = new DataView(p.buffer, p.byteOffset, p.length);
      const width = v.getUint16(end, true);
      const height = v.getUint16(end + 2, true);
      if (width === 0) fail("width", end, "1..65535", "0");
      if (height === 0) fail("height", end + 2, "1..65535", "0");
      const offset = v.getUint32(end + 4, true);
      const chunk = p.slice(end + 8);
      if (offset + chunk.length > width * height * 3)
        fail(
          "offset",
          end + 4,
          `offset + chunk ≤ width*height*3 = ${width * height * 3}`,
          `${offset} + ${chunk.length}`,
        );
      return { type: MSG.SD_SAVE_IMAGE, name, width, height, offset, chunk };
    }
  }
}

/** A decoded reply. */
export type Esp32Reply =
  | { readonly kind: "ack"; readonly seq: number; readonly request: number; readonly body: Uint8Array }
  | {
      readonly kind: "nack";
      readonly seq: number;
      readonly request: number;
      readonly reason: number;
      readonly sdError: number;
      readonly text: string;
    };

export function encodeAck(seq: number, request: number, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  return encodeFrame({ type: ACK, seq, payload: Uint8Array.from([request, ...body]) });
}

export function encodeNack(
  seq: number,
  request: number,
  reason: NackReason,
  sdError: number,
  text: string,
): Uint8Array {
  const t = encodeAscii(text.slice(0, MAX_PAYLOAD - 3));
  return encodeFrame({ type: NACK, seq, payload: Uint8Array.from([request, reason, sdError, ...t]) });
}

/** Parses a reply frame (the ESP32 side). Throws {@link PovFormatError}. */
export function decodeReply(frame: Frame): Esp32Reply {
  const p = frame.payload;
  if (frame.type === ACK) {
    if (p.length < 1) throw new PovFormatError("frame", "request", FRAME_HEADER_BYTES, "1 byte", "none");
    return { kind: "ack", seq: frame.seq, request: p[0], body: p.slice(1) };
  }
  if (frame.type === NACK) {
    if (p.length < 3)
      throw new PovFormatError(
        "frame",
        "nack",
        FRAME_HEADER_BYTES,
        "request, reason, sdError",
        `${p.length} bytes`,
      );
    return {
      kind: "nack",
      seq: frame.seq,
      request: p[0],
      reason: p[1],
      sdError: p[2],
      text: ascii.decode(p.subarray(3)),
    };
  }
  throw new PovFormatError("frame", "type", 1, "ACK 0x06 or NACK 0x15", `0x${frame.type.toString(16)}`);
}

/** The LIST ACK body: count, then (len, name) each. */
export function encodeListBody(names: readonly string[]): Uint8Array {
  const parts = names.map(nameBytes);
  return Uint8Array.from([names.length, ...parts.flatMap((b) => [...b])]);
}

export function decodeListBody(body: Uint8Array): string[] {
  const count = body[0] ?? 0;
  const names: string[] = [];
  let at = 1;
  for (let i = 0; i < count; i++) {
    const n = body[at];
    if (n === undefined || at + 1 + n > body.length)
      throw new PovFormatError(
        "frame",
        `names[${i}]`,
        FRAME_HEADER_BYTES + 1 + at,
        "name_len + name",
        "end of payload",
      );
    names.push(ascii.decode(body.subarray(at + 1, at + 1 + n)));
    at += 1 + n;
  }
  return names;
}

/** The GET_INFO ACK body. */
export function encodeInfoBody(info: { cardPresent: boolean; total: number; free: number }): Uint8Array {
  const out = new Uint8Array(17);
  const v = new DataView(out.buffer);
  out[0] = info.cardPresent ? 1 : 0;
  v.setBigUint64(1, BigInt(info.total), true);
  v.setBigUint64(9, BigInt(info.free), true);
  return out;
}

export function decodeInfoBody(body: Uint8Array): { cardPresent: boolean; total: number; free: number } {
  if (body.length !== 17)
    throw new PovFormatError("frame", "info", FRAME_HEADER_BYTES + 1, "17 bytes", `${body.length} bytes`);
  const v = new DataView(body.buffer, body.byteOffset, 17);
  return {
    cardPresent: body[0] === 1,
    total: Number(v.getBigUint64(1, true)),
    free: Number(v.getBigUint64(9, true)),
  };
}
