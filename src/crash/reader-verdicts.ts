/**
 * Reader verdicts cached by content hash (issue 14): a sweep reads the same damaged bytes of a file in
 * many crash states (every state after a cut that does not touch the file again, every unsynced-write
 * policy that leaves it alike), and a reader such as the `.enc` decryption costs an RSA operation per
 * call. A verdict is a function of the reader, the path and the bytes for a reader that declares
 * `bytesOnly` (oracle.ts `FileReader`), so it is kept under sha256(bytes) and reused; other readers always run.
 */
import { createHash } from "node:crypto";

/** What the cache needs of a reader's context (oracle.ts `ReadContext`; typed here to avoid a cycle). */
export interface VerdictContext {
  readonly path: string;
  readonly bytes: Uint8Array;
}

/** What the cache needs of a reader (oracle.ts `FileReader`). */
export interface VerdictReader<C extends VerdictContext> {
  readonly bytesOnly?: boolean;
  check(ctx: C): void | Promise<void>;
}

/** What a reader said: null when it accepted the bytes, else the error text it raised. */
export type ReaderVerdict = string | null;

/** Counts for the bench and the tests. */
export interface ReaderVerdictStats {
  /** Reader calls made (verdicts computed). */
  runs: number;
  /** Verdicts reused from the cache. */
  hits: number;
}

/** Entries kept per reader before the cache starts over (bounds memory on long sweeps). */
const MAX_ENTRIES_PER_READER = 50_000;

/** One sweep's (or one checker's) cache of reader verdicts. */
export class ReaderVerdictCache {
  private readonly byReader = new WeakMap<object, Map<string, ReaderVerdict>>();
  readonly stats: ReaderVerdictStats = { runs: 0, hits: 0 };

  /**
   * The verdict of `reader` on `ctx`, from the cache when the reader is bytes-only and has seen this
   * path and content before. `errorText` renders a thrown error as the outcome's detail.
   */
  async verdict<C extends VerdictContext>(
    reader: VerdictReader<C>,
    ctx: C,
    errorText: (e: unknown) => string,
  ): Promise<ReaderVerdict> {
    if (!reader.bytesOnly) return this.run(reader, ctx, errorText);
    let memo = this.byReader.get(reader);
    if (!memo) {
      memo = new Map();
      this.byReader.set(reader, memo);
    }
    const key = `${ctx.path}\0${createHash("sha256").update(ctx.bytes).digest("base64")}`;
    const known = memo.get(key);
    if (known !== undefined) {
      this.stats.hits++;
      return known;
    }
    const v = await this.run(reader, ctx, errorText);
    if (memo.size >= MAX_ENTRIES_PER_READER) memo.clear();
    memo.set(key, v);
    return v;
  }

  private async run<C extends VerdictContext>(
    reader: VerdictReader<C>,
    ctx: C,
    errorText: (e: unknown) => string,
  ): Promise<ReaderVerdict> {
    this.stats.runs++;
    return runReader(reader, ctx, errorText);
  }
}

/** Runs `reader` once (no cache). */
export async function runReader<C extends VerdictContext>(
  reader: VerdictReader<C>,
  ctx: C,
  errorText: (e: unknown) => string,
): Promise<ReaderVerdict> {
  try {
    const r = reader.check(ctx);
    if (r instanceof Promise) await r;
    return null;
  } catch (e) {
    return errorText(e);
  }
}
