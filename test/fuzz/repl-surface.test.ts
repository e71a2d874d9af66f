/**
 * The raw-REPL reply surface: damaged replies from the board end in success or in a LinkError /
 * BoardPythonError naming the port, never a crash or a hang, on the fake timer (nothing waits), and
 * the damage reaches every kind of failure the link reports.
 */
import { describe, expect, it } from "vitest";
import { runSurface } from "../../fuzz/surfaces/index.ts";
import { isCleanLinkFailure, replSurface } from "../../fuzz/surfaces/repl-replies.ts";
import { LinkError } from "../../src/link/index.ts";

describe("raw-REPL reply fuzz surface", () => {
  it("600 damaged sessions: no crash or hang; timeouts, frame errors, garbage and disconnects all occur", async () => {
    const s = replSurface();
    const r = await runSurface(s, { cases: 600, seed: 20261201 });
    expect({ crashes: r.crashes, hangs: r.hangs, memory: r.memory, reproducer: r.reproducer }).toEqual({
      crashes: 0,
      hangs: 0,
      memory: 0,
      reproducer: undefined,
    });
    for (const k of ["ok", "timeout", "frame", "garbage", "disconnected"])
      expect(s.stats.get(k) ?? 0, k).toBeGreaterThan(0);
  }, 60_000);

  it("an error that does not name the port is not a clean failure", () => {
    const init = { code: "frame" as const, what: "garbled", hint: "check" };
    expect(
      isCleanLinkFailure(new LinkError({ ...init, port: "/dev/ttyFUZZ0", what: "from /dev/ttyFUZZ0" })),
    ).toBe(true);
    expect(isCleanLinkFailure(new LinkError({ ...init, port: "/dev/ttyFUZZ0" }))).toBe(false);
    expect(isCleanLinkFailure(new Error("RawRepl.exec on /dev/ttyFUZZ0: not in the raw REPL"))).toBe(false);
  });
});
