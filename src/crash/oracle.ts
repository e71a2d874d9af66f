/**
 * Oracles of the crash-state engine: what each touched file should hold at a cut (from the recording's
 * commit history), the pluggable readers that decide whether wrong bytes are noticed, and the outcome
 * classes (ARCHITECTURE.md "Crash states"):
 *
 * - `intact`: the content committed last before the cut (or a later version of the run: the new content
 *   reached the card ahead of its close, e.g. under `persist-all` with the cut inside f_close);
 * - `previous`: absent, or the content before the workload, or an earlier committed version: "as if
 *   never written";
 * - `detected`: reading fails (an OSError such as EIO) or the file's reader raises an error;
 * - `silent`: the reader accepts bytes that are none of the above (the worst);
 * and for the volume, `unmountable`.
 *
 * Readers only run on bytes that match no version of the file: a version of the run is by definition
 * what the application wrote, so a reader must accept it.
 */
import type { Vfs } from "../vfs/vfs.ts";
import type { FileEvent, FileHistory, Recording } from "./record.ts";
import { runReader, type ReaderVerdictCache } from "./reader-verdicts.ts";

/** Outcome class of one file. */
export type FileClass = "intact" | "previous" | "detected" | "silent" | "unstable";
/** Class of a crash state: its worst file, or `unmountable`. */
export type StateClass = FileClass | "unmountable";

/** Order of badness: a state takes its worst file's class. */
export const FILE_CLASS_ORDER: readonly FileClass[] = [
  "intact",
  "previous",
  "detected",
  "silent",
  "unstable",
];
export const STATE_CLASSES: readonly StateClass[] = [...FILE_CLASS_ORDER, "unmountable"];

/** What a reader sees. */
export interface ReadContext {
  /** VFS path of the file on the rebooted volume, e.g. `/sdcard/img/0001.jpg`. */
  readonly path: string;
  /** Raw bytes of the file as read through the rebooted VFS. */
  readonly bytes: Uint8Array;
  /** The rebooted VFS (a reader may open other files, e.g. a key). */
  readonly vfs: Vfs;
  /** Content the oracle expected (null = absent). */
  readonly expected: Uint8Array | null;
}

/**
 * Reads a file the way an application would. `check` throws (any error) when the application would
 * notice the damage (`detected`), and returns normally when it would accept the bytes (`silent` when
 * they are wrong). It may be async.
 */
export interface FileReader {
  readonly name: string;
  check(ctx: ReadContext): void | Promise<void>;
  /**
   * True when `check`'s verdict depends only on `path` and `bytes` (not on `vfs` or `expected`) and is
   * deterministic: a sweep then reuses it for the same path and content (reader-verdicts.ts).
   */
  readonly bytesOnly?: boolean;
  /**
   * For files whose bytes the device randomises (an `.enc`'s RSA padding from os.urandom): what the
   * reader recovers from `bytes` (the decrypted JPEG); throws when it recovers nothing. Two devices'
   * files of this kind compare by it, not by their bytes (sim/compare-recovered.ts).
   */
  recover?(bytes: Uint8Array): Uint8Array;
}

/** The default reader: accepts any bytes (so wrong content is `silent` unless the read itself fails). */
export const rawReader: FileReader = {
  name: "raw",
  check: () => undefined,
};

/** Which reader handles which files: by extension (`.jpg`, case-insensitive), RegExp or predicate. */
export interface ReaderRule {
  readonly match: string | RegExp | ((path: string) => boolean);
  readonly reader: FileReader;
}

/** The reader for `path`: the first matching rule, else {@link rawReader}. */
export function readerFor(rules: readonly ReaderRule[], path: string): FileReader {
  for (const r of rules) {
    const m = r.match;
    const hit =
      typeof m === "string"
        ? path.toLowerCase().endsWith(m.toLowerCase())
        : m instanceof RegExp
          ? m.test(path)
          : m(path);
    if (hit) return r.reader;
  }
  return rawReader;
}

/** Where a file stands at one cut, from its history. */
export interface FileAtCut {
  /** Index (in `versions`) of the content committed last before the cut. */
  readonly expectedVersion: number;
  /** True when the file's last lifecycle event before the cut is a close, remove or rename (not open or flush). */
  readonly closedBeforeCut: boolean;
}

/** A file's versions: `before` then each commit, in run order. */
export function versionsOf(h: FileHistory): FileEvent[] {
  return h.events.filter((e) => e.kind !== "open");
}

/**
 * The oracle at cut `c` (writes 0..c-1 completed, write c in flight). A version counts as committed
 * when all its writes completed (`writes` ≤ c): its barrier (the f_sync of the close) precedes write
 * c, so every unsynced policy keeps it. An open is in effect once it has started (`writes` ≤ c: write
 * c may be its own), so a file being reopened at the cut is not "closed before the cut".
 */
