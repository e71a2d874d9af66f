/**
 * Scenario files on disk: names in a directory, close-match suggestions, the path of a name.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { UnknownScenarioError } from "./scenario-fields.ts";

/** First sentence of a description, on one line (for `--list`). */
export function firstSentence(description: string): string {
  const flat = description.replace(/\s+/g, " ").trim();
  const m = /^(.*?[.!?])(\s|$)/.exec(flat);
  return m ? m[1] : flat;
}

/** Scenario names in `dir` (files `*.yaml`), sorted. */
export function listScenarioNames(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => f.slice(0, -".yaml".length))
    .sort();
}

/** Levenshtein distance (for close-match suggestions). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** Names close to `name`: within an edit distance of max(2, len/3), or containing it; best first. */
export function closeMatches(name: string, candidates: readonly string[], max = 5): string[] {
  const limit = Math.max(2, Math.floor(name.length / 3));
  return candidates
    .map((c) => ({ c, d: editDistance(name, c) }))
    .filter(({ c, d }) => d <= limit || (name.length >= 3 && c.includes(name)))
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c))
    .slice(0, max)
    .map(({ c }) => c);
}

/** Path of scenario `name` in `dir`; throws {@link UnknownScenarioError} with suggestions. */
export function scenarioPath(dir: string, name: string): string {
  const names = listScenarioNames(dir);
  if (!names.includes(name)) throw new UnknownScenarioError(name, dir, closeMatches(name, names));
  return join(dir, `${name}.yaml`);
}
