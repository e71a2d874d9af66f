/**
 * The minimal scenario `cardsim shrink` writes: the shrunk steps with a one-state sweep block (the cut,
 * torn variant, policy and seed that reproduce) and a sweep bound expecting exactly that state's class,
 * commented with what was removed from the original and what the state shows; its description is the
 * cause paragraph (sim/shrink-explain.ts).
 */
import { stringify } from "yaml";
import type { TornSpec } from "../src/faults/index.ts";
import { InputError } from "../src/input/index.ts";
import type { ShrinkGoal } from "./shrink-oracle.ts";
import type { ShrinkResult } from "./shrink.ts";
import type { TornVariant } from "./scenario-schema.ts";

/** The scenario syntax of a torn variant (sweep-runner.ts: sectors keep the rest old, bytes fill garbage). */
export function tornVariantOf(t: TornSpec | undefined, replayId: string): TornVariant {
  if (!t) return "none";
  if (t.bytes === 0 && t.fill === "old" && t.sectors > 0) return { sectors: t.sectors };
  if (t.sectors === 0 && t.fill === "garbage" && t.bytes > 0) return { bytes: t.bytes };
  throw new InputError(undefined, [
    {
      path: ["replay", "torn"],
      message: `'${replayId}': a scenario sweep can only tear as { sectors: k } (rest old) or { bytes: b } (rest garbage), not ${t.sectors}s+${t.bytes}b/${t.fill}`,
    },
  ]);
}

function stepOp(step: unknown): string {
  if (typeof step === "string") return step;
  if (typeof step === "object" && step !== null) return Object.keys(step)[0] ?? "?";
  return "?";
}

function argsOf(step: unknown): Record<string, unknown> {
  if (typeof step !== "object" || step === null) return {};
  const v = Object.values(step)[0] as unknown;
  return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {};
}

function tornLabel(t: TornSpec | undefined): string {
  return t ? `${t.sectors}s${t.bytes ? `+${t.bytes}b` : ""}/${t.fill}` : "none";
}

/** What the minimal scenario no longer has, one phrase per change. */
export function removedFromOriginal(result: ShrinkResult): string[] {
  const orig = result.original.raw;
  const min = result.minimal.raw;
  const out: string[] = [];
  const kept = new Set(result.keptSteps);
  const dropped = orig.steps.map((s, i) => (kept.has(i) ? "" : `${i} (${stepOp(s)})`)).filter(Boolean);
  if (dropped.length) out.push(`step${dropped.length > 1 ? "s" : ""} ${dropped.join(", ")}`);
  result.keptSteps.forEach((i, j) => {
    const a = argsOf(orig.steps[i]);
    const b = argsOf(min.steps[j]);
    const show = (o: Record<string, unknown>, k: string): string =>
      k in o ? JSON.stringify(o[k]) : "(default)";
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
      if (JSON.stringify(a[k]) !== JSON.stringify(b[k]))
        out.push(`step ${i} ${stepOp(orig.steps[i])}.${k} ${show(a, k)} → ${show(b, k)}`);
  });
  const p0 = result.original.point;
  const p1 = result.minimal.point;
  if (p0.completedWrites !== p1.completedWrites)
    out.push(`cut w${p0.completedWrites} → w${p1.completedWrites}`);
  if (tornLabel(p0.torn) !== tornLabel(p1.torn))
    out.push(`torn ${tornLabel(p0.torn)} → ${tornLabel(p1.torn)}`);
  if (p0.unsynced.policy !== p1.unsynced.policy)
    out.push(`policy ${p0.unsynced.policy} → ${p1.unsynced.policy}`);
  if (p0.seed !== p1.seed) out.push(`seed ${p0.seed} → ${p1.seed}`);
  const faults = Array.isArray(orig["faults"]) ? orig["faults"].length : 0;
  if (faults) out.push(`faults (${faults}: a sweep cuts power itself; they applied to the plain run only)`);
  if (orig["expect"] !== undefined) out.push("expect (the original's checks; replaced by the sweep bound)");
  return out;
}

/** Wraps `text` into `# ` comment lines of at most `width` characters. */
export function commentLines(text: string, width = 100, indent = ""): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && `# ${indent}${line} ${word}`.length > width) {
      lines.push(`# ${indent}${line}`);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(`# ${indent}${line}`);
  return lines;
}

/** The minimal scenario's YAML text. */
export function minimalScenarioText(o: {
  name: string;
  originalName: string;
  replayId: string;
  result: ShrinkResult;
  goal: ShrinkGoal;
  explanation: string;
}): string {
  const { result, goal } = o;
  const min = result.minimal;
  const p = min.point;
  const shows =
    goal.class === "unmountable"
      ? `an unmountable volume (${goal.detail ?? ""})`
      : `${goal.path} ${goal.class}${goal.reader ? ` (reader ${goal.reader}${goal.detail ? `: ${goal.detail}` : ""})` : ""}`;
  const header = [
    ...commentLines(
      `Minimal reproducer written by cardsim shrink ${o.originalName} --replay '${o.replayId}' ` +
        `after ${result.runs} runs.`,
    ),
    ...(result.exhausted ? ["# The budget of runs ran out: it may shrink further."] : []),
    ...commentLines(`It shows ${shows} in its one crash state.`),
    "# Removed from the original:",
    ...removedFromOriginal(result).flatMap((r) => commentLines(r, 100, "  - ")),
  ];
  const { faults: _faults, expect: _expect, sweep: _sweep, name: _name, description: _d, ...rest } = min.raw;
  const doc: Record<string, unknown> = {
    name: o.name,
    description: `Shrunk from ${o.originalName}. ${o.explanation}`,
    ...rest,
    sweep: {
      cuts: [p.completedWrites],
      torn: [tornVariantOf(p.torn, o.replayId)],
      policies: [p.unsynced.policy],
      seeds: [p.seed],
      ...(p.metastable && { metastable: { ...p.metastable } }),
    },
    expect: { sweep: { [goal.class]: 1 } },
  };
  return `${header.join("\n")}\n${stringify(doc, { lineWidth: 100 })}`;
}
