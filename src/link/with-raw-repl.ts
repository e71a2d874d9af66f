import type { ByteStream } from "./byte-stream.ts";
import { RawRepl, type RawReplOptions } from "./raw-repl.ts";

/**
 * Opens a raw REPL on `stream`, runs `work`, and closes the stream whatever happens, so a port is
 * released after any fault; returns what `work` returns, or rethrows its error.
 */
export async function withRawRepl<T>(
  stream: ByteStream | Promise<ByteStream>,
  options: RawReplOptions & { softReset?: boolean },
  work: (repl: RawRepl) => Promise<T>,
): Promise<T> {
  const repl = await RawRepl.connect(await stream, options);
  try {
    return await work(repl);
  } finally {
    await repl.close();
  }
}
