/**
 * Python exception types as a MicroPython script sees them. `pyType` is the Python class name, `args`
 * the exception's argument tuple, and `str()` / `repr()` / `exc()` print exactly what MicroPython's
 * `mp_obj_exception_print` (py/objexcept.c) prints for `str(e)`, `repr(e)` and a traceback's last
 * line. The errno-carrying `OSError` lives in os-error.ts and extends {@link PyException}.
 *
 * The shape (`pyType`, `str()`) matches src/openmv/py-errors.ts so the two can be merged.
 */

/** A value that can sit in a Python exception's `args` tuple in this model. */
export type PyArg = string | number | boolean | null;

/** Base of every Python-visible exception thrown by the model. */
export abstract class PyException extends Error {
  /** Python class name as printed in a traceback, e.g. `ValueError`. */
  abstract readonly pyType: string;
  /** The exception's `args` tuple. */
  readonly args: readonly PyArg[];

  constructor(args: readonly PyArg[], message?: string) {
    super(message ?? strOfArgs(args));
    this.args = args;
  }

  /** What `str(e)` prints (py/objexcept.c, PRINT_STR). */
  str(): string {
    return strOfArgs(this.args);
  }

  /** What `repr(e)` prints, e.g. `ValueError('key',)`. */
  repr(): string {
    return `${this.pyType}${reprTuple(this.args)}`;
  }

  /** The last line of a traceback (PRINT_EXC), e.g. `ValueError: key`. */
  exc(): string {
    return `${this.pyType}: ${this.str()}`;
  }
}

/** `str()` of an exception with these args and no special formatting. */
export function strOfArgs(args: readonly PyArg[]): string {
  if (args.length === 0) return "";
  if (args.length === 1) return pyStr(args[0]);
  return reprTuple(args);
}

/** Python `str(x)` for the scalar values used in exception args. */
export function pyStr(v: PyArg): string {
  if (typeof v === "string") return v;
  return pyRepr(v);
}

/** Python `repr(x)` for scalars: MicroPython quotes strings with `'` unless they contain `'` and no `"`. */
export function pyRepr(v: PyArg): string {
  if (v === null) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return String(v);
  const quote = v.includes("'") && !v.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of v) {
    if (ch === quote || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch < " " || ch === "\x7f") out += `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + quote;
}

/** Python tuple repr: `(1,)`, `(1, 'a')`, `()`. */
export function reprTuple(args: readonly PyArg[]): string {
  if (args.length === 1) return `(${pyRepr(args[0])},)`;
  return `(${args.map(pyRepr).join(", ")})`;
}

/** MicroPython `ValueError(msg)`; `str(e)` is the bare message. */
export class ValueError extends PyException {
  readonly pyType = "ValueError";
  constructor(...args: PyArg[]) {
    super(args);
    this.name = "ValueError";
  }
}

/** MicroPython `TypeError(msg)`. */
export class TypeError extends PyException {
  readonly pyType = "TypeError";
  constructor(...args: PyArg[]) {
    super(args);
    this.name = "TypeError";
  }
}

/** MicroPython `MemoryError` (e.g. `f.read(-2)`, which asks for a huge buffer; py/stream.c). */
export class MemoryError extends PyException {
  readonly pyType = "MemoryError";
  constructor(...args: PyArg[]) {
    super(args);
    this.name = "MemoryError";
  }
}

/** MicroPython `UnicodeError`: a text-mode read that is not valid UTF-8 (py/objstr.c, utf8_check). */
export class UnicodeError extends PyException {
  readonly pyType = "UnicodeError";
  constructor(...args: PyArg[]) {
    super(args);
    this.name = "UnicodeError";
  }
}

/** True when `e` is a Python-visible exception, optionally of the given Python class name. */
export function isPyException(e: unknown, pyType?: string): e is PyException {
  return e instanceof PyException && (pyType === undefined || e.pyType === pyType);
}
