/**
 * The ESP32 link's debug messages (src/pov/esp32-debug.ts): hand-written byte vectors (CRCs computed
 * independently with Python's zlib.crc32), HELLO's body both ways, the sector messages on a RAM card,
 * RANGE_CRCS, TAKE_LOG's continuation, a firmware without debug messages NACKing HELLO as an unknown type, and a
 * debug message in the middle of a chunked save leaving the save alone.
 */
import { describe, expect, it } from "vitest";
import {
  DEBUG_MSG,
  Esp32DebugServer,
  Esp32Server,
  FrameDecoder,
  MSG,
  NACK_REASON,
  PovEngine,
  decodeHelloBody,
  decodeReply,
  encodeFrame,
  encodeHelloBody,
  saveImageFrames,
  type DebugCapName,
  type DebugDevice,
  type SDStorageManager,
} from "../../src/pov/index.ts";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function device(
  caps: DebugCapName[],
  lines: string[] = [],
): DebugDevice & { card: Uint8Array; resets: number } {
  const card = new Uint8Array(8 * 512);
  card.fill(1, 3 * 512, 4 * 512);
  const d = {
    card,
    resets: 0,
    caps: new Set(caps),
    firmware: "1.0",
    variant: "as-designed" as const,
    bootId: () => 2,
    sectors: () => 8,
    readSector: (lba: number) => card.slice(lba * 512, lba * 512 + 512),
    writeSector: (lba: number, b: Uint8Array) => card.set(b, lba * 512),
    takeLog: () => lines.splice(0),
    reset: () => void d.resets++,
  };
  return d;
}

/** A server with a store that must not be reached by these messages. */
function server(debug?: Esp32DebugServer): Esp32Server {
  const sd = new Proxy({} as SDStorageManager, {
    get: (_t, k) => {
      throw new Error(`the store was reached (${String(k)})`);
    },
  });
  const s = new Esp32Server(sd, new PovEngine(), () => undefined, 1024);
  if (debug) s.attachDebug(debug);
  return s;
}

const replies = (bytes: Uint8Array) =>
  new FrameDecoder().push(bytes).map((e) => {
    if (e.kind !== "frame") throw new Error(e.detail);
    return decodeReply(e.frame);
  });

