/**
 * The ESP32 protocol: hand-written byte vectors of every message and reply, the strict decoder's
 * errors, a seeded fuzz of damaged frames against the server (a NACK, never a crash or a card write).
 */
import { describe, expect, it } from "vitest";
import { Prng } from "../../src/clock/index.ts";
import {
  ACK,
  Esp32Server,
  FrameDecoder,
  MSG,
  NACK,
  NACK_REASON,
  PovEngine,
  decodeInfoBody,
  decodeListBody,
  decodeReply,
  decodeRequest,
  encodeAck,
  encodeFrame,
  encodeInfoBody,
  encodeListBody,
  encodeNack,
  encodeRequestPayload,
  saveImageFrames,
  type SDStorageManager,
} from "../../src/pov/index.ts";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

// Vectors written by hand: SOF a5, type, seq, length LE, payload; the CRC-32 of type..payload (LE) computed
// independently with Python's zlib.crc32.
const VECTORS: [string, Parameters<typeof encodeRequestPayload>[0], number, string][] = [
  ["LIST_IMAGES", { type: MSG.SD_LIST_IMAGES }, 1, "a5 11 01 0000 d18523c8"],
  ["GET_INFO", { type: MSG.SD_GET_INFO }, 2, "a5 13 02 0000 03f36c60"],
  [
    "DELETE_IMAGE a.pov",
    { type: MSG.SD_DELETE_IMAGE, name: "a.pov" },
    3,
    "a5 12 03 0600 05612e706f76 93d0b384",
  ],
  ["LOAD_IMAGE a.pov", { type: MSG.SD_LOAD_IMAGE, name: "a.pov" }, 4, "a5 14 04 0600 05612e706f76 1dcdcced"],
  [
    "SAVE_IMAGE a 1x1 chunk",
    { type: MSG.SD_SAVE_IMAGE, name: "a", width: 1, height: 1, offset: 0, chunk: hex("ff8000") },
    5,
    "a5 10 05 0d00 0161 0100 0100 00000000 ff8000 1d596665",
  ],
];

