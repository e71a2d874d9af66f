import { createRequire } from "node:module";
import { SerialPortMock } from "serialport";
import { afterEach, describe, expect, it } from "vitest";
import {
  LinkError,
  RawRepl,
  StreamCore,
  openSerialStream,
  type SerialPortLike,
} from "../../src/link/index.ts";
import { FakeReplDevice } from "../../src/link/testing/index.ts";

// serialport (CommonJS) loads the CommonJS build of @serialport/binding-mock; an ESM import would
// be a second instance with its own ports, so require it (and type it through SerialPortMock).
const { MockBinding } = createRequire(import.meta.url)("@serialport/binding-mock") as {
  MockBinding: typeof SerialPortMock.binding;
};
type MockPortBinding = NonNullable<SerialPortMock["port"]>;

/** The board's end of a mock port: what the host writes arrives here, what it writes is emitted. */
class MockBoardEnd extends StreamCore {
  readonly name = "mock board";
  constructor(private readonly binding: { emitData(data: Buffer): void }) {
    super();
  }
  receive(bytes: Uint8Array): void {
    this.deliver(bytes.slice());
  }
  write(bytes: Uint8Array): Promise<void> {
    this.binding.emitData(Buffer.from(bytes));
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.finish({ reason: "closed" });
    return Promise.resolve();
  }
}

/** Opens `path` on the mock binding and puts a fake board behind it. */
async function mockBoard(path: string) {
  MockBinding.createPort(path, { echo: false, record: true });
  let port: SerialPortMock | undefined;
  const setCalls: unknown[] = [];
  const stream = await openSerialStream(path, {
    portFactory: (o) => {
      port = new SerialPortMock(o);
      const set = port.set.bind(port);
      port.set = (options, cb) => {
        setCalls.push(options);
        set(options, cb);
      };
      return port;
    },
  });
  const binding: MockPortBinding = port!.port!;
  const board = new MockBoardEnd(binding);
  const write = binding.write.bind(binding);
  binding.write = async (buf: Buffer) => {
    await write(buf);
    board.receive(buf);
  };
  const device = new FakeReplDevice(board, {
    exec: (code, io) => io.print(`ran ${code.length} bytes\r\n`),
  });
  return { stream, port: port!, binding, device, setCalls };
}

async function failure(p: Promise<unknown>): Promise<LinkError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(LinkError);
  return e as LinkError;
}

afterEach(() => MockBinding.reset());

describe("openSerialStream on @serialport/binding-mock", () => {
  it("opens at 115200 with DTR asserted and runs the raw REPL through the port", async () => {
    const { stream, port, binding, device, setCalls } = await mockBoard("/dev/ttyMOCK0");
    expect(stream.baud).toBe(115200);
    expect(setCalls).toEqual([{ dtr: true, rts: true }]);
    expect(MockBinding).toBe(SerialPortMock.binding);
    expect(binding.openOptions.baudRate).toBe(115200);
    const repl = await RawRepl.connect(stream, { settleMs: 0 });
    const r = await repl.exec("x = 1\n" + "#".repeat(1000));
    expect(r).toMatchObject({ stdout: "ran 1006 bytes\r\n", mode: "raw-paste" });
    expect(device.windowViolations).toBe(0);
    expect(binding.recording.subarray(0, 4)).toEqual(Buffer.from("\r\x03\r\x01"));
    await repl.close();
    expect(port.isOpen).toBe(false);
    expect(stream.end).toEqual({ reason: "closed" });
  });

  it("a lost port mid-exec is a disconnected LinkError and the stream ends", async () => {
    const { stream, port } = await mockBoard("/dev/ttyMOCK1");
    const repl = await RawRepl.connect(stream, { settleMs: 0 });
    await repl.exec("1");
    port._disconnected(Object.assign(new Error("device disconnected"), { disconnected: true }));
    const e = await failure(repl.exec("2"));
    expect(e.code).toBe("disconnected");
    expect(stream.end?.reason).toBe("disconnected");
  });

  it("refuses OpenMV's debug-protocol and bootloader bauds unless forced", async () => {
    for (const baud of [921600, 12000000, 1200]) {
      const e = await failure(openSerialStream("/dev/ttyMOCK2", { baud }));
      expect(e.code).toBe("bad-baud");
      expect(e.message).toMatch(baud === 1200 ? /bootloader/ : /debug protocol/);
    }
    MockBinding.createPort("/dev/ttyMOCK2");
    const s = await openSerialStream("/dev/ttyMOCK2", {
      baud: 921600,
      forceBaud: true,
      portFactory: (o) => new SerialPortMock(o),
    });
    expect(s.baud).toBe(921600);
    await s.close();
  });
});

describe("open failures name the port and what to check", () => {
  it("board absent: ENOENT from the real binding", async () => {
    const e = await failure(openSerialStream("/dev/ttyACM-cardsim-absent"));
    expect(e.code).toBe("port-absent");
    expect(e.message).toContain("/dev/ttyACM-cardsim-absent does not exist");
    expect(e.hint).toContain("plugged in");
  });

  const failingPort = (message: string) => (): SerialPortLike =>
    ({
      open: (cb: (err: Error | null) => void) => cb(new Error(message)),
    }) as unknown as SerialPortLike;

  it.each([
    ["Error: Permission denied, cannot open /dev/ttyACM0", "port-permission", "dialout"],
    ["Error Resource temporarily unavailable Cannot lock port", "port-busy", "OpenMV IDE"],
    ["Error: Device or resource busy, cannot open /dev/ttyACM0", "port-busy", "fuser"],
    ["Error: Input/output error, cannot open /dev/ttyACM0", "port-open-failed", "USB"],
  ])("%s → %s", async (message, code, hint) => {
    const e = await failure(openSerialStream("/dev/ttyACM0", { portFactory: failingPort(message) }));
    expect(e.code).toBe(code);
    expect(e.port).toBe("/dev/ttyACM0");
    expect(e.hint).toContain(hint);
  });
});
