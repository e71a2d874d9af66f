/**
 * A real serial port as a {@link ByteStream}, on npm `serialport` 13 (prebuilt binding). The port
 * is always named by the caller: listing ports needs udev, absent in containers.
 */
import { SerialPort, type SerialPortMock } from "serialport";
import { StreamCore } from "./byte-stream.ts";
import { LinkError } from "./link-error.ts";

/** Bauds at which OpenMV firmware does not run the REPL (DEVICE-FACTS.md, serial link). */
export const OPENMV_RESERVED_BAUDS: ReadonlyMap<number, string> = new Map([
  [921600, "selects the OpenMV IDE's debug protocol (firmware 4.x and 5.x)"],
  [12000000, "selects the OpenMV IDE's debug protocol (firmware 4.x)"],
  [1200, "makes the board enter its bootloader (firmware 4.x)"],
]);

/** The port objects this module can drive: the real one, or `SerialPortMock` in tests. */
export type SerialPortLike = SerialPort | SerialPortMock;

/** Options of {@link openSerialStream}. */
export interface SerialStreamOptions {
  /** Baud rate, default 115200 (OpenMV's REPL). */
  baud?: number;
  /** Open even at a baud in {@link OPENMV_RESERVED_BAUDS}. */
  forceBaud?: boolean;
  /** Makes the port object (tests pass one that builds a `SerialPortMock`); default `SerialPort`. */
  portFactory?: (options: { path: string; baudRate: number; autoOpen: false }) => SerialPortLike;
}

class SerialStream extends StreamCore {
  constructor(
    readonly name: string,
    readonly baud: number,
    private readonly port: SerialPortLike,
  ) {
    super();
    port.on("data", (chunk: Buffer) => this.deliver(new Uint8Array(chunk)));
    // Without an 'error' listener an OS error would crash the process; 'close' follows it.
    port.on("error", (err: Error) => {
      if (!port.isOpen) this.finish({ reason: "disconnected", detail: err.message });
    });
    port.on("close", (err?: Error & { disconnected?: boolean }) => {
      this.finish(
        err?.disconnected
          ? { reason: "disconnected", detail: err.message }
          : { reason: this.closing ? "closed" : "disconnected" },
      );
    });
  }

  private closing = false;

  write(bytes: Uint8Array): Promise<void> {
    if (this.isClosed || !this.port.isOpen)
      return Promise.reject(
        new LinkError({
          code: "disconnected",
          port: this.name,
          what: `${this.name} is closed`,
          hint: "reopen the port",
        }),
      );
    return new Promise((resolve, reject) => {
      this.port.write(Buffer.from(bytes), (err) => (err ? reject(err) : resolve()));
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.port.isOpen) {
      await new Promise<void>((resolve) => this.port.close(() => resolve()));
    }
    this.finish({ reason: "closed" });
  }
}

/**
 * Opens `path` at `baud` (default 115200) with DTR asserted (OpenMV sends REPL output only to a
 * host that asserts DTR) and returns it as a stream. Open failures throw a LinkError naming the
 * port: `port-absent`, `port-busy`, `port-permission` or `port-open-failed`.
 */
export async function openSerialStream(
  path: string,
  options: SerialStreamOptions = {},
): Promise<SerialStreamHandle> {
  const baud = options.baud ?? 115200;
  const reserved = OPENMV_RESERVED_BAUDS.get(baud);
  if (reserved && !options.forceBaud)
    throw new LinkError({
      code: "bad-baud",
      port: path,
      what: `refusing to open ${path} at ${baud} baud: on OpenMV that baud ${reserved}`,
      hint: "use 115200 for the MicroPython REPL (or force it if this board is not an OpenMV)",
    });
  const make = options.portFactory ?? ((o) => new SerialPort(o));
  const port = make({ path, baudRate: baud, autoOpen: false });
  await new Promise<void>((resolve, reject) =>
    port.open((err) => (err ? reject(openError(path, err)) : resolve())),
  );
  try {
    await new Promise<void>((resolve, reject) =>
      port.set({ dtr: true, rts: true }, (err) => (err && !isNotATty(err) ? reject(err) : resolve())),
    );
  } catch (e) {
    await new Promise<void>((resolve) => port.close(() => resolve()));
    throw new LinkError({
      code: "port-open-failed",
      port: path,
      what: `could not assert DTR on ${path}: ${(e as Error).message}`,
      hint: "is it a serial port (a USB CDC ACM device such as /dev/ttyACM0)?",
      cause: e,
    });
  }
  return new SerialStream(path, baud, port);
}

/** The stream {@link openSerialStream} returns. */
export type SerialStreamHandle = StreamCore & { readonly baud: number };

/** A pty answers modem-control ioctls with ENOTTY ("Inappropriate ioctl for device"): harmless. */
function isNotATty(err: Error): boolean {
  return /ENOTTY|Inappropriate ioctl/i.test(err.message);
}

function openError(path: string, err: Error): LinkError {
  const m = err.message;
  const [code, what, hint] = /ENOENT|No such file/i.test(m)
    ? ([
        "port-absent",
        `${path} does not exist`,
        "is the board plugged in and powered, and is the path right (ls /dev/ttyACM*)?",
      ] as const)
    : /EACCES|Permission denied/i.test(m)
      ? ([
          "port-permission",
          `no permission to open ${path}`,
          "add yourself to the port's group (dialout or uucp) and log in again, or run with access to the device",
        ] as const)
      : /EBUSY|Resource busy|Cannot lock port|temporarily unavailable/i.test(m)
        ? ([
            "port-busy",
            `${path} is busy`,
            "close the program holding it (OpenMV IDE, screen, minicom, mpremote, another cardsim): check with fuser " +
              path,
          ] as const)
        : ([
            "port-open-failed",
            `could not open ${path}`,
            "is it a serial port, and is the board's USB connection working?",
          ] as const);
  return new LinkError({ code, port: path, what: `${what} (${m})`, hint, cause: err });
}