export function fileAtCut(h: FileHistory, c: number): FileAtCut {
  let version = 0;
  let v = -1;
  // A file that existed before the workload starts closed; one that did not is not "closed" yet.
  let closed = h.events[0].content != null;
  for (const e of h.events) {
    if (e.kind === "open") {
      if (e.writes <= c) closed = false;
      continue;
    }
    v++;
    if (e.kind === "before") continue;
    if (e.writes <= c) {
      version = v;
      if (e.kind !== "flush") closed = true;
    }
  }
  return { expectedVersion: version, closedBeforeCut: closed };
}

/** One file's outcome in one crash state. */
export interface FileOutcome {
  readonly path: string;
  readonly class: FileClass;
  /** Which version the bytes matched (index into the versions: 0 = before), or -1 for none / absent. */
  readonly matched: number;
  readonly expectedVersion: number;
  readonly closedBeforeCut: boolean;
  /** Reader name for detected/silent. */
  readonly reader?: string;
  /** Why: the OSError / reader message for detected, a size summary for silent. */
  readonly detail?: string;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

function errorText(e: unknown): string {
  if (e instanceof Error) {
    const py = (e as { str?: () => string; pyType?: string }).pyType;
    const str = (e as { str?: () => string }).str;
    return py && str ? `${py}: ${str.call(e)}` : `${e.name}: ${e.message}`;
  }
  return String(e);
}

/**
 * Classifies one touched file on the rebooted volume. `read` returns the bytes (null = absent) or
 * throws (an OSError from the VFS: `detected`). `verdicts` reuses bytes-only readers' verdicts.
 */
export async function classifyFile(
  h: FileHistory,
  versions: readonly FileEvent[],
  at: FileAtCut,
  vfs: Vfs,
  read: () => Uint8Array | null,
  rules: readonly ReaderRule[],
  verdicts?: ReaderVerdictCache,
): Promise<FileOutcome> {
  const base = { path: h.path, expectedVersion: at.expectedVersion, closedBeforeCut: at.closedBeforeCut };
  let bytes: Uint8Array | null;
  try {
    bytes = read();
  } catch (e) {
    return { ...base, class: "detected", matched: -1, reader: "vfs", detail: errorText(e) };
  }
  const expected = versions[at.expectedVersion].content ?? null;
  if (bytes === null) {
    if (expected === null) return { ...base, class: "intact", matched: -1 };
    return { ...base, class: "previous", matched: -1 };
  }
  // Expected first, then later versions (ahead), then earlier ones.
  const order = [at.expectedVersion];
  for (let i = at.expectedVersion + 1; i < versions.length; i++) order.push(i);
  for (let i = at.expectedVersion - 1; i >= 0; i--) order.push(i);
  for (const i of order) {
    const c = versions[i].content;
    if (c && sameBytes(c, bytes))
      return { ...base, class: i >= at.expectedVersion ? "intact" : "previous", matched: i };
  }
  const reader = readerFor(rules, h.path);
  const ctx: ReadContext = { path: h.path, bytes, vfs, expected };
  const refused = verdicts
    ? await verdicts.verdict(reader, ctx, errorText)
    : await runReader(reader, ctx, errorText);
  if (refused !== null)
    return { ...base, class: "detected", matched: -1, reader: reader.name, detail: refused };
  return {
    ...base,
    class: "silent",
    matched: -1,
    reader: reader.name,
    detail: `${bytes.length} bytes accepted; expected ${expected === null ? "absent" : `${expected.length} bytes`}`,
  };
}

/**
 * A file's label for people: `absent` where the outcome is "no file, and none was expected" (`intact`
 * with nothing matched), else its class. Runs and replays print this; a sweep's counts keep `intact`,
 * since the state is what the device meant (README "Outcome classes").
 */
export function fileLabel(outcome: Pick<FileOutcome, "class" | "matched">): FileClass | "absent" {
  return outcome.class === "intact" && outcome.matched === -1 ? "absent" : outcome.class;
}

/** Worst of two classes (intact < previous < detected < silent). */
export function worse(a: FileClass, b: FileClass): FileClass {
  return FILE_CLASS_ORDER.indexOf(a) >= FILE_CLASS_ORDER.indexOf(b) ? a : b;
}

/** Per-file view of a recording, precomputed once per sweep. */
export interface FileOracle {
  readonly history: FileHistory;
  readonly versions: FileEvent[];
}

export function fileOracles(rec: Recording): FileOracle[] {
  return rec.files.map((h) => ({ history: h, versions: versionsOf(h) }));
}