describe("framing", () => {
  it.each(VECTORS)("%s encodes to the hand-written bytes and decodes back", (_n, req, seq, bytes) => {
    const frame = encodeFrame({ type: req.type, seq, payload: encodeRequestPayload(req) });
    expect(toHex(frame)).toBe(toHex(hex(bytes)));
    const [e] = new FrameDecoder().push(hex(bytes));
    expect(e.kind).toBe("frame");
    if (e.kind === "frame") expect(decodeRequest(e.frame)).toEqual(req);
  });

  it("replies: ACK 0x06 with the request type and body, NACK 0x15 with reason, SDError and text", () => {
    expect([ACK, NACK]).toEqual([0x06, 0x15]);
    expect(toHex(encodeAck(7, MSG.SD_DELETE_IMAGE))).toBe(toHex(hex("a5 06 07 0100 12 7b21ce26")));
    const nack = encodeNack(8, MSG.SD_LOAD_IMAGE, NACK_REASON.SD_ERROR, 3, "nf");
    expect(toHex(nack)).toBe(toHex(hex("a5 15 08 0500 14 07 03 6e66 6412ddd4")));
    const [e] = new FrameDecoder().push(nack);
    expect(e.kind === "frame" && decodeReply(e.frame)).toEqual({
      kind: "nack",
      seq: 8,
      request: 0x14,
      reason: 7,
      sdError: 3,
      text: "nf",
    });
    expect(toHex(encodeListBody(["a.pov", "bc"]))).toBe("0205612e706f76026263");
    expect(decodeListBody(hex("0205612e706f76026263"))).toEqual(["a.pov", "bc"]);
    const info = encodeInfoBody({ cardPresent: true, total: 0x1_0000_0000, free: 512 });
    expect(toHex(info)).toBe("01" + "0000000001000000" + "0002000000000000");
    expect(decodeInfoBody(info)).toEqual({ cardPresent: true, total: 0x1_0000_0000, free: 512 });
  });

  it("a 360x32 image with a 9-character name goes in 35 chunks of at most 1005 pixel bytes", () => {
    const frames = saveImageFrames({
      name: "heart.pov",
      width: 360,
      height: 32,
      pixels: new Uint8Array(34_560),
    });
    expect(frames).toHaveLength(35);
    expect(Math.max(...frames.map((f) => f.length))).toBe(5 + 1024 + 4);
  });

  it("the decoder reassembles frames split at every byte", () => {
    const bytes = hex(VECTORS[4][3]);
    const d = new FrameDecoder();
    const events = [...bytes].flatMap((b) => d.push(Uint8Array.of(b)));
    expect(events.map((e) => e.kind)).toEqual(["frame"]);
  });

  const bad: [string, string, string][] = [
    ["garbage", "00 ff 12", "GARBAGE: 3 bytes outside any frame (expected SOF 0xa5)"],
    [
      "a bad CRC",
      "a5 11 01 0000 00000000",
      "BAD_CHECKSUM: crc32 at offset 5: expected 0xc82385d1, found 0x00000000",
    ],
    [
      "a length above 1024",
      "a5 10 01 0104",
      "BAD_LENGTH: length at offset 3: expected at most 1024, found 1025",
    ],
  ];
  it.each(bad)("%s is an error event with a reason", (_n, bytes, text) => {
    const d = new FrameDecoder();
    const events = [...d.push(hex(bytes)), ...d.idle()];
    const first = events[0];
    expect(
      first.kind === "error" &&
        `${Object.entries(NACK_REASON).find(([, v]) => v === first.reason)![0]}: ${first.detail}`,
    ).toBe(text);
  });

  it("a truncated frame is reported when the line goes idle", () => {
    const d = new FrameDecoder();
    expect(d.push(hex("a5 14 02 0600 05"))).toEqual([]);
    expect(d.idle()).toEqual([
      {
        kind: "error",
        reason: NACK_REASON.TRUNCATED,
        detail: "truncated frame: 6 of 15 bytes",
        type: 0x14,
        seq: 2,
      },
    ]);
  });

  it("malformed payloads name the field and offset", () => {
    const req = (type: number, payload: string) => () =>
      decodeRequest({ type, seq: 0, payload: hex(payload) });
    expect(req(0x42, "")).toThrow("type at offset 1: expected a message type 0x10..0x14, found 0x42");
    expect(req(MSG.SD_LIST_IMAGES, "00")).toThrow("payload at offset 5: expected no payload, found 1 bytes");
    expect(req(MSG.SD_LOAD_IMAGE, "00")).toThrow("name_len at offset 5: expected 1..255, found 0");
    expect(req(MSG.SD_LOAD_IMAGE, "0561")).toThrow("name at offset 6: expected 5 bytes, found 1 bytes");
    expect(req(MSG.SD_LOAD_IMAGE, "0161ff")).toThrow(
      "payload at offset 7: expected 2 bytes (name_len + name), found 3 bytes",
    );
    expect(req(MSG.SD_SAVE_IMAGE, "0161 0000 0100 00000000")).toThrow(
      "width at offset 7: expected 1..65535, found 0",
    );
    expect(req(MSG.SD_SAVE_IMAGE, "0161 0100 0100 02000000 ffff")).toThrow(
      "offset at offset 11: expected offset + chunk ≤ width*height*3 = 3, found 2 + 2",
    );
  });
});

/** A store that records calls: the server must call saveImage only with a complete image. */
function fakeStore() {
  const saves: { name: string; bytes: number }[] = [];
  const sd = {
    saveImage: (name: string, data: Uint8Array) => (saves.push({ name, bytes: data.length }), 0),
    listImages: () => ["a.pov"],
    getLastError: () => 0,
    deleteImage: () => 3,
    getErrorString: () => "File does not exist",
    isCardPresent: () => true,
    getTotalSpace: () => 1000,
    getFreeSpace: () => 10,
    loadImage: () => ({ error: 3, width: 0, height: 0 }),
  } as unknown as SDStorageManager;
  return { sd, saves };
}

