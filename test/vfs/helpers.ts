import { CowBlockDevice, type BlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import type { FatEngine, FatFile, FatOpenFlags } from "../../src/fat/fat-engine.ts";
import { OSError } from "../../src/vfs/index.ts";
import { bootVfs, type BootedVfs } from "../../src/openmv/boot.ts";

/** A freshly formatted card (MicroPython mkfs) mounted at /sdcard as the cwd, /flash too. */
export async function freshCard(
  blocks = 8192,
  clock = new VirtualClock(),
): Promise<BootedVfs & { card: CowBlockDevice; clock: VirtualClock }> {
  const card = CowBlockDevice.blank(512, blocks);
  const booted = await bootVfs({ card, clock, format: true });
  return { ...booted, card, clock };
}

/** Mounts `device` alone at /sdcard (no formatting), e.g. a snapshot after a simulated power cut. */
export async function remount(device: BlockDevice, clock = new VirtualClock()): Promise<BootedVfs> {
  return bootVfs({ card: device, clock, mountFlash: false });
}

/** Runs `fn` and returns the OSError it raised (fails the test when it does not raise one). */
export function oserror(fn: () => unknown): OSError {
  try {
    fn();
  } catch (e) {
    if (e instanceof OSError) return e;
    throw e;
  }
  throw new Error("expected an OSError, nothing was raised");
}

/** Records every FatFile.read request size, to check py/stream.c read patterns. */
export class SpyEngine implements FatEngine {
  readonly reads: { want: number; got: number }[] = [];
  constructor(private readonly inner: FatEngine) {}
  open(path: string, flags: FatOpenFlags): FatFile {
    const f = this.inner.open(path, flags);
    const reads = this.reads;
    return {
      read(buf) {
        const got = f.read(buf);
        reads.push({ want: buf.length, got });
        return got;
      },
      write: (d) => f.write(d),
      seek: (p) => f.seek(p),
      tell: () => f.tell(),
      size: () => f.size(),
      truncate: () => f.truncate(),
      sync: () => f.sync(),
      close: () => f.close(),
      get closed() {
        return f.closed;
      },
    };
  }
  stat = (p: string) => this.inner.stat(p);
  readdir = (p: string) => this.inner.readdir(p);
  mkdir = (p: string) => this.inner.mkdir(p);
  unlink = (p: string) => this.inner.unlink(p);
  rename = (a: string, b: string) => this.inner.rename(a, b);
  volumeInfo = () => this.inner.volumeInfo();
  label = () => this.inner.label();
  unmount = () => this.inner.unmount();
  clearDeviceErrno = () => this.inner.clearDeviceErrno();
  get isMounted() {
    return this.inner.isMounted;
  }
  get openFileCount() {
    return this.inner.openFileCount;
  }
  get device() {
    return this.inner.device;
  }
  get lastDeviceErrno() {
    return this.inner.lastDeviceErrno;
  }
}
