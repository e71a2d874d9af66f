/**
 * Golden files: `golden/<name>.json` holds the stable subset of a scenario's result (no host paths, no
 * wall times, no ordering noise: keys sorted, lists in their deterministic order; step records keep
 * their virtual time). A mismatch is shown as a unified diff of the canonical JSON lines.
 *
 * The line diff is our own (Myers' O(ND) algorithm, 1986) to avoid a dependency for ~80 lines.
 */
import { readFileSync } from "node:fs";
import { RESULT_FORMAT } from "./runner.ts";
import type { ScenarioResult } from "./runner.ts";

/** A golden file is unreadable or not a result; `message` is `file:line:col: what`. */
export class GoldenError extends Error {
  override name = "GoldenError";
}

/** Fields of a result that describe the run, not the scenario's behaviour (kept out of goldens). */
const VOLATILE_FIELDS = ["target"] as const;

/** The part of a result a golden stores. */
export function goldenSubset(result: ScenarioResult): Record<string, unknown> {
  const out: Record<string, unknown> = { ...result };
  for (const f of VOLATILE_FIELDS) delete out[f];
  return out;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** JSON with keys sorted at every level, 2-space indent, final newline. */
export function canonicalJson(value: unknown): string {
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

/** What a golden text turns into for `result`. */
export function goldenText(result: ScenarioResult): string {
  return canonicalJson(goldenSubset(result));
}

class JsonSyntaxAt extends Error {
  constructor(readonly offset: number) {
    super(`JSON syntax error at ${offset}`);
  }
}

/**
 * Offset of the first syntax error in JSON `text` (RFC 8259), or -1 when it is valid. Node's
 * JSON.parse messages do not always carry a position, and messages must give file:line:col.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const fail = (): never => {
    throw new JsonSyntaxAt(i);
  };
  const lit = (word: string): void => {
    if (text.startsWith(word, i)) i += word.length;
    else fail();
  };
  const str = (): void => {
    if (text[i] !== '"') fail();
    i++;
    for (;;) {
      if (i >= text.length) fail();
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) fail();
      if (c === 0x5c) {
        i++;
        if (text[i] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 4;
        } else if (!'"\\/bfnrt'.includes(text[i] ?? "x")) fail();
      }
      i++;
    }
    i++;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        str();
        ws();
        lit(":");
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") {
          i++;
          return;
        } else fail();
      }
    } else if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "]") {
          i++;
          return;
        } else fail();
      }
    } else if (c === '"') str();
    else if (c === "t") lit("true");
    else if (c === "f") lit("false");
    else if (c === "n") lit("null");
    else {
      const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
      if (!m) fail();
      else i += m[0].length;
    }
  };
  try {
    value();
    ws();
    return i < text.length ? i : -1;
  } catch (e) {
    if (e instanceof JsonSyntaxAt) return e.offset;
    throw e;
  }
}

/** JSON.parse with errors as `display:line:col: malformed JSON: ...`; `makeError` builds the error. */
export function parseJsonLocated(
  text: string,
  display: string,
  makeError: (message: string) => Error,
): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const offset = jsonErrorOffset(text);
    const { line, col } = lineCol(text, offset < 0 ? 0 : offset);
    const msg = (e as Error).message
      .split("\n")[0]
      .replace(/, ".*$/s, "")
      .replace(/ in JSON at position.*$/, "");
    throw makeError(`${display}:${line}:${col}: malformed JSON: ${msg}`);
  }
}

function lineCol(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, col: before[before.length - 1].length + 1 };
}

/**
 * Reads a golden: undefined when the file does not exist; the parsed value otherwise. `display` is
 * how the file is named in messages. Throws {@link GoldenError} for unreadable or malformed files.
 */
export function readGolden(file: string, display: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new GoldenError(`${display}:1:1: cannot read: ${(e as Error).message}`);
  }
  const value = parseJsonLocated(text, display, (m) => new GoldenError(m));
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new GoldenError(`${display}:1:1: expected a JSON object (a ${RESULT_FORMAT} result)`);
  const format = (value as Record<string, unknown>).format;
  if (format !== RESULT_FORMAT)
    throw new GoldenError(
      `${display}:1:1: format: expected "${RESULT_FORMAT}", got ${JSON.stringify(format)}`,
    );
  return value as Record<string, unknown>;
}

type Edit = { op: " " | "-" | "+"; line: string };

