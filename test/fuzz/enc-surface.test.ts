/**
 * The `.enc` fuzz surface with openssl on every case (the full campaign samples 1 in 100): damaged
 * files give the firmware's exact errors or located EncErrors, never a crash, and the oracles really
 * compared something (both verdicts of openssl's RSA and of its PKCS#7 check occur).
 */
import { describe, expect, it } from "vitest";
import { BOARD_ERRORS, encSurface } from "../../fuzz/surfaces/enc-files.ts";
import { runSurface } from "../../fuzz/surfaces/index.ts";

describe(".enc fuzz surface against openssl", () => {
  it("60 damaged files: no crash, board errors from DEVICE-FACTS only, openssl agrees on RSA and padding", async () => {
    const s = encSurface({ opensslEvery: 1 });
    const r = await runSurface(s, { cases: 60, seed: 20261201 });
    expect({ crashes: r.crashes, hangs: r.hangs, memory: r.memory, modified: r.modified }).toEqual({
      crashes: 0,
      hangs: 0,
      memory: 0,
      modified: 0,
    });
    expect(r.reproducer).toBeUndefined();
    const texts = [...s.stats.board.keys()].filter((t) => t !== "bytes");
    expect(texts.every((t) => BOARD_ERRORS.has(t))).toBe(true);
    expect(texts.length).toBeGreaterThanOrEqual(4);
    expect(s.stats.opensslRsaOk).toBeGreaterThan(0);
    expect(s.stats.opensslRsaFail).toBeGreaterThan(0);
    expect(s.stats.opensslPadValid).toBeGreaterThan(0);
    expect(s.stats.opensslPadInvalid).toBeGreaterThan(0);
  }, 120_000);
});
