/**
 * The virtual Teensy over a real pty (socat), driven by the serial client of src/link: the ESP32
 * protocol answered from the simulated store; the saved card checked with fsck.fat and mtools. Also
 * `cardsim virtual-board --profile teensy41-pov` as a child process.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openSerialStream, type ByteStream } from "../../src/link/index.ts";
import {
  FrameDecoder,
  MSG,
  decodeListBody,
  decodeReply,
  encodeFrame,
  encodeRequestPayload,
  saveImageFrames,
  type Esp32Reply,
} from "../../src/pov/index.ts";
import { startVirtualTeensyPty } from "../../src/profiles/teensy41-pov/virtual-teensy-pty.ts";

/** Collects reply frames from the stream; `next(n)` waits for n more. */
function replyReader(stream: ByteStream) {
  const decoder = new FrameDecoder();
  const got: Esp32Reply[] = [];
  let wake: (() => void) | undefined;
  stream.onData((chunk) => {
    for (const e of decoder.push(chunk)) {
      if (e.kind !== "frame") throw new Error(`damaged reply: ${e.detail}`);
      got.push(decodeReply(e.frame));
    }
    wake?.();
  });
  let taken = 0;
  return async (n: number): Promise<Esp32Reply[]> => {
    while (got.length < taken + n) await new Promise<void>((r) => (wake = r));
    const out = got.slice(taken, taken + n);
    taken += n;
    return out;
  };
}

const ROOT = join(import.meta.dirname, "..", "..");

describe.skipIf(!existsSync("/usr/bin/socat"))("virtual Teensy behind a pty", () => {
  it("answers the ESP32 protocol from the simulated card", { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "vteensy-"));
    const card = join(dir, "card.img");
    const pty = await startVirtualTeensyPty({ saveCard: card });
    const stream = await openSerialStream(pty.path);
    try {
      const next = replyReader(stream);
      const pixels = Uint8Array.from({ length: 360 * 32 * 3 }, (_, i) => i & 0xff);
      const frames = saveImageFrames({ name: "heart.pov", width: 360, height: 32, pixels });
      for (const f of frames) await stream.write(f);
      const acks = await next(frames.length);
      expect(acks.every((r) => r.kind === "ack")).toBe(true);
      await stream.write(encodeFrame({ type: MSG.SD_LIST_IMAGES, seq: 200, payload: new Uint8Array(0) }));
      const [list] = await next(1);
      expect(list.kind === "ack" && decodeListBody(list.body)).toEqual(["heart.pov"]);
      await stream.write(Uint8Array.of(0x00, 0x13, 0x37));
      await stream.write(
        encodeFrame({
          type: MSG.SD_LOAD_IMAGE,
          seq: 201,
          payload: encodeRequestPayload({ type: MSG.SD_LOAD_IMAGE, name: "heart.pov" }),
        }),
      );
      const [garbage, load] = await next(2);
      expect(garbage).toMatchObject({
        kind: "nack",
        reason: 4,
        text: "3 bytes outside any frame (expected SOF 0xa5)",
      });
      expect(load).toMatchObject({ kind: "ack", seq: 201, request: 0x14 });
      // A frame cut short: the line goes quiet, the Teensy NACKs it as truncated.
      await stream.write(Uint8Array.of(0xa5, 0x14, 0x09, 0x06));
      const [truncated] = await next(1);
      expect(truncated).toMatchObject({ kind: "nack", reason: 3 });
    } finally {
      await stream.close();
      await pty.stop();
    }
    expect(execFileSync("fsck.fat", ["-n", card]).toString()).toMatch(/files/);
    expect(execFileSync("mdir", ["-b", "-i", card, "::/POI_IM~1"]).toString()).toMatch(/HEART\.POV/i);
    const bytes = execFileSync("mtype", ["-i", card, "::/POI_IM~1/HEART.POV"]);
    expect(bytes.length).toBe(24 + 34_560);
    expect(bytes.subarray(0, 4).toString("hex")).toBe("31564f50");
  });

  it(
    "cardsim virtual-board --profile teensy41-pov prints the pty and serves it",
    { timeout: 60_000 },
    async () => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", join(ROOT, "sim/cli/main.ts"), "virtual-board", "--profile", "teensy41-pov"],
        {
          cwd: ROOT,
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      try {
        let out = "";
        const path = await new Promise<string>((resolve, reject) => {
          child.stdout.on("data", (c: Buffer) => {
            out += c.toString();
            const m = /^(\/\S+)\npid \d+\n/.exec(out);
            if (m) resolve(m[1]);
          });
          child.once("exit", (code) => reject(new Error(`exited ${code} before printing the pty`)));
        });
        const stream = await openSerialStream(path);
        const next = replyReader(stream);
        await stream.write(encodeFrame({ type: MSG.SD_GET_INFO, seq: 1, payload: new Uint8Array(0) }));
        const [info] = await next(1);
        expect(info).toMatchObject({ kind: "ack", request: 0x13 });
        await stream.close();
      } finally {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
    },
  );

  it("an unknown profile is exit 2 naming the ones with a virtual device", () => {
    let err = "";
    try {
      execFileSync(
        process.execPath,
        ["--import", "tsx", join(ROOT, "sim/cli/main.ts"), "virtual-board", "--profile", "nope"],
        {
          cwd: ROOT,
          stdio: "pipe",
        },
      );
    } catch (e) {
      const x = e as { status: number; stderr: Buffer };
      expect(x.status).toBe(2);
      err = x.stderr.toString();
    }
    expect(err).toContain("unknown profile 'nope'; expected one of openmv-rt1062, teensy41-pov");
  });
});
