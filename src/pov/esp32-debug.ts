/**
 * The ESP32 link's optional debug messages (0x70–0x78): not part of the poi's protocol, spoken only
 * by a test firmware (the virtual Teensy implements all of them; a real Teensy may implement any
 * subset). A host finds out which with DEBUG_HELLO at connect: a firmware that knows none NACKs it
 * as UNKNOWN_TYPE (esp32-protocol.ts), as it NACKs any type it does not know, so asking is safe.
 * Framing, ACK/NACK and seq are the protocol's; multi-byte fields little-endian. docs/esp32-link.md
 * says what a host does with each.
 *
 * ```
 * 0x70 HELLO          req: -                 ACK: version u8 = 1, caps u16, sectors u32, variant u8
 *                                                 (0 as-designed, 1 hardened), boot_id u32 (differs
 *                                                 after every boot), firmware_len u8, firmware
 * 0x71 SECTOR_CRCS    req: lba u32, count u16 (1..255)      ACK: crc32 u32 per sector (zlib CRC-32)
 * 0x72 READ_SECTOR    req: lba u32                          ACK: the 512 bytes
 * 0x73 WRITE_SECTOR   req: lba u32, 512 bytes               ACK: -
 * 0x74 TAKE_LOG       req: -                 ACK: more u8, text (log lines, each ending in \n; a
 *                                                 line may continue in the next reply while more = 1)
 * 0x75 RESET          req: -                 ACK: - , then the MCU resets (the card keeps power)
 * 0x76 CALL           req: call u8, name_len u8, name, [.pat bytes for SAVE_PRESET]
 *                     ACK: BEGIN -, IMAGE_INFO width u16 height u16 size u32, IMAGE_EXISTS u8,
 *                          SAVE_PRESET -, LOAD_PRESET count u8 active u8; an SDError is NACK SD_ERROR
 * 0x77 DISPLAY        req: -                 ACK: width u16, height u16, cached u8 (the last load
 *                                                 came from the RAM cache), sha256 of the pixels shown
 * 0x78 RANGE_CRCS     req: lba u32, per u32 (≥ 1), count u16 (1..255)
 *                     ACK: crc32 u32 per range: zlib CRC-32 of the per × 512 bytes of sectors
 *                          lba + k·per .. lba + (k+1)·per - 1, k = 0..count-1
 * ```
 */
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { NACK_REASON, encodeAck, encodeNack } from "./esp32-protocol.ts";
import { PovFormatError } from "./format-error.ts";
import { decodePat } from "./pat-format.ts";
import type { PovEngine } from "./pov-engine.ts";
import type { PovVariant } from "./pov-format.ts";
import { SDError } from "./sd-error.ts";
import type { SDStorageManager } from "./sd-storage.ts";

export const DEBUG_MSG = {
  HELLO: 0x70,
  SECTOR_CRCS: 0x71,
  READ_SECTOR: 0x72,
  WRITE_SECTOR: 0x73,
  TAKE_LOG: 0x74,
  RESET: 0x75,
  CALL: 0x76,
  DISPLAY: 0x77,
  RANGE_CRCS: 0x78,
} as const;

/** HELLO's capability bits: which groups of debug messages the firmware answers. */
export const DEBUG_CAP = {
  /** SECTOR_CRCS, READ_SECTOR, WRITE_SECTOR: the card's sectors (the card image, provisioning). */
  sectors: 1,
  /** TAKE_LOG: the firmware's log lines (a real Teensy prints them on its USB serial). */
  log: 2,
  /** RESET: an MCU reset without a power cut. */
  reset: 4,
  /** CALL: the SDStorageManager calls the ESP32 messages lack. */
  calls: 8,
  /** DISPLAY: what the POV engine shows. */
  display: 16,
  /** RANGE_CRCS: one CRC per run of sectors, so a host finds the changed sectors without a full scan. */
  ranges: 32,
} as const;
export type DebugCapName = keyof typeof DEBUG_CAP;

/** CALL's call numbers. */
export const DEBUG_CALL = {
  BEGIN: 1,
  IMAGE_INFO: 2,
  IMAGE_EXISTS: 3,
  SAVE_PRESET: 4,
  LOAD_PRESET: 5,
} as const;

