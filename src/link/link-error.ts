/**
 * Errors of the serial link: every one names the port (or stream) and what to check (STYLE.md: a
 * timeout throws a message that says what to check).
 */

/** What went wrong on the link. */
export type LinkErrorCode =
  /** The port does not exist (ENOENT): board unplugged or wrong path. */
  | "port-absent"
  /** Another program holds the port (EBUSY, or the exclusive lock failed). */
  | "port-busy"
  /** No permission to open the port (EACCES). */
  | "port-permission"
  /** Opening the port failed for another reason. */
  | "port-open-failed"
  /** A baud that selects OpenMV's debug protocol or bootloader, refused unless forced. */
  | "bad-baud"
  /** Nothing at all came back while waiting for a prompt. */
  | "no-answer"
  /** Bytes came back, but not the expected prompt: wrong baud, another protocol, line noise. */
  | "garbage"
  /** A raw-REPL frame was not as the protocol says (missing `OK`, stray byte in raw-paste). */
  | "frame"
  /** Running code produced no output within the timeout (the link sent Ctrl-C; see `recovered`). */
  | "timeout"
  /** A write did not complete within the write timeout. */
  | "write-timeout"
  /** The stream ended: the board was unplugged or reset, or the process exited. */
  | "disconnected"
  /** An uploaded file's sha256 on the board differs from the local bytes. */
  | "upload-mismatch";

/** Fields of a {@link LinkError}. */
export interface LinkErrorInit {
  code: LinkErrorCode;
  /** The port path or stream name. */
  port: string;
  /** What happened, naming the port, e.g. `no answer from /dev/ttyACM0 within 10 s after \r\x01`. */
  what: string;
  /** What to check, e.g. `is the board running MicroPython, ...?`. */
  hint: string;
  /** The bytes received while waiting (shown escaped, first 64). */
  received?: Uint8Array;
  /** Standard output the board printed before the failure (exec timeouts). */
  partialStdout?: string;
  /** After a timeout: whether Ctrl-C brought the raw REPL back (true: the link is usable). */
  recovered?: boolean;
  cause?: unknown;
}

/** A typed error of the link (bad input or a fault outside the program, never a bug). */
export class LinkError extends Error {
  readonly code: LinkErrorCode;
  readonly port: string;
  readonly hint: string;
  readonly received?: Uint8Array;
  readonly partialStdout?: string;
  readonly recovered?: boolean;

  constructor(init: LinkErrorInit) {
    const shown =
      init.received === undefined
        ? ""
        : ` (received ${init.received.length} bytes: ${escapeBytes(init.received)})`;
    super(`${init.what}${shown}: ${init.hint}`, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "LinkError";
    this.code = init.code;
    this.port = init.port;
    this.hint = init.hint;
    this.received = init.received;
    this.partialStdout = init.partialStdout;
    this.recovered = init.recovered;
  }
}

/** Shows bytes as a quoted string with `\r`, `\n`, `\t` and `\xNN` escapes, cut after `max` bytes. */
export function escapeBytes(bytes: Uint8Array, max = 64): string {
  let s = '"';
  for (const b of bytes.subarray(0, max)) {
    if (b === 0x0d) s += "\\r";
    else if (b === 0x0a) s += "\\n";
    else if (b === 0x09) s += "\\t";
    else if (b === 0x22) s += '\\"';
    else if (b === 0x5c) s += "\\\\";
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return s + (bytes.length > max ? '"...' : '"');
}

/** Seconds for messages: `10 s`, `0.5 s`. */
export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}
