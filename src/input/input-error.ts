/**
 * The family of bad-input errors: a scenario, a fault plan, a trace, a golden, an image. Each names
 * the file, and for every problem the field path (as segments), the position when the format has one
 * (line:col), and what was expected. The CLI maps any InputError to exit 2; exit 3 is for bugs only.
 */

/** A field path: `steps[3].save.quality` is `["steps", 3, "save", "quality"]`. */
export type PathSeg = string | number;

/** One problem. */
export interface InputIssue {
  readonly path: readonly PathSeg[];
  /** What was expected and what was found. */
  readonly message: string;
  /** 1-based line and column in the file, when the format has positions. */
  readonly line?: number;
  readonly col?: number;
  /** The problem is the key itself (an unknown field), not its value. */
  readonly onKey?: boolean;
}

/** `steps[3].save.quality`. */
export function displayPath(path: readonly PathSeg[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** `file:line:col: path: message` (the parts that are known). */
export function formatInputIssue(file: string | undefined, i: InputIssue): string {
  const where = [file, i.line, i.col].filter((x) => x !== undefined).join(":");
  const path = displayPath(i.path);
  return `${where ? `${where}: ` : ""}${path ? `${path}: ` : ""}${i.message}`;
}

/** Bad user input; `message` is one formatted line per issue unless a subclass says otherwise. */
export class InputError extends Error {
  constructor(
    /** The file as the user named it (no host paths), when there is one. */
    readonly file: string | undefined,
    readonly issues: readonly InputIssue[],
    message?: string,
  ) {
    super(message ?? issues.map((i) => formatInputIssue(file, i)).join("\n"));
    this.name = "InputError";
  }
}