export const DEBUG_VERSION = 1;
export const SECTOR_BYTES = 512;
/** Most sectors one SECTOR_CRCS covers (255 × 4 bytes fit a 1024-byte payload with the request byte). */
export const MAX_CRC_SECTORS = 255;
/** Most ranges one RANGE_CRCS covers (as SECTOR_CRCS). */
export const MAX_CRC_RANGES = 255;
/** Text one TAKE_LOG reply carries (MAX_PAYLOAD - request byte - more byte). */
export const LOG_CHUNK_BYTES = 1022;

/** What HELLO says. */
export interface DebugHello {
  readonly version: number;
  readonly caps: ReadonlySet<DebugCapName>;
  readonly sectors: number;
  readonly variant: PovVariant;
  /** Changes at every boot (reset or power-on): how a host knows a power cycle really happened. */
  readonly bootId: number;
  readonly firmware: string;
}

export function encodeHelloBody(h: DebugHello): Uint8Array {
  const fw = new TextEncoder().encode(h.firmware);
  const out = new Uint8Array(13 + fw.length);
  const v = new DataView(out.buffer);
  out[0] = h.version;
  let caps = 0;
  for (const c of h.caps) caps |= DEBUG_CAP[c];
  v.setUint16(1, caps, true);
  v.setUint32(3, h.sectors, true);
  out[7] = h.variant === "hardened" ? 1 : 0;
  v.setUint32(8, h.bootId >>> 0, true);
  out[12] = fw.length;
  out.set(fw, 13);
  return out;
}

/** Parses HELLO's ACK body; throws {@link PovFormatError} naming the field. */
export function decodeHelloBody(body: Uint8Array): DebugHello {
  const fail = (field: string, offset: number, expected: string, found: string): never => {
    throw new PovFormatError("HELLO reply", field, offset, expected, found);
  };
  if (body.length < 13) fail("body", 0, "at least 13 bytes", `${body.length} bytes`);
  const v = new DataView(body.buffer, body.byteOffset, body.length);
  if (body[7] > 1) fail("variant", 7, "0 or 1", String(body[7]));
  if (body.length !== 13 + body[12]) fail("firmware", 12, `${body[12]} bytes`, `${body.length - 13} bytes`);
  const bits = v.getUint16(1, true);
  const caps = new Set<DebugCapName>();
  for (const [name, bit] of Object.entries(DEBUG_CAP)) if (bits & bit) caps.add(name as DebugCapName);
  return {
    version: body[0],
    caps,
    sectors: v.getUint32(3, true),
    variant: body[7] === 1 ? "hardened" : "as-designed",
    bootId: v.getUint32(8, true),
    firmware: new TextDecoder().decode(body.subarray(13)),
  };
}

/** What the debug messages reach on the device besides the store and the engine. */
export interface DebugDevice {
  readonly caps: ReadonlySet<DebugCapName>;
  readonly firmware: string;
  readonly variant: PovVariant;
  bootId(): number;
  /** Sectors of the card. */
  sectors(): number;
  readSector(lba: number): Uint8Array;
  /** `count` sectors from `lba` in one read (RANGE_CRCS; without it, {@link readSector} one by one). */
  readSectors?(lba: number, count: number): Uint8Array;
  writeSector(lba: number, bytes: Uint8Array): void;
  /** Log lines since the last call. */
  takeLog(): string[];
  /** Resets the MCU once the ACK has gone out. */
  reset(): void;
}

/**
 * The firmware's side of the debug messages, next to {@link Esp32Server}: a frame of type 0x70..0x78
 * whose capability the device has → its reply; any other → null (the server NACKs it as unknown).
 */
export class Esp32DebugServer {
  private logText = "";
  private lastLoadCached = false;

  constructor(
    private readonly device: DebugDevice,
    private readonly sd: () => SDStorageManager,
    private readonly engine: () => PovEngine,
  ) {}

  /** Before a LOAD_IMAGE: whether the image is served from the cache (DISPLAY reports it). */
  noteLoad(name: string): void {
    this.lastLoadCached = this.sd().isCached(name);
  }

