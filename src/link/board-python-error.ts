/**
 * A Python exception raised by code the link ran on the board: not a link fault, the board's own
 * answer (its traceback arrives in the raw REPL's stderr part).
 */
export class BoardPythonError extends Error {
  /** The exception's type from the traceback's last line, e.g. `OSError`. */
  readonly pythonType: string;
  /** The text after `Type: `, e.g. `[Errno 2] ENOENT`. */
  readonly pythonMessage: string;

  constructor(
    /** The port or stream the code ran on. */
    readonly port: string,
    /** What the code printed before raising. */
    readonly stdout: string,
    /** The whole traceback. */
    readonly stderr: string,
  ) {
    const last =
      stderr
        .split(/\r?\n/)
        .filter((l) => l.trim() !== "")
        .pop() ?? "";
    const m = /^([A-Za-z_][\w.]*)(?::\s?(.*))?$/.exec(last.trim());
    const pythonType = m?.[1] ?? "Exception";
    const pythonMessage = m ? (m[2] ?? "") : last.trim();
    super(`${port}: the board raised ${pythonType}${pythonMessage ? `: ${pythonMessage}` : ""}`);
    this.name = "BoardPythonError";
    this.pythonType = pythonType;
    this.pythonMessage = pythonMessage;
  }
}