function replies(bytes: Uint8Array) {
  return new FrameDecoder().push(bytes).map((e) => {
    if (e.kind !== "frame") throw new Error(`damaged reply: ${e.detail}`);
    return decodeReply(e.frame);
  });
}

describe("the Teensy's server", () => {
  it("saves only once the last chunk arrived; a chunk out of sequence abandons the transfer", () => {
    const { sd, saves } = fakeStore();
    const server = new Esp32Server(sd, new PovEngine(), () => undefined, 34_560);
    const frames = saveImageFrames(
      { name: "h", width: 10, height: 10, pixels: new Uint8Array(300) },
      { chunkBytes: 100 },
    );
    expect(replies(server.receive(frames[0])).map((r) => r.kind)).toEqual(["ack"]);
    const out = replies(server.receive(frames[2]));
    expect(out[0]).toMatchObject({ kind: "nack", reason: NACK_REASON.BAD_SEQUENCE });
    expect(saves).toEqual([]);
    for (const f of frames) server.receive(f);
    expect(saves).toEqual([{ name: "h", bytes: 300 }]);
  });

  it("answers LIST, GET_INFO, and a failing DELETE / LOAD with the SDError", () => {
    const { sd } = fakeStore();
    const server = new Esp32Server(sd, new PovEngine(), () => undefined, 34_560);
    const send = (req: Parameters<typeof encodeRequestPayload>[0]) =>
      replies(server.receive(encodeFrame({ type: req.type, seq: 9, payload: encodeRequestPayload(req) })))[0];
    const list = send({ type: MSG.SD_LIST_IMAGES });
    expect(list.kind === "ack" && decodeListBody(list.body)).toEqual(["a.pov"]);
    const info = send({ type: MSG.SD_GET_INFO });
    expect(info.kind === "ack" && decodeInfoBody(info.body)).toEqual({
      cardPresent: true,
      total: 1000,
      free: 10,
    });
    expect(send({ type: MSG.SD_DELETE_IMAGE, name: "x" })).toMatchObject({
      kind: "nack",
      reason: 7,
      sdError: 3,
      seq: 9,
    });
    expect(send({ type: MSG.SD_LOAD_IMAGE, name: "x" })).toMatchObject({
      kind: "nack",
      reason: 7,
      sdError: 3,
    });
  });

  it("fuzz: 2,000 seeded damaged save streams give valid replies, and no incomplete image is ever saved", () => {
    const prng = new Prng(12);
    for (let round = 0; round < 2000; round++) {
      const { sd, saves } = fakeStore();
      const server = new Esp32Server(sd, new PovEngine(), () => undefined, 34_560);
      const w = 1 + prng.nextInt(20);
      const frames = saveImageFrames(
        { name: "f", width: w, height: 2, pixels: new Uint8Array(w * 6) },
        { chunkBytes: 1 + prng.nextInt(40) },
      );
      let stream: Uint8Array = Uint8Array.from(frames.flatMap((f) => [...f]));
      const damage = prng.nextInt(4);
      if (damage === 0) stream[prng.nextInt(stream.length)] ^= 1 << prng.nextInt(8);
      else if (damage === 1) stream = stream.subarray(0, prng.nextInt(stream.length));
      else if (damage === 2) {
        const at = prng.nextInt(stream.length);
        stream = Uint8Array.from([
          ...stream.subarray(0, at),
          ...prng.fill(new Uint8Array(1 + prng.nextInt(8))),
          ...stream.subarray(at),
        ]);
      } else stream = prng.fill(new Uint8Array(1 + prng.nextInt(64)));
      let out = new Uint8Array(0);
      let at = 0;
      while (at < stream.length) {
        const n = 1 + prng.nextInt(50);
        out = Uint8Array.from([...out, ...server.receive(stream.subarray(at, at + n))]);
        at += n;
      }
      out = Uint8Array.from([...out, ...server.idle()]);
      const r = replies(out);
      for (const s of saves) expect(s.bytes).toBe(w * 6);
      if (saves.length === 0 && stream.length > 0)
        expect(r.some((x) => x.kind === "nack") || server.saving || damage === 1).toBe(true);
    }
  });
});