/** Myers' shortest edit script between two line arrays (after trimming the common ends). */
function diffLines(a: readonly string[], b: readonly string[]): Edit[] {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const head: Edit[] = a.slice(0, start).map((line) => ({ op: " ", line }));
  const tail: Edit[] = a.slice(endA).map((line) => ({ op: " ", line }));
  const A = a.slice(start, endA);
  const B = b.slice(start, endB);
  const n = A.length;
  const m = B.length;
  const max = n + m;
  const MAX_D = 4000;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= Math.min(max, MAX_D); d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1])
          ? v[offset + k + 1]
          : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && A[x] === B[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
    if (found >= 0) break;
  }
  let middle: Edit[];
  if (found < 0) {
    // Too different to be worth aligning: show it as one replacement.
    middle = [
      ...A.map((line) => ({ op: "-" as const, line })),
      ...B.map((line) => ({ op: "+" as const, line })),
    ];
  } else {
    middle = [];
    let x = n;
    let y = m;
    for (let d = found; d > 0; d--) {
      const vd = trace[d];
      const k = x - y;
      const prevK = k === -d || (k !== d && vd[offset + k - 1] < vd[offset + k + 1]) ? k + 1 : k - 1;
      const prevX = vd[offset + prevK];
      const prevY = prevX - prevK;
      while (x > prevX && y > prevY) {
        x--;
        y--;
        middle.push({ op: " ", line: A[x] });
      }
      if (x === prevX) {
        y--;
        middle.push({ op: "+", line: B[y] });
      } else {
        x--;
        middle.push({ op: "-", line: A[x] });
      }
    }
    while (x > 0 && y > 0) {
      x--;
      y--;
      middle.push({ op: " ", line: A[x] });
    }
    middle.reverse();
  }
  return [...head, ...middle, ...tail];
}

/**
 * Unified diff (3 lines of context) from `expected` to `actual` text; "" when they are equal.
 * Header names are given by the caller (e.g. `golden/x.json` and `actual`).
 */
export function unifiedDiff(
  expected: string,
  actual: string,
  fromName: string,
  toName: string,
  context = 3,
): string {
  if (expected === actual) return "";
  const a = expected.split("\n");
  const b = actual.split("\n");
  const edits = diffLines(a, b);
  const out = [`--- ${fromName}`, `+++ ${toName}`];
  const changed = edits.map((e) => e.op !== " ");
  let i = 0;
  while (i < edits.length) {
    if (!changed[i]) {
      i++;
      continue;
    }
    const start = Math.max(0, i - context);
    let end = i;
    // Extend the hunk while the next change is within 2*context lines.
    for (;;) {
      while (end < edits.length && changed[end]) end++;
      let next = end;
      while (next < edits.length && !changed[next]) next++;
      if (next < edits.length && next - end <= 2 * context) end = next;
      else break;
    }
    const stop = Math.min(edits.length, end + context);
    let aLine = 1;
    let bLine = 1;
    for (let j = 0; j < start; j++) {
      if (edits[j].op !== "+") aLine++;
      if (edits[j].op !== "-") bLine++;
    }
    const hunk = edits.slice(start, stop);
    const aCount = hunk.filter((e) => e.op !== "+").length;
    const bCount = hunk.filter((e) => e.op !== "-").length;
    out.push(`@@ -${aLine},${aCount} +${bLine},${bCount} @@`);
    for (const e of hunk) out.push(`${e.op}${e.line}`);
    i = stop;
  }
  return `${out.join("\n")}\n`;
}

/** Result of comparing a run with its golden. */
export type GoldenStatus =
  | { state: "match"; file: string }
  | { state: "mismatch"; file: string; diff: string }
  | { state: "missing"; file: string }
  | { state: "updated"; file: string }
  /** No golden existed: this run was recorded as the golden (outside CI, as snapshot tools do). */
  | { state: "recorded"; file: string }
  | { state: "skipped"; reason: string };

/** Compares `result` with a parsed golden; `display` names the golden in the diff header. */
export function compareGolden(
  result: ScenarioResult,
  golden: Record<string, unknown>,
  display: string,
): GoldenStatus {
  const expected = canonicalJson(golden);
  const actual = goldenText(result);
  if (expected === actual) return { state: "match", file: display };
  return { state: "mismatch", file: display, diff: unifiedDiff(expected, actual, display, "actual") };
}
