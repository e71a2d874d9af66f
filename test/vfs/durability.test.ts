import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CowBlockDevice, readAll } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import type { Vfs } from "../../src/vfs/index.ts";
import { freshCard, remount } from "./helpers.ts";

/** What a fresh mount of a copy-on-write snapshot sees: name → size, plus the content of `name`. */
async function afterCut(
  card: CowBlockDevice,
  name: string,
): Promise<{ sizes: Record<string, number>; data?: string }> {
  const { vfs } = await remount(card.fork());
  const sizes = Object.fromEntries(vfs.ilistdir().map((e) => [e[0], e[3] ?? 0]));
  const data = name in sizes ? vfs.open(name).with((f) => f.read()) : undefined;
  return { sizes, data };
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("durability: the directory entry reaches the card only at flush()/close() (FatFs f_sync)", () => {
  it("a new file: after write() a fresh mount shows it absent or empty; after close() complete", async () => {
    const { vfs, card } = await freshCard();
    const payload = "x".repeat(5000);
    const f = vfs.open("new.txt", "w");
    f.write(payload);
    const cut = await afterCut(card, "new.txt");
    expect(cut.sizes["new.txt"] ?? 0).toBe(0);
    f.close();
    const done = await afterCut(card, "new.txt");
    expect(done.sizes["new.txt"]).toBe(5000);
    expect(done.data).toBe(payload);
  });

  it("an appended file: after write() the old size and content; after close() the new", async () => {
    const { vfs, card } = await freshCard();
    vfs.open("log.txt", "w").with((f) => f.write("old\n"));
    const f = vfs.open("log.txt", "a");
    f.write("new line that spans sectors ".repeat(40));
    expect(await afterCut(card, "log.txt")).toEqual({ sizes: { "log.txt": 4 }, data: "old\n" });
    f.close();
    const after = await afterCut(card, "log.txt");
    expect(after.sizes["log.txt"]).toBe(4 + 28 * 40);
  });

  it("os.sync() alone changes nothing on the card; flush() makes the entry durable", async () => {
    const { vfs, card } = await freshCard();
    vfs.open("old.txt", "w").with((f) => f.write("previous"));
    const f = vfs.open("old.txt", "w");
    f.write("replacement content, longer than before");
    const beforeSync = card.fork();
    vfs.sync();
    expect(sha256(readAll(card))).toBe(sha256(readAll(beforeSync)));
    // truncated by 'w' but the new size is not on the card yet: present but empty (DEVICE-FACTS)
    const cut = await afterCut(card, "old.txt");
    expect(cut.sizes["old.txt"]).toBe(0);
    f.flush();
    const flushed = await afterCut(card, "old.txt");
    expect(flushed.data).toBe("replacement content, longer than before");
    f.close();
  });
});

describe("determinism", () => {
  async function scenario(clock: VirtualClock): Promise<string> {
    const { vfs, card } = await freshCard(4096, clock);
    const run = (v: Vfs) => {
      v.mkdir("imgs");
      for (let i = 0; i < 5; i++) {
        clock.advance(1_500_000);
        v.open(`imgs/${i}.jpg`, "wb").with((f) => f.write(new Uint8Array(1000 + i * 700).fill(i)));
      }
      v.rename("imgs/0.jpg", "imgs/zero.jpg");
      v.remove("imgs/1.jpg");
      v.open("log.txt", "a").with((f) => f.write("done\n"));
    };
    run(vfs);
    return sha256(readAll(card));
  }

  it("the same operations on the same clock give the same card image", async () => {
    const a = await scenario(new VirtualClock());
    const b = await scenario(new VirtualClock());
    expect(a).toBe(b);
    // timestamps are part of the image: another start time gives another image
    const c = await scenario(new VirtualClock(1_800_000_000));
    expect(c).not.toBe(a);
  });
});
