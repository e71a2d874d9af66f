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
import { readAll } from "../../block/index.ts";
import { tiny64mTestConfig } from "../../card/index.ts";
import { VirtualClock } from "../../clock/index.ts";
import { parseFaultPlan, parseFaultPlanText } from "../../faults/index.ts";
import { loadFatDriver } from "../../fat/drivers.ts";
import { formatWith } from "../../fat/mkfs.ts";
import { InputError } from "../../input/index.ts";
import type { LinkTimer } from "../../link/index.ts";
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
}

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
  const session = new TeensySession(stack, { device, variant: options.pipeline ?? "as-designed", seed });
  await session.boot();
  const { stdin, stdout, timer } = options;
  const logs = (): void => {
    for (const line of session.takeLog()) process.stderr.write(`virtual-teensy: ${line}\n`);
  };
  logs();
  let cancelIdle: (() => void) | undefined;
  const send = (bytes: Uint8Array): void => {
    if (bytes.length) stdout.write(Buffer.from(bytes));
  };
  const onData = (chunk: Buffer): void => {
    if (!session.running) return;
    cancelIdle?.();
    send(session.esp32.receive(new Uint8Array(chunk)));
    logs();
    cancelIdle = timer.schedule(INTER_BYTE_TIMEOUT_MS, () => {
      cancelIdle = undefined;
      if (session.running && session.esp32.pending > 0) send(session.esp32.idle());
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
      await session.boot();
      logs();
    },
  };
}
