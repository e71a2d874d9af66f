/**
 * Seed 000 reproduced: injected faults make the reporter's pipeline print both of the seed's error
 * lines exactly, and the hardened pipeline turns the same faults into "previous" (old or absent) or
 * "detected" (a clear error), never "silent".
 */
import { describe, expect, it } from "vitest";
import type { BlockDevice } from "../../src/block/index.ts";
import { FaultyBlockDevice, parseFaultPlan, type FaultPlan } from "../../src/faults/index.ts";
import {
  openmvFirmware470,
  openmvFirmware481,
  openmvFirmware490,
  type FirmwareProfile,
} from "../../src/openmv/firmware.ts";
import { faultPlanForFirmware } from "../../src/profiles/openmv-rt1062/firmware-faults.ts";
import { OSError } from "../../src/vfs/index.ts";
import { asReportedPipeline } from "../../src/pipeline/as-reported.ts";
import { hardenedPipeline } from "../../src/pipeline/hardened.ts";
import type { Pipeline } from "../../src/pipeline/pipeline.ts";
import { PRIV, boot, preparedCard } from "./helpers.ts";

const SEED_RAW = "/sdcard/myimages/221_1735689732000_raw.jpg";
const SEED_ENC = "/sdcard/myimages/221_1735689732000.enc";
const UNSUPPORTED = `ERROR, [IMG] Failed read raw image file:${SEED_RAW}, error: Unsupported format!`;
const KEY_LINE = "ERROR, [IMG] Failed to decrypt and save image: key";

describe("seed line 1: a stale or torn JPEG reads back as 'Unsupported format!'", () => {
  /**
   * Stale DMA (MicroPython issue 19010): the read of the JPEG's first sector lands in a buffer 4 bytes
   * past a cache line; the first 28 bytes keep what the buffer held before (another file's bytes).
   */
  async function staleDmaRun(p: Pipeline, firmware: FirmwareProfile) {
    const { base, clock } = await preparedCard();
    let armed = false;
    const plan = faultPlanForFirmware(
      parseFaultPlan({ seed: 1, faults: [{ kind: "stale-dma", misalignBytes: 4, edges: "start" }] }),
      firmware,
    );
    const card = new FaultyBlockDevice(base.fork(), plan, {
      clock,
      alignmentOf: () => (armed ? 4 : 0),
    });
    const board = await boot({ clock, card, firmware });
    // The first read after arming is the data sector of the raw file (its directory sector is cached).
    const img = p.capture(board);
    const path = p.saveRaw(board, img);
    board.os.sync();
    board.utime.sleep_ms(500);
    armed = true;
    const back = p.readBack(board, path);
    armed = false;
    const onCard = board.open(path, "rb").with((f) => f.read());
    board.halt();
    return { board, path, back, onCard, events: card.events };
  }

  it("4.8.1 (bug present): the reporter's pipeline prints the seed's line; the file on the card is intact", async () => {
    const r = await staleDmaRun(asReportedPipeline, openmvFirmware481);
    expect(r.path).toBe(SEED_RAW);
    expect(r.back).toBeNull();
    expect(r.board.log).toContain(UNSUPPORTED);
    expect(r.events.some((e) => e.kind === "stale-dma")).toBe(true);
    expect([...r.onCard.subarray(0, 2)]).toEqual([0xff, 0xd8]);
  });

  it("4.9.0 (PR 3191 fix) reads the same file back fine: the firmware versions differ", async () => {
    const r = await staleDmaRun(asReportedPipeline, openmvFirmware490);
    expect(r.back).not.toBeNull();
    expect(r.board.log.some((l) => l.startsWith("ERROR"))).toBe(false);
    expect(r.events.filter((e) => e.kind === "stale-dma")).toEqual([]);
  });

  it("hardened on 4.8.1: the stale read is detected (clear error), nothing is encrypted from it", async () => {
    const r = await staleDmaRun(hardenedPipeline, openmvFirmware481);
    expect(r.back).toBeNull();
    const err = r.board.log.filter((l) => l.startsWith("ERROR"));
    expect(err).toHaveLength(1);
    expect(err[0]).toContain(SEED_RAW);
  });

  /**
   * Power cut while the directory entry of the new raw file is written (the last write of f_close),
   * on a card that loses the writes since the last barrier (volatile cache / reordering FTL:
   * `unsynced-writes: drop-all`); the directory sector itself lands. After the reboot the entry names
   * clusters that never received the JPEG.
   */

  it("torn: a cut at the raw file's directory write + drop-all → after reboot 'Unsupported format!'", async () => {
    const outcome = await cutDuringSave(asReportedPipeline, "last");
    expect(outcome.saveError).toBeInstanceOf(OSError);
    expect(outcome.log).toContain(UNSUPPORTED);
  });

  it("hardened: every cut point of saveRaw leaves the final name absent or intact, never wrong", async () => {
    const { writes } = await cutDuringSave(hardenedPipeline, "none");
    expect(writes).toBeGreaterThan(4);
    const outcomes = new Set<string>();
    for (let k = 0; k < writes; k++) {
      const o = await cutDuringSave(hardenedPipeline, k);
      outcomes.add(o.classification);
      expect(o.classification, `cut at write ${k} of ${writes}`).not.toBe("silent");
      expect(o.log.filter((l) => l.includes("Unsupported format!"))).toEqual([]);
    }
    expect(outcomes.has("previous")).toBe(true);
  });
});