  /** HELLO is answered whenever the firmware has any debug capability. */
  handles(type: number): boolean {
    if (type === DEBUG_MSG.HELLO) return this.device.caps.size > 0;
    const cap = capOf(type);
    return cap !== undefined && this.device.caps.has(cap);
  }

  handle(type: number, seq: number, p: Uint8Array): Uint8Array {
    const v = new DataView(p.buffer, p.byteOffset, p.length);
    const bad = (what: string) => encodeNack(seq, type, NACK_REASON.BAD_PAYLOAD, SDError.SD_OK, what);
    const sectors = this.device.sectors();
    const lbaOk = (lba: number, n: number) => lba + n <= sectors;
    switch (type) {
      case DEBUG_MSG.HELLO:
        if (p.length !== 0) return bad(`payload: expected no payload, found ${p.length} bytes`);
        return encodeAck(
          seq,
          type,
          encodeHelloBody({
            version: DEBUG_VERSION,
            caps: this.device.caps,
            sectors,
            variant: this.device.variant,
            bootId: this.device.bootId(),
            firmware: this.device.firmware,
          }),
        );
      case DEBUG_MSG.SECTOR_CRCS: {
        if (p.length !== 6) return bad(`payload: expected lba u32 + count u16 (6 bytes), found ${p.length}`);
        const lba = v.getUint32(0, true);
        const n = v.getUint16(4, true);
        if (n < 1 || n > MAX_CRC_SECTORS) return bad(`count at offset 9: expected 1..255, found ${n}`);
        if (!lbaOk(lba, n)) return bad(`lba at offset 5: sectors ${lba}+${n} beyond the card's ${sectors}`);
        const out = new Uint8Array(n * 4);
        const ov = new DataView(out.buffer);
        for (let i = 0; i < n; i++) ov.setUint32(i * 4, crc32(this.device.readSector(lba + i)), true);
        return encodeAck(seq, type, out);
      }
      case DEBUG_MSG.RANGE_CRCS: {
        if (p.length !== 10)
          return bad(`payload: expected lba u32 + per u32 + count u16 (10 bytes), found ${p.length}`);
        const lba = v.getUint32(0, true);
        const per = v.getUint32(4, true);
        const n = v.getUint16(8, true);
        if (per < 1) return bad(`per at offset 9: expected at least 1, found 0`);
        if (n < 1 || n > MAX_CRC_RANGES) return bad(`count at offset 13: expected 1..255, found ${n}`);
        if (!lbaOk(lba, per * n))
          return bad(`lba at offset 5: sectors ${lba}+${per}x${n} beyond the card's ${sectors}`);
        const out = new Uint8Array(n * 4);
        const ov = new DataView(out.buffer);
        const read = (at: number, count: number): Uint8Array => {
          if (this.device.readSectors) return this.device.readSectors(at, count);
          const b = new Uint8Array(count * SECTOR_BYTES);
          for (let i = 0; i < count; i++) b.set(this.device.readSector(at + i), i * SECTOR_BYTES);
          return b;
        };
        for (let k = 0; k < n; k++) ov.setUint32(k * 4, crc32(read(lba + k * per, per)), true);
        return encodeAck(seq, type, out);
      }
      case DEBUG_MSG.READ_SECTOR: {
        if (p.length !== 4) return bad(`payload: expected lba u32 (4 bytes), found ${p.length}`);
        const lba = v.getUint32(0, true);
        if (!lbaOk(lba, 1)) return bad(`lba at offset 5: ${lba} beyond the card's ${sectors} sectors`);
        return encodeAck(seq, type, this.device.readSector(lba));
      }
      case DEBUG_MSG.WRITE_SECTOR: {
        if (p.length !== 4 + SECTOR_BYTES)
          return bad(`payload: expected lba u32 + 512 bytes, found ${p.length} bytes`);
        const lba = v.getUint32(0, true);
        if (!lbaOk(lba, 1)) return bad(`lba at offset 5: ${lba} beyond the card's ${sectors} sectors`);
        this.device.writeSector(lba, p.slice(4));
        return encodeAck(seq, type);
      }
      case DEBUG_MSG.TAKE_LOG: {
        for (const line of this.device.takeLog()) this.logText += `${line}\n`;
        // Latin-1 one byte per character, as the protocol's names (esp32-protocol.ts).
        const chunk = this.logText.slice(0, LOG_CHUNK_BYTES);
        this.logText = this.logText.slice(chunk.length);
        const body = Uint8Array.from([this.logText.length > 0 ? 1 : 0, ...latin1(chunk)]);
        return encodeAck(seq, type, body);
      }
      case DEBUG_MSG.RESET:
        this.device.reset();
        return encodeAck(seq, type);
      case DEBUG_MSG.CALL:
        return this.call(seq, p);
      default: {
        const e = this.engine();
        const body = new Uint8Array(5 + 32);
        const bv = new DataView(body.buffer);
        bv.setUint16(0, e.width, true);
        bv.setUint16(2, e.height, true);
        body[4] = this.lastLoadCached ? 1 : 0;
        body.set(createHash("sha256").update(e.pixels()).digest(), 5);
        return encodeAck(seq, type, body);
      }
    }
  }

