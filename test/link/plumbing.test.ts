import { describe, expect, it } from "vitest";
import { FakeTimer, ReceiveQueue, escapeBytes, memoryPair } from "../../src/link/index.ts";
import { FakeReplDevice } from "../../src/link/testing/index.ts";

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const text = (b: Uint8Array) => String.fromCharCode(...b);
const tick = () => new Promise((r) => setImmediate(r));

describe("FakeTimer", () => {
  it("fires due calls in order on advance, ties in scheduling order, cancels", () => {
    const t = new FakeTimer({ autoAdvance: false });
    const log: string[] = [];
    t.schedule(20, () => log.push("b"));
    t.schedule(10, () => log.push("a"));
    t.schedule(20, () => log.push("c"));
    const cancel = t.schedule(15, () => log.push("never"));
    cancel();
    t.advance(19);
    expect(log).toEqual(["a"]);
    expect(t.nowMs()).toBe(19);
    t.advance(1);
    expect(log).toEqual(["a", "b", "c"]);
    expect(t.pendingCount).toBe(0);
  });

  it("auto-advance jumps to the next due call once nothing else runs", async () => {
    const t = new FakeTimer();
    await t.sleep(10_000);
    expect(t.nowMs()).toBe(10_000);
  });
});

describe("ReceiveQueue", () => {
  it("reads until a delimiter split across chunks and keeps the rest", async () => {
    const pair = memoryPair();
    const q = new ReceiveQueue(pair.host, new FakeTimer());
    const read = q.readUntil(ascii("\r\n>"), { totalTimeoutMs: 1000 });
    await pair.device.write(ascii("raw REPL\r"));
    await pair.device.write(ascii("\n>tail"));
    expect(await read).toEqual({ data: ascii("raw REPL\r\n>"), end: "found" });
    expect(text(q.drain())).toBe("tail");
  });

  it("an idle timeout restarts on every arrival; a total timeout does not", async () => {
    const pair = memoryPair();
    const t = new FakeTimer({ autoAdvance: false });
    const q = new ReceiveQueue(pair.host, t);
    const read = q.readUntil(ascii("!"), { idleTimeoutMs: 100 });
    for (let i = 0; i < 5; i++) {
      t.advance(90);
      await pair.device.write(ascii("."));
      await tick();
    }
    t.advance(100);
    expect(await read).toEqual({ data: ascii("....."), end: "timeout" });
    const total = q.readUntil(ascii("!"), { idleTimeoutMs: 100, totalTimeoutMs: 150 });
    t.advance(90);
    await pair.device.write(ascii("x"));
    await tick();
    t.advance(60);
    expect(await total).toEqual({ data: ascii("x"), end: "timeout" });
  });

  it("ends with `closed` and what arrived when the peer hangs up", async () => {
    const pair = memoryPair();
    const q = new ReceiveQueue(pair.host, new FakeTimer());
    const read = q.readBytes(10, {});
    await pair.device.write(ascii("abc"));
    pair.disconnect();
    expect(await read).toEqual({ data: ascii("abc"), end: "closed" });
  });

  it("grows past its first buffer", async () => {
    const pair = memoryPair();
    const q = new ReceiveQueue(pair.host, new FakeTimer());
    const big = new Uint8Array(100_000).fill(0x61);
    big[99_999] = 0x04;
    await pair.device.write(big.subarray(0, 5000));
    await pair.device.write(big.subarray(5000));
    const r = await q.readUntil(Uint8Array.of(4), {});
    expect(r.data.length).toBe(100_000);
  });
});

describe("FakeReplDevice", () => {
  it("answers raw-paste with R\\x01, the u16le window and a first \\x01, and counts a greedy host", async () => {
    const pair = memoryPair();
    const device = new FakeReplDevice(pair.device, { windowBytes: 64 });
    const q = new ReceiveQueue(pair.host, new FakeTimer());
    await pair.host.write(ascii("\x01"));
    expect(text((await q.readUntil(ascii("exit\r\n>"), {})).data)).toBe("\r\nraw REPL; CTRL-B to exit\r\n>");
    await pair.host.write(ascii("\x05A\x01"));
    expect([...(await q.readBytes(5, {})).data]).toEqual([0x52, 0x01, 64, 0, 0x01]);
    await pair.host.write(new Uint8Array(300).fill(0x23));
    await tick();
    expect(device.windowViolations).toBe(300 - 128);
  });

  it("soft reset from the raw REPL prints OK, MPY: soft reboot, boot output and the banner", async () => {
    const pair = memoryPair();
    new FakeReplDevice(pair.device, { bootOutput: "hello from boot.py\r\n" });
    const q = new ReceiveQueue(pair.host, new FakeTimer());
    await pair.host.write(ascii("\x01\x04"));
    const r = await q.readUntil(ascii("CTRL-B to exit\r\n>"), {});
    const r2 = await q.readUntil(ascii("CTRL-B to exit\r\n>"), {});
    expect(escapeBytes(r.data, 200) + escapeBytes(r2.data, 200)).toBe(
      '"\\r\\nraw REPL; CTRL-B to exit\\r\\n>""OK\\r\\nMPY: soft reboot\\r\\nhello from boot.py\\r\\nraw REPL; CTRL-B to exit\\r\\n>"',
    );
  });
});
