import { InputError } from "../input/index.ts";

/**
 * Bad trace input (TRACE-FORMAT.md, "Readers reject"): names the file, the 1-based line, the field
 * and what was expected, so a command can print it and exit 2.
 */
export class TraceFormatError extends InputError {
  constructor(
    override readonly file: string,
    /** 1-based line number (line 1 is the header). */
    readonly line: number,
    /** The field concerned (`format`, `seq`, `bytes`...), or `json`/`gzip` for the line or the file. */
    readonly field: string,
    /** What was expected there. */
    readonly expected: string,
    /** What was found, when it helps. */
    readonly found?: string,
  ) {
    const message = `expected ${expected}${found !== undefined ? `, found ${found}` : ""}`;
    super(file, [{ path: [field], message, line }], `${file}:${line}: ${field}: ${message}`);
    this.name = "TraceFormatError";
  }
}

/** True for a {@link TraceFormatError}. */
export function isTraceFormatError(e: unknown): e is TraceFormatError {
  return e instanceof TraceFormatError;
}