  private call(seq: number, p: Uint8Array): Uint8Array {
    const type = DEBUG_MSG.CALL;
    if (p.length < 2 || p.length < 2 + p[1])
      return encodeNack(seq, type, NACK_REASON.BAD_PAYLOAD, SDError.SD_OK, "payload: expected call, name");
    const name = new TextDecoder("latin1").decode(p.subarray(2, 2 + p[1]));
    const rest = p.subarray(2 + p[1]);
    const sd = this.sd();
    const sdNack = (code: number) =>
      encodeNack(seq, type, NACK_REASON.SD_ERROR, code, `${name}: ${sd.getErrorString(code)}`);
    switch (p[0]) {
      case DEBUG_CALL.BEGIN:
        return sd.begin() ? encodeAck(seq, type) : sdNack(sd.getLastError());
      case DEBUG_CALL.IMAGE_INFO: {
        const r = sd.getImageInfo(name);
        if (r.error !== SDError.SD_OK) return sdNack(r.error);
        const body = new Uint8Array(8);
        const v = new DataView(body.buffer);
        v.setUint16(0, r.width, true);
        v.setUint16(2, r.height, true);
        v.setUint32(4, r.fileSize, true);
        return encodeAck(seq, type, body);
      }
      case DEBUG_CALL.IMAGE_EXISTS: {
        const exists = sd.imageExists(name);
        if (sd.getLastError() !== SDError.SD_OK) return sdNack(sd.getLastError());
        return encodeAck(seq, type, Uint8Array.of(exists ? 1 : 0));
      }
      case DEBUG_CALL.SAVE_PRESET: {
        let patterns;
        try {
          patterns = decodePat(rest, { file: "CALL" });
        } catch (e) {
          if (!(e instanceof PovFormatError)) throw e;
          return encodeNack(seq, type, NACK_REASON.BAD_PAYLOAD, SDError.SD_OK, e.message);
        }
        const code = sd.savePatternPreset(name, patterns);
        return code === SDError.SD_OK ? encodeAck(seq, type) : sdNack(code);
      }
      case DEBUG_CALL.LOAD_PRESET: {
        const r = sd.loadPatternPreset(name);
        if (r.error !== SDError.SD_OK) return sdNack(r.error);
        return encodeAck(
          seq,
          type,
          Uint8Array.of(r.patterns.length, r.patterns.filter((x) => x.active).length),
        );
      }
      default:
        return encodeNack(seq, type, NACK_REASON.BAD_PAYLOAD, SDError.SD_OK, `call: unknown call ${p[0]}`);
    }
  }
}

function capOf(type: number): DebugCapName | undefined {
  switch (type) {
    case DEBUG_MSG.SECTOR_CRCS:
    case DEBUG_MSG.READ_SECTOR:
    case DEBUG_MSG.WRITE_SECTOR:
      return "sectors";
    case DEBUG_MSG.RANGE_CRCS:
      return "ranges";
    case DEBUG_MSG.TAKE_LOG:
      return "log";
    case DEBUG_MSG.RESET:
      return "reset";
    case DEBUG_MSG.CALL:
      return "calls";
    case DEBUG_MSG.DISPLAY:
      return "display";
    default:
      return undefined;
  }
}

function latin1(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0) & 0xff);
}
