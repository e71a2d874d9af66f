/**
 * The virtual board behind a real pty (socat), driven by the project's raw-REPL client (src/link)
 * over a real serial port object, as a board run would drive /dev/ttyACM0.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RawRepl, openSerialStream } from "../../src/link/index.ts";
import {
  startVirtualBoardPty,
  type VirtualBoardPty,
  type VirtualBoardPtyOptions,
} from "../../src/virtual-board/index.ts";

export interface BoardUnderTest {
  readonly board: VirtualBoardPty;
  repl: RawRepl;
  /** A scratch directory for this board's files. */
  readonly dir: string;
  /** Reopens the port and enters the raw REPL again (after a power cycle or reset). */
  reconnect(): Promise<void>;
  stop(): Promise<void>;
}

export async function startBoard(options: VirtualBoardPtyOptions = {}): Promise<BoardUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), "cardsim-vb-"));
  const board = await startVirtualBoardPty({ link: join(dir, "tty"), ...options });
  const connect = async (): Promise<RawRepl> =>
    RawRepl.connect(await openSerialStream(board.path), { promptTimeoutMs: 5_000, execTimeoutMs: 5_000 });
  const t: BoardUnderTest = {
    board,
    dir,
    repl: await connect(),
    async reconnect() {
      await t.repl.close();
      t.repl = await connect();
    },
    async stop() {
      await t.repl.close();
      await board.stop();
    },
  };
  return t;
}

/** Runs `code` and returns its stdout; a Python exception fails the test with its traceback. */
export async function run(t: BoardUnderTest, code: string): Promise<string> {
  return t.repl.execOk(code);
}
