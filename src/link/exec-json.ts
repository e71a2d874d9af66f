/** Run code that prints one JSON line, and parse it. */
import { LinkError } from "./link-error.ts";
import type { ExecOptions, RawRepl } from "./raw-repl.ts";

/**
 * Runs `code` and parses the last non-empty line it printed as JSON (earlier lines, e.g. log
 * output, are ignored). A Python exception throws BoardPythonError; a line that is not JSON throws
 * a `frame` LinkError showing it.
 */
export async function execJson(repl: RawRepl, code: string, options: ExecOptions = {}): Promise<unknown> {
  const stdout = await repl.execOk(code, options);
  const line =
    stdout
      .split(/\r?\n/)
      .filter((l) => l.trim() !== "")
      .pop() ?? "";
  try {
    return JSON.parse(line) as unknown;
  } catch (e) {
    throw new LinkError({
      code: "frame",
      port: repl.port,
      what: `the board's last output line on ${repl.port} is not JSON: ${JSON.stringify(line.slice(0, 120))}`,
      hint: "did the code print something after its JSON line, or does the board lack the json module?",
      cause: e,
    });
  }
}

/** Evaluates the Python expression `expression` on the board through `json.dumps` and returns it. */
export function evalJson(repl: RawRepl, expression: string, options: ExecOptions = {}): Promise<unknown> {
  return execJson(repl, `import json\nprint(json.dumps(${expression}))`, options);
}
