/**
 * The virtual Teensy: the teensy41-pov device session on a simulated card, answering the ESP32
 * protocol (src/pov/esp32-protocol.ts) on a byte stream (stdin/stdout; virtual-teensy-pty.ts puts it
 * behind a pseudo-terminal). An ESP32-side program can be tested against it as against the poi.
 *
 * Real time exists only in the serial framing: the inter-byte timeout after which a partial frame is
 * NACKed as truncated (a LinkTimer, src/link). The device itself runs on its virtual clock.
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { IOCTL, readAll } from "../../block/index.ts";
import { tiny64mTestConfig } from "../../card/index.ts";
import { VirtualClock } from "../../clock/index.ts";
import { parseFaultPlan, parseFaultPlanText } from "../../faults/index.ts";
import { loadFatDriver } from "../../fat/drivers.ts";
import { formatWith } from "../../fat/mkfs.ts";
import { InputError } from "../../input/index.ts";
import type { LinkTimer } from "../../link/index.ts";
import { DEBUG_CAP, Esp32DebugServer, SECTOR_BYTES, type DebugCapName } from "../../pov/index.ts";
import { SimulatedStack } from "../../stack/index.ts";
import type { VirtualDeviceOptions } from "../profile.ts";
import { teensyDeviceSchema, TEENSY_FAT_ENGINE, TEENSY_FIRMWARE_VERSIONS } from "./config.ts";
import { TeensySession, TEENSY_MOUNT_POINT } from "./session.ts";

/** Silence on the line after which a partial frame is truncated, ms. */
export const INTER_BYTE_TIMEOUT_MS = 50;

export interface RunVirtualTeensyOptions extends VirtualDeviceOptions {
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly timer: LinkTimer;
  /** `as-designed` (default) or `hardened` storage. */
  readonly pipeline?: "as-designed" | "hardened";
  /**
   * The debug messages it answers (src/pov/esp32-debug.ts; default all): [] is a firmware that speaks
   * the poi's five messages only, as a real Teensy may.
   */
  readonly debugCaps?: readonly DebugCapName[];
}

/** Every debug capability: the virtual Teensy's default. */
export const ALL_DEBUG_CAPS = Object.keys(DEBUG_CAP) as DebugCapName[];

/** A running virtual Teensy. */
export interface VirtualTeensy {
  powerCycle(): Promise<void>;
  stop(): Promise<void>;
  readonly closed: Promise<void>;
  /** The session (tests). */
  readonly session: TeensySession;
}

function optionError(option: string, message: string): InputError {
  return new InputError(undefined, [{ path: [option], message }], `--${option}: ${message}`);
}

export async function runVirtualTeensy(options: RunVirtualTeensyOptions): Promise<VirtualTeensy> {
  const firmware = options.firmware ?? TEENSY_FIRMWARE_VERSIONS[0];
  if (!(TEENSY_FIRMWARE_VERSIONS as readonly string[]).includes(firmware))
    throw optionError(
      "firmware",
      `expected one of ${TEENSY_FIRMWARE_VERSIONS.join(", ")}, got '${firmware}'`,
    );
  const seed = options.seed ?? 0;
  let image: Uint8Array | undefined;
  if (options.card !== undefined) {
    try {
      image = new Uint8Array(readFileSync(options.card));
    } catch (e) {
      throw optionError("card", `cannot read ${options.card}: ${(e as Error).message}`);
    }
    if (image.length === 0 || image.length % 512 !== 0)
      throw optionError(
        "card",
        `${options.card}: expected a whole number of 512-byte sectors, got ${image.length} bytes`,
      );
  }
  const plan = options.faults
    ? parseFaultPlanText(readFileSync(options.faults, "utf8"), options.faults)
    : parseFaultPlan({ version: 1, seed, faults: [] });
  const fat = await loadFatDriver(new VirtualClock(), TEENSY_FAT_ENGINE);
  const device = teensyDeviceSchema.parse({ profile: "teensy41-pov", firmware });
  const stack = await SimulatedStack.create({
    card: image ? { ...tiny64mTestConfig, capacitySectors: image.length / 512 } : tiny64mTestConfig,
    plan,
    fat,
    mountPoint: TEENSY_MOUNT_POINT,
    provision: (media) => {
      if (image) media.writeblocks(0, image);
      else formatWith(fat, media, { fatType: 32, fats: 2 });
    },
  });
  const variant = options.pipeline ?? "as-designed";
  const session = new TeensySession(stack, { device, variant, seed });
  const { stdin, stdout, timer } = options;
  /** Lines for the debug TAKE_LOG (they also go to stderr). */
  const linkLog: string[] = [];
  const logs = (): void => {
    for (const line of session.takeLog()) {
      process.stderr.write(`virtual-teensy: ${line}\n`);
      linkLog.push(line);
    }
  };
  let resetPending = false;
  let boots = 0;
  const media = stack.media();
  const debug = new Esp32DebugServer(
    {
      caps: new Set(options.debugCaps ?? ALL_DEBUG_CAPS),
      firmware,
      variant,
      bootId: () => boots,
      sectors: () => media.ioctl(IOCTL.BLOCK_COUNT, 0),
      readSector: (lba) => {
        const b = new Uint8Array(SECTOR_BYTES);
        media.readblocks(lba, b);
        return b;
      },
      readSectors: (lba, count) => {
        const b = new Uint8Array(count * SECTOR_BYTES);
        media.readblocks(lba, b);
        return b;
      },
      writeSector: (lba, bytes) => void media.writeblocks(lba, bytes),
      takeLog: () => {
        logs();
        return linkLog.splice(0);
      },
      reset: () => void (resetPending = true),
    },
    () => session.sd,
    () => session.povEngine,
  );
  const boot = async (): Promise<void> => {
    await session.boot();
    boots++;
    session.esp32.attachDebug(debug);
    logs();
  };
  await boot();
  let cancelIdle: (() => void) | undefined;
  const send = (bytes: Uint8Array): void => {
    if (bytes.length) stdout.write(Buffer.from(bytes));
  };
  const onData = (chunk: Buffer): void => {
    if (!session.running) return;
    cancelIdle?.();
    send(session.esp32.receive(new Uint8Array(chunk)));
    logs();
    if (resetPending) {
      // RESET: the MCU restarts once its ACK is out; the card keeps power.
      resetPending = false;
      session.halt();
      void boot();
      return;
    }
    cancelIdle = timer.schedule(INTER_BYTE_TIMEOUT_MS, () => {
      cancelIdle = undefined;
      // A partial frame is truncated; garbage with no frame after it is reported (as idle() does).
      if (session.running) send(session.esp32.idle());
      logs();
    });
  };
  stdin.on("data", onData);
  let finish!: () => void;
  const closed = new Promise<void>((resolve) => (finish = resolve));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return closed;
    stopped = true;
    cancelIdle?.();
    stdin.off("data", onData);
    session.halt();
    if (!stack.powered) stack.restorePower();
    const bytes = readAll(stack.media());
    if (options.saveCard) writeFileSync(options.saveCard, bytes);
    if (options.cardWritable && options.card) writeFileSync(options.card, bytes);
    finish();
    return closed;
  };
  stdin.once("end", () => void stop());
  return {
    session,
    closed,
    stop,
    powerCycle: async () => {
      // A brown-out: the whole poi loses power (the card with it), then boots again.
      stack.cutPower();
      session.halt();
      stack.restorePower();
      await boot();
    },
  };
}
