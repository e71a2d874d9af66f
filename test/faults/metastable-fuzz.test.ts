/**
 * The metastable fuzz campaign (fuzz/metastable) on a small fixed budget: its parameter space is
 * covered (valid and invalid plans both drawn) and no property is violated. `npm run fuzz --
 * metastable` runs 10,000 cases.
 */
import { describe, expect, it } from "vitest";
import { runMetastableCampaign } from "../../fuzz/metastable/campaign.ts";

describe("metastable fuzz campaign", () => {
  it("300 seeded cases: plans accepted exactly when valid, every read old or new per unit, deterministic", () => {
    const r = runMetastableCampaign(300, 7);
    expect(r.violations).toEqual([]);
    expect(r.cases).toBe(300);
    expect(r.accepted).toBeGreaterThan(50);
    expect(r.rejected).toBeGreaterThan(50);
    expect(r.reads).toBe(r.accepted * 6);
  });
});
