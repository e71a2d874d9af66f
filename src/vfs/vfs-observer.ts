/**
 * A listener on the file operations that can change what a file holds: the one place where a file's
 * intended content is seen (the crash engine's file histories, a board agent's records). Every hook is
 * optional and is called synchronously; a hook must not throw.
 *
 * Paths are absolute and normalised ({@link absolutePath}); `will*` hooks run before the operation,
 * the others after it succeeded (`wrote` also after a write that failed part-way, with the bytes
 * that reached the file).
 */
/** What an observer is told about an open file (a `VfsFile`); it identifies the file between calls. */
export interface ObservedFile {
  /** The path as given to `open()`. */
  readonly name: string;
  readonly mode: string;
}

export interface VfsObserver {
  willOpen?(path: string, mode: string): void;
  opened?(file: ObservedFile, path: string, mode: string): void;
  /** `bytes` were handed to write() at `position`; the first `written` of them reached the file. */
  wrote?(file: ObservedFile, position: number, bytes: Uint8Array, written: number): void;
  /** flush() (f_sync) succeeded. */
  flushed?(file: ObservedFile): void;
  /** close() (f_close) succeeded. */
  closed?(file: ObservedFile): void;
  willRemove?(path: string): void;
  removed?(path: string): void;
  willRename?(from: string, to: string): void;
  renamed?(from: string, to: string): void;
}

/**
 * Normalises `path` against `cwd` (`.`/`..`, repeated slashes); `..` stops at the root as FatFs keeps
 * it at the volume root.
 */
export function absolutePath(cwd: string, path: string): string {
  const full = path.startsWith("/") ? path : `${cwd === "/" ? "" : cwd}/${path}`;
  const out: string[] = [];
  for (const part of full.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 1) out.pop();
      continue;
    }
    out.push(part);
  }
  return "/" + out.join("/");
}