describe("ESP32 debug messages", () => {
  const all: DebugCapName[] = ["sectors", "log", "reset", "calls", "display"];

  it("HELLO: the request and its ACK as bytes", () => {
    const d = device(all);
    const s = server(
      new Esp32DebugServer(
        d,
        () => null as never,
        () => null as never,
      ),
    );
    expect(toHex(encodeFrame({ type: DEBUG_MSG.HELLO, seq: 0, payload: new Uint8Array(0) }))).toBe(
      toHex(hex("a5 70 00 0000 807f7b4a")),
    );
    // version 1, caps 0x001f, 8 sectors, as-designed, boot id 2, firmware "1.0".
    const body = "01 1f00 08000000 00 02000000 03 312e30";
    const reply = s.receive(hex("a5 70 00 0000 807f7b4a"));
    const [r] = replies(reply);
    expect(r).toMatchObject({ kind: "ack", seq: 0, request: 0x70 });
    expect(toHex((r as { body: Uint8Array }).body)).toBe(toHex(hex(body)));
    expect(decodeHelloBody(hex(body))).toEqual({
      version: 1,
      caps: new Set(all),
      sectors: 8,
      variant: "as-designed",
      bootId: 2,
      firmware: "1.0",
    });
    // The vector of the seed-like 64 MiB card, written by hand.
    expect(
      toHex(
        encodeHelloBody({
          version: 1,
          caps: new Set(all),
          sectors: 131072,
          variant: "as-designed",
          bootId: 2,
          firmware: "1.0",
        }),
      ),
    ).toBe("011f0000000200000200000003312e30");
    expect(() => decodeHelloBody(hex("01 1f00 08000000 02 02000000 00"))).toThrow(
      /variant.*offset 7.*0 or 1/,
    );
    expect(() => decodeHelloBody(hex("01 1f00 08000000 00 02000000 05 31"))).toThrow(/firmware.*5 bytes/);
  });

  it("a firmware without debug messages NACKs HELLO as an unknown type (the host's negotiation)", () => {
    const [r] = replies(server().receive(hex("a5 70 00 0000 807f7b4a")));
    expect(r).toMatchObject({ kind: "nack", request: 0x70, reason: NACK_REASON.UNKNOWN_TYPE });
    // So does one whose capabilities leave the message out.
    const s = server(
      new Esp32DebugServer(
        device(["log"]),
        () => null as never,
        () => null as never,
      ),
    );
    expect(replies(s.receive(hex("a5 71 05 0600 020000000300 d0381c10")))[0]).toMatchObject({
      kind: "nack",
      reason: NACK_REASON.UNKNOWN_TYPE,
    });
  });

  it("SECTOR_CRCS, READ_SECTOR, WRITE_SECTOR on the card; bad ranges are BAD_PAYLOAD", () => {
    const d = device(all);
    const s = server(
      new Esp32DebugServer(
        d,
        () => null as never,
        () => null as never,
      ),
    );
    // lba 2, count 3: zero, ones (sector 3), zero. crc32(512 x 00) = b2aa7578, crc32(512 x 01) = 83e5c6ff.
    const [crcs] = replies(s.receive(hex("a5 71 05 0600 020000000300 d0381c10")));
    expect(toHex((crcs as { body: Uint8Array }).body)).toBe("7875aab2ffc6e5837875aab2");
    const write = new Uint8Array(4 + 512).fill(0x5a);
    write.set([6, 0, 0, 0]);
    expect(replies(s.receive(encodeFrame({ type: 0x73, seq: 1, payload: write })))[0].kind).toBe("ack");
    const [read] = replies(s.receive(encodeFrame({ type: 0x72, seq: 2, payload: hex("06000000") })));
    expect((read as { body: Uint8Array }).body).toEqual(new Uint8Array(512).fill(0x5a));
    const [beyond] = replies(s.receive(encodeFrame({ type: 0x71, seq: 3, payload: hex("07000000 0200") })));
    expect(beyond).toMatchObject({ kind: "nack", reason: NACK_REASON.BAD_PAYLOAD });
    expect((beyond as { text: string }).text).toMatch(/sectors 7\+2 beyond the card's 8/);
  });

  it("RANGE_CRCS: one CRC-32 per run of sectors; a firmware without 'ranges' NACKs it as unknown", () => {
    const s = server(
      new Esp32DebugServer(
        device(["sectors", "ranges"]),
        () => null as never,
        () => null as never,
      ),
    );
    // lba 2, per 2, count 3: sectors 2-3 (zero, ones), 4-5 and 6-7 (zeros).
    // crc32(512 x 00 + 512 x 01) = defa1ca9, crc32(1024 x 00) = efb5af2e (Python zlib.crc32).
    const req = "a5 78 06 0a00 02000000 02000000 0300 fdc14f20";
    expect(
      toHex(encodeFrame({ type: DEBUG_MSG.RANGE_CRCS, seq: 6, payload: hex("02000000 02000000 0300") })),
    ).toBe(toHex(hex(req)));
    const [r] = replies(s.receive(hex(req)));
    expect(r).toMatchObject({ kind: "ack", seq: 6, request: 0x78 });
    expect(toHex((r as { body: Uint8Array }).body)).toBe("a91cfade2eafb5ef2eafb5ef");
    const nack = (payload: string) =>
      replies(s.receive(encodeFrame({ type: 0x78, seq: 7, payload: hex(payload) })))[0] as {
        reason: number;
        text: string;
      };
    expect(nack("03000000 03000000 0200")).toMatchObject({ reason: NACK_REASON.BAD_PAYLOAD });
    expect(nack("03000000 03000000 0200").text).toMatch(/sectors 3\+3x2 beyond the card's 8/);
    expect(nack("00000000 00000000 0100").text).toMatch(/per at offset 9/);
    expect(nack("00000000 01000000 0000").text).toMatch(/count at offset 13: expected 1..255, found 0/);
    const old = server(
      new Esp32DebugServer(
        device(["sectors"]),
        () => null as never,
        () => null as never,
      ),
    );
    expect(replies(old.receive(hex(req)))[0]).toMatchObject({
      kind: "nack",
      reason: NACK_REASON.UNKNOWN_TYPE,
    });
  });

  it("TAKE_LOG: lines end in \\n and continue in the next reply while more = 1", () => {
    const lines = ["POV poi firmware 1.0", "x".repeat(1500)];
    const s = server(
      new Esp32DebugServer(
        device(all, lines),
        () => null as never,
        () => null as never,
      ),
    );
    const take = (seq: number) =>
      replies(s.receive(encodeFrame({ type: 0x74, seq, payload: new Uint8Array(0) })))[0] as {
        body: Uint8Array;
      };
    const a = take(0).body;
    const b = take(1).body;
    expect([a[0], b[0], a.length - 1]).toEqual([1, 0, 1022]);
    const text = Buffer.from([...a.subarray(1), ...b.subarray(1)]).toString("latin1");
    expect(text).toBe(`POV poi firmware 1.0\n${"x".repeat(1500)}\n`);
    expect(take(2).body).toEqual(Uint8Array.of(0));
  });

  it("a debug message in the middle of a chunked save leaves the save alone; RESET is ACKed first", () => {
    const saved: string[] = [];
    const sd = {
      saveImage: (name: string) => (saved.push(name), 0),
      getErrorString: () => "",
    } as unknown as SDStorageManager;
    const d = device(all);
    const debug = new Esp32DebugServer(
      d,
      () => sd,
      () => null as never,
    );
    const s = new Esp32Server(sd, new PovEngine(), () => undefined, 1024);
    s.attachDebug(debug);
    const frames = saveImageFrames(
      { name: "a", width: 20, height: 10, pixels: new Uint8Array(600) },
      {
        chunkBytes: 300,
      },
    );
    expect(replies(s.receive(frames[0]))[0].kind).toBe("ack");
    expect(
      replies(s.receive(encodeFrame({ type: 0x75, seq: 9, payload: new Uint8Array(0) })))[0],
    ).toMatchObject({
      kind: "ack",
      request: 0x75,
    });
    expect(d.resets).toBe(1);
    expect(s.saving).toBe(true);
    expect(replies(s.receive(frames[1]))[0].kind).toBe("ack");
    expect(saved).toEqual(["a"]);
    expect(MSG.SD_SAVE_IMAGE).toBe(0x10);
  });
});