type Classification = "intact" | "previous" | "detected" | "silent";

/**
 * Fresh prepared card at the seed frame's time; saveRaw of frame 0 with a power cut at its write `k`
 * (`"last"`: its last write; `"none"`: no cut, to count the writes), drop-all of the unsynced writes,
 * the write in flight landing whole; then reboot and read back.
 */
async function cutDuringSave(
  p: Pipeline,
  k: number | "last" | "none",
): Promise<{ writes: number; saveError?: unknown; log: string[]; classification: Classification }> {
  const { base, clock } = await preparedCard();
  const { base: base2, clock: clock2 } = await preparedCard();
  // 1) count the writes of saveRaw on an identical card
  const counter = new FaultyBlockDevice(base2.fork(), parseFaultPlan({ faults: [] }), { clock: clock2 });
  const cb = await boot({ clock: clock2, card: counter });
  const w0 = counter.writesIssued;
  const good = cb.image
    .Image(p.saveRaw(cb, p.capture(cb)))
    .bytearray()
    .slice();
  const writes = counter.writesIssued - w0;
  cb.halt();
  if (k === "none") return { writes, log: [], classification: "intact" };
  const at = w0 + (k === "last" ? writes - 1 : k);
  const plan: FaultPlan = parseFaultPlan({
    seed: 3,
    faults: [
      { kind: "power-cut", atWrite: at },
      { kind: "torn-write", sectors: 64 },
      { kind: "unsynced-writes", policy: "drop-all" },
    ],
  });
  const card = new FaultyBlockDevice(base.fork(), plan, { clock });
  const b1 = await boot({ clock, card });
  let saveError: unknown;
  try {
    p.saveRaw(b1, p.capture(b1));
  } catch (e) {
    saveError = e;
  }
  b1.halt();
  card.reboot();
  const b2 = await boot({ clock, card });
  const back = p.readBack(b2, SEED_RAW);
  const log = b2.log;
  let classification: Classification;
  if (back === null) {
    const exists = b2.os.listdir("/sdcard/myimages").includes("221_1735689732000_raw.jpg");
    classification = exists ? "detected" : "previous";
  } else {
    classification = sameBytes(back.bytearray(), good) ? "intact" : "silent";
  }
  b2.halt();
  return { writes, ...(saveError !== undefined && { saveError }), log, classification };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

describe("seed line 2: a damaged RSA block decrypts to 'key'", () => {
  /** Writes frame 0's `.enc` with `p`, damages `count` bytes of its first RSA block, decrypts with `p`. */
  async function damagedRun(p: Pipeline, damageSeed: number) {
    const { base, clock } = await preparedCard();
    const card: BlockDevice = base.fork();
    const board = await boot({ clock, card, firmware: openmvFirmware470 });
    const raw = p.saveRaw(board, p.capture(board));
    expect(p.encryptFile(board, raw, SEED_ENC)).toBe(true);
    // Damage: 8 bytes of the first RSA block replaced in place (r+b, seek, write, close).
    const data = board.open(SEED_ENC, "rb").with((f) => f.read());
    const at = p.name === "hardened" ? 16 : 0; // v2 header is 16 bytes
    let x = damageSeed * 2654435761;
    const patch = new Uint8Array(8).map(() => ((x = (x * 1103515245 + 12345) >>> 0), x >>> 24));
    const off = at + ((damageSeed * 13) % 120);
    board.open(SEED_ENC, "r+b").with((f) => {
      f.seek(off);
      f.write(patch);
    });
    const changed = board.open(SEED_ENC, "rb").with((f) => f.read());
    expect(changed.length).toBe(data.length);
    const ok = p.decryptFile(board, SEED_ENC, "/sdcard/myimages/out.jpg", PRIV);
    const err = board.log.find((l) => l.includes("Failed to decrypt"));
    board.halt();
    return { ok, err };
  }

  it("the reporter's pipeline prints '...: key' for some damages, 'Decryption failed' for others", async () => {
    const lines = new Map<string, number>();
    for (let s = 1; s <= 24; s++) {
      const { err } = await damagedRun(asReportedPipeline, s);
      const key = err ?? "(no error: silent garbage)";
      lines.set(key, (lines.get(key) ?? 0) + 1);
    }
    expect(lines.get(KEY_LINE) ?? 0).toBeGreaterThan(0);
    expect(
      lines.get("ERROR, [IMG] Failed to decrypt and save image: Decryption failed") ?? 0,
    ).toBeGreaterThan(0);
  });

  it("hardened (v2, strict RSA, tag): every damage is detected with a typed error", async () => {
    for (let s = 1; s <= 12; s++) {
      const { ok, err } = await damagedRun(hardenedPipeline, s);
      expect(ok).toBe(false);
      expect(err).toMatch(
        /^ERROR, \[IMG\] Failed to decrypt and save image: Enc(Key|Integrity)Error: \.enc offset \d+/,
      );
    }
  });
});
