/**
 * The ESP32 link as a scenario target's device side (`--target esp32-link`, sim/link-target.ts): the
 * host plays the ESP32 on any serial port speaking the documented framing (src/pov/esp32-protocol.ts)
 * — the virtual Teensy behind a pty in CI, a real Teensy once its firmware implements it. The design
 * and what each capability buys are in docs/esp32-link.md.
 *
 * Steps that are ESP32 messages (save/load/delete/list images, card info, `esp32`, `esp32_raw`) go as
 * those messages. What the five messages cannot do needs the firmware's debug messages
 * (src/pov/esp32-debug.ts), negotiated with HELLO at connect: `sectors` (the card image: the
 * scenario's starting card written, touched files and the runner's oracles read back, fsck), `log`,
 * `reset` (boot and reboot without a power cut), `calls` (getImageInfo, imageExists, begin, presets),
 * `display` (what a load put on the strip), `ranges` (a faster card read-back). A power cut is the
 * user's switch (`--power-cycle CMD`), between steps. A run that needs what the device lacks is
 * refused before its first step.
 */
import { createHash } from "node:crypto";
import { CowBlockDevice } from "../../block/cow-block-device.ts";
import { RamBlockDevice, type BlockDevice } from "../../block/index.ts";
import { Prng } from "../../clock/index.ts";
import { readFileOrNull, reboot, type FileHistory } from "../../crash/index.ts";
import type { FileEvent } from "../../crash/file-history.ts";
import { fsck } from "../../fat/fsck.ts";
import { spawnSync } from "node:child_process";
import { crc32 } from "node:zlib";
import { LinkError, openSerialStream, realTimer } from "../../link/index.ts";
import {
  DEBUG_CALL,
  DEBUG_MSG,
  MAX_CRC_RANGES,
  MAX_CRC_SECTORS,
  MSG,
  NACK_REASON,
  SECTOR_BYTES,
  decodeHelloBody,
  decodeInfoBody,
  decodeListBody,
  encodePat,
  encodePov,
  encodeRequestPayload,
  nackReasonName,
  saveImageFrames,
  sdErrorName,
  sdErrorString,
  type DebugCapName,
  type DebugHello,
  type Esp32Reply,
  type PovVariant,
} from "../../pov/index.ts";
import type { DeviceLinkRun, DeviceLinkSession, LinkStepResult, Step } from "../profile.ts";
import { StepUsageError } from "../step-usage-error.ts";
import { teensyDeviceSchema, type TeensyDeviceConfig } from "./config.ts";
import { Esp32Client } from "./esp32-client.ts";
import {
  describeReplies,
  describeReplyList,
  makePatterns,
  makePixels,
  TEENSY_MOUNT_POINT,
} from "./session.ts";
import type { PIXEL_SOURCES } from "./steps.ts";

/** What each step needs of the link beyond the five messages ("" = the messages suffice). */
const STEP_NEEDS: Readonly<Record<string, DebugCapName | "" | "power-switch">> = {
  boot: "",
  mark: "",
  save_image: "",
  load_image: "",
  delete_image: "",
  list_images: "",
  card_info: "",
  esp32: "",
  esp32_raw: "",
  fsck: "sectors",
  image_info: "calls",
  image_exists: "calls",
  begin: "calls",
  save_preset: "calls",
  load_preset: "calls",
  cut_power: "power-switch",
  reboot: "reset",
};

const LIST_MAX = 32;
/** Steps the simulator runs as SDStorageManager calls and the link as ESP32 messages. */
const API_MESSAGE_STEPS = new Set(["save_image", "load_image", "delete_image", "list_images", "card_info"]);
/** How long a power-cycled or reset Teensy may take to answer again, ms. */
const COME_BACK_MS = 20_000;
const POLL_MS = 300;

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
const equalBytes = (a: Uint8Array | null, b: Uint8Array | null): boolean =>
  a === b || (a !== null && b !== null && Buffer.compare(a, b) === 0);

class SdFailure extends Error {
  constructor(readonly code: number) {
    super(`${sdErrorName(code)}: ${sdErrorString(code)}`);
  }
}

export class Esp32LinkSession implements DeviceLinkSession {
  readonly refusals: string[] = [];
  private hello: DebugHello | null = null;
  private readonly prng: Prng;
  private readonly variant: PovVariant;
  private readonly sectors: number;
  /** The host's copy of the card (sectors [0, N)), brought up to date by {@link refresh}. */
  private image: Uint8Array;
  private crcs: Uint32Array;
  /** CRC-32 of each RANGE_SECTORS run of {@link image} (the last may be shorter). */
  private rangeCrcs: Uint32Array;
  private running = false;
  private booted = false;
  private readonly log: string[] = [];
  private readonly histories = new Map<string, FileHistory>();
  private stepNo = 0;

  private constructor(
    private readonly run: DeviceLinkRun<TeensyDeviceConfig>,
    private readonly client: Esp32Client,
  ) {
    this.prng = new Prng(run.ctx.seed);
    this.variant = run.ctx.pipeline as PovVariant;
    this.sectors = run.startImage.length / SECTOR_BYTES;
    this.image = run.startImage.slice();
    this.crcs = sectorCrcs(this.image);
    this.rangeCrcs = new Uint32Array(Math.ceil(this.sectors / RANGE_SECTORS));
    this.rangeCrcs.forEach((_, r) => this.updateRangeCrc(r));
  }

  private updateRangeCrc(r: number): void {
    const end = Math.min(this.sectors, (r + 1) * RANGE_SECTORS) * SECTOR_BYTES;
    this.rangeCrcs[r] = crc32(this.image.subarray(r * RANGE_SECTORS * SECTOR_BYTES, end));
  }

  /** Opens the port, asks HELLO, decides what the run may do, writes the starting card when allowed. */
  static async open(run: DeviceLinkRun<TeensyDeviceConfig>): Promise<Esp32LinkSession> {
    const stream = await openSerialStream(run.port, {
      ...(run.baud !== undefined && { baud: run.baud }),
      // OpenMV's reserved bauds mean nothing to a Teensy's UART.
      forceBaud: true,
    });
    const client = new Esp32Client(stream, realTimer, {
      ...(run.replyTimeoutMs !== undefined && { replyTimeoutMs: run.replyTimeoutMs }),
    });
    const s = new Esp32LinkSession(run, client);
    try {
      s.hello = await s.askHello();
      s.decide();
      if (s.refusals.length === 0) await s.provision();
    } catch (e) {
      await client.close();
      throw e;
    }
    return s;
  }

  private has(cap: DebugCapName): boolean {
    return this.hello?.caps.has(cap) ?? false;
  }

  /** HELLO, or null when the firmware speaks the five messages only (it NACKs the type as unknown). */
  private async askHello(timeoutMs?: number): Promise<DebugHello | null> {
    const r = await this.client.request(DEBUG_MSG.HELLO, new Uint8Array(0), "HELLO (0x70)", timeoutMs);
    if (r.kind === "nack") {
      if (r.reason === NACK_REASON.UNKNOWN_TYPE) return null;
      throw this.protocolError(`HELLO (0x70) was refused: ${nackReasonName(r.reason)}: ${r.text}`);
    }
    try {
      return decodeHelloBody(r.body);
    } catch (e) {
      throw this.protocolError((e as Error).message);
    }
  }

  private protocolError(what: string): LinkError {
    return new LinkError({
      code: "frame",
      port: this.client.port,
      what: `${this.client.port}: ${what}`,
      hint: "does the firmware implement the debug messages as docs/esp32-link.md says?",
    });
  }

  /** What this run needs against what the Teensy at the port offers. */
  private decide(): void {
    const refuse = (why: string) => void this.refusals.push(why);
    const h = this.hello;
    const caps = h ? [...h.caps].join(", ") || "none" : "none (no HELLO: the five messages only)";
    const power = this.run.powerCycle !== undefined;
    const foreign: string[] = [];
    this.run.steps.forEach((step, i) => {
      const need = STEP_NEEDS[step.op];
      const at = `step ${i} (${step.op})`;
      if (need === undefined) foreign.push(at);
      else if (need === "power-switch" && !power)
        refuse(`${at} needs the Teensy's power switch: pass --power-cycle CMD`);
      else if (need === "reset" && !this.has("reset") && !power)
        refuse(`${at} needs an MCU reset (debug capability 'reset') or --power-cycle CMD`);
      else if (need !== "" && need !== "power-switch" && need !== "reset" && !this.has(need))
        refuse(`${at} needs the debug capability '${need}' (the firmware offers: ${caps})`);
      if (step.op === "list_images" && (step.args["max"] as number) > LIST_MAX)
        refuse(
          `${at}: LIST_IMAGES returns at most ${LIST_MAX} names, the step asks for ${String(step.args["max"])}`,
        );
      const bytes = (step.args["width"] as number) * (step.args["height"] as number) * 3;
      if (step.op === "save_image" && bytes > this.run.config.displayBufferBytes)
        refuse(
          `${at}: a ${bytes}-byte image travels as SAVE_IMAGE chunks into a ${this.run.config.displayBufferBytes}-byte staging buffer, which refuses it; the simulated API call does not`,
        );
      if (step.op === "esp32_raw" && step.args["idle"] === false)
        refuse(
          `${at}: idle: false needs the next bytes within the Teensy's inter-byte timeout, which is real time on a serial line`,
        );
    });
    if (foreign.length > 0)
      refuse(
        `${foreign.join(", ")}: not something the ESP32 link can do (its steps: ${Object.keys(STEP_NEEDS).join(", ")})`,
      );
    if (!this.has("sectors"))
      refuse(
        "the runner's oracles (outcome classes, fsck) need the card image, and the firmware offers no sector " +
          `access (debug capability 'sectors'; it offers: ${caps})`,
      );
    if (this.run.needsLog && !this.has("log"))
      refuse(
        `the scenario expects log lines and the firmware sends none (debug capability 'log'; it offers: ${caps})`,
      );
    if (h) {
      if (h.variant !== this.variant)
        refuse(`the Teensy runs ${h.variant} storage, the scenario's pipeline is ${this.variant}`);
      if (h.firmware !== this.run.config.firmware)
        refuse(`the Teensy runs firmware ${h.firmware}, the scenario's is ${this.run.config.firmware}`);
      if (h.caps.has("sectors") && h.sectors < this.sectors)
        refuse(`the Teensy's card has ${h.sectors} sectors, the scenario's card ${this.sectors}`);
    }
    const defaults = teensyDeviceSchema.parse({
      profile: "teensy41-pov",
      firmware: this.run.config.firmware,
    });
    for (const k of ["imageDir", "maxFiles", "cacheSize", "displayBufferBytes", "cardFilesystem"] as const)
      if (this.run.config[k] !== defaults[k])
        refuse(
          `device.${k}: the Teensy's is its firmware's (${String(defaults[k])}); the link cannot set ${String(this.run.config[k])}`,
        );
  }

  /** Writes every sector of [0, N) that differs from the scenario's starting card (with --allow-format). */
  private async provision(): Promise<void> {
    const differ = await this.changedSectors();
    if (differ.length === 0) return;
    if (!this.run.allowFormat) {
      this.refusals.push(
        `the card in ${this.client.port} differs from the scenario's starting card in ${differ.length} of sectors ` +
          `0..${this.sectors - 1}: pass --allow-format to write them (the card's contents are lost)`,
      );
      return;
    }
    if (!this.has("reset") && this.run.powerCycle === undefined) {
      this.refusals.push(
        "the starting card is written under the running firmware, which must then boot again: it needs " +
          "the debug capability 'reset' or --power-cycle CMD",
      );
      return;
    }
    for (const lba of differ) {
      const payload = new Uint8Array(4 + SECTOR_BYTES);
      new DataView(payload.buffer).setUint32(0, lba, true);
      payload.set(this.image.subarray(lba * SECTOR_BYTES, (lba + 1) * SECTOR_BYTES), 4);
      this.ok(
        await this.client.request(DEBUG_MSG.WRITE_SECTOR, payload, `WRITE_SECTOR ${lba}`),
        "WRITE_SECTOR",
      );
    }
    this.run.onWarning?.(`wrote ${differ.length} sectors of the starting card`);
  }

  private ok(r: Esp32Reply, what: string): Uint8Array {
    if (r.kind === "nack")
      throw this.protocolError(`${what} was refused: ${nackReasonName(r.reason)}: ${r.text}`);
    return r.body;
  }

  /**
   * The sectors of [0, N) whose CRC-32 on the device's card differs from the host's copy: with
   * `ranges`, one CRC per RANGE_SECTORS run and per-sector CRCs only inside the runs that differ;
   * without it (an older firmware), every sector's CRC.
   */
  private async changedSectors(): Promise<number[]> {
    let runs: [number, number][] = [[0, this.sectors]];
    if (this.has("ranges")) {
      const whole = Math.floor(this.sectors / RANGE_SECTORS);
      const asks: { type: number; payload: Uint8Array; what: string; at: number; n: number }[] = [];
      const ask = (at: number, per: number, n: number) => {
        const p = new Uint8Array(10);
        const v = new DataView(p.buffer);
        v.setUint32(0, at * RANGE_SECTORS, true);
        v.setUint32(4, per, true);
        v.setUint16(8, n, true);
        asks.push({
          type: DEBUG_MSG.RANGE_CRCS,
          payload: p,
          what: `RANGE_CRCS ${at * RANGE_SECTORS}+${per}x${n}`,
          at,
          n,
        });
      };
      for (let r = 0; r < whole; r += MAX_CRC_RANGES)
        ask(r, RANGE_SECTORS, Math.min(MAX_CRC_RANGES, whole - r));
      if (whole < this.rangeCrcs.length) ask(whole, this.sectors - whole * RANGE_SECTORS, 1);
      runs = [];
      (await this.client.requests(asks)).forEach((reply, k) => {
        const { what, at, n } = asks[k];
        const body = this.ok(reply, what);
        if (body.length !== n * 4)
          throw this.protocolError(`${what}: ${body.length} bytes, expected ${n * 4}`);
        const bv = new DataView(body.buffer, body.byteOffset, body.length);
        for (let i = 0; i < n; i++)
          if (bv.getUint32(i * 4, true) !== this.rangeCrcs[at + i])
            runs.push([(at + i) * RANGE_SECTORS, Math.min(this.sectors, (at + i + 1) * RANGE_SECTORS)]);
      });
    }
    const asks: { type: number; payload: Uint8Array; what: string; lba: number; count: number }[] = [];
    for (const [from, to] of runs)
      for (let lba = from; lba < to; lba += MAX_CRC_SECTORS) {
        const p = new Uint8Array(6);
        const v = new DataView(p.buffer);
        const count = Math.min(MAX_CRC_SECTORS, to - lba);
        v.setUint32(0, lba, true);
        v.setUint16(4, count, true);
        asks.push({
          type: DEBUG_MSG.SECTOR_CRCS,
          payload: p,
          what: `SECTOR_CRCS ${lba}+${count}`,
          lba,
          count,
        });
      }
    const changed: number[] = [];
    (await this.client.requests(asks)).forEach((r, k) => {
      const { what, lba, count } = asks[k];
      const body = this.ok(r, what);
      if (body.length !== count * 4)
        throw this.protocolError(`${what}: ${body.length} bytes, expected ${count * 4}`);
      const bv = new DataView(body.buffer, body.byteOffset, body.length);
      for (let i = 0; i < count; i++)
        if (bv.getUint32(i * 4, true) !== this.crcs[lba + i]) changed.push(lba + i);
    });
    return changed;
  }

  /** Brings the host's copy of the card up to date: CRCs of every sector, then the sectors that changed. */
  private async refresh(): Promise<void> {
    const changed = await this.changedSectors();
    const asks = changed.map((lba) => {
      const p = new Uint8Array(4);
      new DataView(p.buffer).setUint32(0, lba, true);
      return { type: DEBUG_MSG.READ_SECTOR, payload: p, what: `READ_SECTOR ${lba}` };
    });
    const replies = await this.client.requests(asks);
    replies.forEach((r, k) => {
      const body = this.ok(r, asks[k].what);
      if (body.length !== SECTOR_BYTES) throw this.protocolError(`${asks[k].what}: ${body.length} bytes`);
      this.image.set(body, changed[k] * SECTOR_BYTES);
      this.crcs[changed[k]] = crc32(body);
    });
    for (const r of new Set(changed.map((lba) => Math.floor(lba / RANGE_SECTORS)))) this.updateRangeCrc(r);
  }

  /** Reads `paths` from a card image (null: absent or unreadable). */
  private readFiles(image: Uint8Array, paths: readonly string[]): Map<string, Uint8Array | null> {
    const out = new Map<string, Uint8Array | null>();
    // Over the image, not a copy of it: a mount's writes stay in the overlay (64 MiB copies cost ~0.2 s).
    const boot = reboot(CowBlockDevice.over(image), {
      runtime: this.run.fat,
      mountPoint: TEENSY_MOUNT_POINT,
    });
    for (const p of paths) {
      let bytes: Uint8Array | null = null;
      if (boot.mounted)
        try {
          bytes = readFileOrNull(boot.vfs, p);
        } catch {
          bytes = null;
        }
      out.set(p, bytes);
    }
    if (boot.mounted) boot.shutdown();
    return out;
  }

  private async takeLog(): Promise<void> {
    if (!this.has("log")) return;
    let text = "";
    for (let more = true; more;) {
      const body = this.ok(
        await this.client.request(DEBUG_MSG.TAKE_LOG, new Uint8Array(0), "TAKE_LOG"),
        "TAKE_LOG",
      );
      more = body[0] === 1;
      text += new TextDecoder("latin1").decode(body.subarray(1));
    }
    for (const line of text.split("\n").slice(0, -1)) this.log.push(line);
  }

  /** Waits until the Teensy answers again after a reset or a power cycle (a new boot id). */
  private async comeBack(before: number | null): Promise<void> {
    const limit = COME_BACK_MS;
    for (let waited = 0; ; waited += POLL_MS) {
      try {
        if (this.hello) {
          const h = await this.askHello(POLL_MS);
          if (h && h.bootId !== before) return;
        } else {
          await this.client.request(MSG.SD_GET_INFO, new Uint8Array(0), "GET_INFO", POLL_MS);
          return;
        }
      } catch (e) {
        if (!(e instanceof LinkError) || e.code !== "no-answer" || waited >= limit) throw e;
        await this.client.settle();
      }
      if (waited >= limit)
        throw new LinkError({
          code: "no-answer",
          port: this.client.port,
          what: `the Teensy on ${this.client.port} did not boot again within ${limit / 1000} s`,
          hint: "does --power-cycle really switch its power (or RESET restart it)?",
        });
      await realTimer.sleep(POLL_MS);
    }
  }

  private async resetDevice(): Promise<void> {
    const before = this.hello ? ((await this.askHello())?.bootId ?? null) : null;
    if (this.has("reset")) {
      this.ok(await this.client.request(DEBUG_MSG.RESET, new Uint8Array(0), "RESET"), "RESET");
      await this.comeBack(before);
    } else await this.powerCycle(before);
  }

  private async powerCycle(before?: number | null): Promise<void> {
    const cmd = this.run.powerCycle!;
    const was = before !== undefined ? before : this.hello ? ((await this.askHello())?.bootId ?? null) : null;
    const r = spawnSync(cmd, { shell: true, stdio: ["ignore", "pipe", "pipe"] });
    if (r.status !== 0)
      throw new LinkError({
        code: "disconnected",
        port: this.client.port,
        what: `--power-cycle "${cmd}" failed (exit ${r.status}): ${String(r.stderr).trim()}`,
        hint: "check the power-switch command on its own",
      });
    // Without HELLO nothing tells the new boot from the old one: give the switch time first.
    if (!this.hello) await realTimer.sleep(1000);
    await this.comeBack(was);
  }

  async runStep(step: Step): Promise<LinkStepResult> {
    const touched: string[] = [];
    const intended = new Map<string, Uint8Array | null>();
    let value: unknown;
    let error: LinkStepResult["error"];
    try {
      value = await this.execute(step, touched, intended);
    } catch (e) {
      if (e instanceof SdFailure) error = { type: "SDError", message: e.message };
      else if (e instanceof StepUsageError) error = { type: e.name, message: e.message };
      else throw e;
    }
    const logged = this.log.length;
    await this.takeLog();
    // The simulated API steps call SDStorageManager directly; over the link they travel as messages,
    // and the Teensy logs its protocol lines ("ESP32: NACK ...") for them: not the step's own lines.
    if (API_MESSAGE_STEPS.has(step.op))
      this.log.splice(logged, Infinity, ...this.log.slice(logged).filter((l) => !l.startsWith("ESP32: ")));
    this.stepNo++;
    let files: LinkStepResult["files"] = [];
    if (touched.length > 0) {
      await this.refresh();
      const now = this.readFiles(this.image, touched);
      for (const p of touched) this.record(p, intended.has(p) ? intended.get(p)! : now.get(p)!);
      files = touched.map((path) => {
        const b = this.running ? now.get(path)! : null;
        return { path, size: b?.length ?? null, sha256: b ? sha256(b) : null };
      });
    }
    return {
      status: error ? "error" : "ok",
      ...(error && { error }),
      files,
      ...(value !== undefined && { value }),
    };
  }

  /** A version of `path` after this step: what the Teensy was asked to write, or what the card holds. */
  private record(path: string, content: Uint8Array | null): void {
    const key = path.toUpperCase();
    let h = this.histories.get(key);
    if (!h) {
      const before = this.readFiles(this.run.startImage, [path]).get(path)!;
      if (equalBytes(before, content)) return;
      h = { path, events: [{ kind: "before", writes: 0, seq: 0, content: before }] };
      this.histories.set(key, h);
    }
    const last = h.events[h.events.length - 1].content ?? null;
    if (equalBytes(last, content)) return;
    const ev: FileEvent = {
      kind: content === null ? "remove" : "close",
      writes: this.stepNo,
      seq: this.stepNo,
      content,
    };
    h.events.push(ev);
  }

  private imagePath(name: string): string {
    const base = name.toLowerCase().endsWith(".pov") ? name : `${name}.pov`;
    return `${TEENSY_MOUNT_POINT}${this.run.config.imageDir}/${base}`;
  }

  private needRunning(): void {
    // The simulated session's words (session.ts), so both targets report the same error.
    if (!this.running) throw new StepUsageError("the Teensy is not running (add a boot step)");
  }

  private sdReply(r: Esp32Reply, what: string): Uint8Array {
    if (r.kind === "ack") return r.body;
    if (r.reason === NACK_REASON.SD_ERROR) throw new SdFailure(r.sdError);
    throw this.protocolError(`${what} was refused: ${nackReasonName(r.reason)}: ${r.text}`);
  }

  private async message(type: number, payload: Uint8Array, what: string): Promise<Uint8Array> {
    return this.sdReply(await this.client.request(type, payload, what), what);
  }

  private async call(call: number, name: string, extra: Uint8Array = new Uint8Array(0)): Promise<Uint8Array> {
    const n = new TextEncoder().encode(name);
    const p = Uint8Array.from([call, n.length, ...n, ...extra]);
    return this.message(DEBUG_MSG.CALL, p, `CALL ${call} ${name}`);
  }

  /** The chunks of one save, each answered before the next goes (all sent, as the simulated ESP32 does). */
  private async sendSave(
    name: string,
    image: { width: number; height: number; pixels: Uint8Array },
    chunkBytes?: number,
    stopAfter?: number,
  ): Promise<Esp32Reply[]> {
    let frames = saveImageFrames(
      { name, ...image },
      { firstSeq: this.client.peekSeq(), ...(chunkBytes !== undefined && { chunkBytes }) },
    );
    if (stopAfter !== undefined) frames = frames.slice(0, stopAfter);
    const replies: Esp32Reply[] = [];
    for (const f of frames)
      replies.push(
        await this.client.exchange(f, this.client.nextSeq(), `SAVE_IMAGE ${name} chunk ${replies.length}`),
      );
    return replies;
  }

  private async execute(
    step: Step,
    touched: string[],
    intended: Map<string, Uint8Array | null>,
  ): Promise<unknown> {
    const a = step.args;
    const str = (k: string) => a[k] as string;
    const num = (k: string) => a[k] as number;
    switch (step.op) {
      case "boot":
        if (this.running) throw new StepUsageError("boot: the Teensy is already running");
        // The first boot restarts the Teensy on the starting card; after a cut it booted on its own.
        if (!this.booted && (this.has("reset") || this.run.powerCycle !== undefined)) {
          await this.takeLog();
          this.log.length = 0;
          await this.resetDevice();
        }
        this.booted = true;
        this.running = true;
        return undefined;
      case "reboot":
        if (this.running) await this.resetDevice();
        this.booted = this.running = true;
        return undefined;
      case "cut_power":
        if (this.running) await this.powerCycle();
        this.running = false;
        return undefined;
      case "mark":
        return undefined;
      case "fsck":
        await this.refresh();
        return fsck(RamBlockDevice.fromImage(this.image)).findings.map((f) => f.kind);
      case "save_image": {
        this.needRunning();
        const name = str("name");
        touched.push(this.imagePath(name));
        const [w, h] = [num("width"), num("height")];
        const px = makePixels(a["pixels"] as (typeof PIXEL_SOURCES)[number], w, h, this.prng);
        const replies = await this.sendSave(name, { width: w, height: h, pixels: px });
        for (const r of replies) this.sdReply(r, `SAVE_IMAGE ${name}`);
        intended.set(this.imagePath(name), encodePov({ width: w, height: h, pixels: px }, this.variant));
        return { sha256: sha256(px) };
      }
      case "load_image": {
        this.needRunning();
        const name = str("name");
        const body = await this.message(
          MSG.SD_LOAD_IMAGE,
          encodeRequestPayload({ type: MSG.SD_LOAD_IMAGE, name }),
          `LOAD_IMAGE ${name}`,
        );
        const v = new DataView(body.buffer, body.byteOffset, body.length);
        const shown = { width: v.getUint16(0, true), height: v.getUint16(2, true) };
        if (!this.has("display")) return shown;
        const d = this.ok(
          await this.client.request(DEBUG_MSG.DISPLAY, new Uint8Array(0), "DISPLAY"),
          "DISPLAY",
        );
        const dv = new DataView(d.buffer, d.byteOffset, d.length);
        return {
          width: dv.getUint16(0, true),
          height: dv.getUint16(2, true),
          cached: d[4] === 1,
          sha256: Buffer.from(d.subarray(5, 37)).toString("hex"),
        };
      }
      case "delete_image": {
        this.needRunning();
        const name = str("name");
        touched.push(this.imagePath(name));
        await this.message(
          MSG.SD_DELETE_IMAGE,
          encodeRequestPayload({ type: MSG.SD_DELETE_IMAGE, name }),
          `DELETE_IMAGE ${name}`,
        );
        intended.set(this.imagePath(name), null);
        return undefined;
      }
      case "list_images": {
        this.needRunning();
        const names = decodeListBody(
          await this.message(MSG.SD_LIST_IMAGES, new Uint8Array(0), "LIST_IMAGES"),
        );
        return names.slice(0, num("max"));
      }
      case "card_info": {
        this.needRunning();
        const i = decodeInfoBody(await this.message(MSG.SD_GET_INFO, new Uint8Array(0), "GET_INFO"));
        return { present: i.cardPresent, total: i.total, free: i.free };
      }
      case "image_info": {
        this.needRunning();
        const b = await this.call(DEBUG_CALL.IMAGE_INFO, str("name"));
        const v = new DataView(b.buffer, b.byteOffset, b.length);
        return { width: v.getUint16(0, true), height: v.getUint16(2, true), fileSize: v.getUint32(4, true) };
      }
      case "image_exists":
        this.needRunning();
        return (await this.call(DEBUG_CALL.IMAGE_EXISTS, str("name")))[0] === 1;
      case "begin":
        this.needRunning();
        await this.call(DEBUG_CALL.BEGIN, "");
        return undefined;
      case "save_preset": {
        this.needRunning();
        const base = str("name").replace(/\.pat$/i, "");
        const path = `${TEENSY_MOUNT_POINT}/poi_patterns/${base}.pat`;
        touched.push(path);
        const bytes = encodePat(makePatterns(num("patterns")));
        await this.call(DEBUG_CALL.SAVE_PRESET, str("name"), bytes);
        intended.set(path, bytes);
        return undefined;
      }
      case "load_preset": {
        this.needRunning();
        const b = await this.call(DEBUG_CALL.LOAD_PRESET, str("name"));
        return { patterns: b[0], active: b[1] };
      }
      case "esp32":
        this.needRunning();
        return this.esp32Message(a, touched, intended);
      case "esp32_raw": {
        this.needRunning();
        const bytes = Uint8Array.from(Buffer.from(str("hex"), "hex"));
        return describeReplies(await this.client.raw(bytes, `raw bytes ${str("hex").slice(0, 16)}`));
      }
      default:
        throw new Error(`Esp32LinkSession: step '${step.op}' should have been refused before the run`);
    }
  }

  private async esp32Message(
    a: Record<string, unknown>,
    touched: string[],
    intended: Map<string, Uint8Array | null>,
  ): Promise<unknown> {
    const message = a["message"] as string;
    const name = a["name"] as string | undefined;
    if (name === undefined && ["save_image", "delete_image", "load_image"].includes(message))
      throw new StepUsageError(`esp32 ${message}: needs a name`);
    let replies: Esp32Reply[];
    switch (message) {
      case "save_image": {
        const path = this.imagePath(name!);
        touched.push(path);
        const [w, h] = [a["width"] as number, a["height"] as number];
        const px = makePixels(a["pixels"] as (typeof PIXEL_SOURCES)[number], w, h, this.prng);
        const stop = a["stopAfterChunks"] as number | undefined;
        replies = await this.sendSave(
          name!,
          { width: w, height: h, pixels: px },
          a["chunkBytes"] as number | undefined,
          stop,
        );
        const all = saveImageFrames(
          { name: name!, width: w, height: h, pixels: px },
          {
            ...(a["chunkBytes"] !== undefined && { chunkBytes: a["chunkBytes"] as number }),
          },
        ).length;
        if (replies.length === all && replies.every((r) => r.kind === "ack"))
          intended.set(path, encodePov({ width: w, height: h, pixels: px }, this.variant));
        break;
      }
      case "list_images":
        replies = [await this.client.request(MSG.SD_LIST_IMAGES, new Uint8Array(0), "LIST_IMAGES")];
        break;
      case "get_info":
        replies = [await this.client.request(MSG.SD_GET_INFO, new Uint8Array(0), "GET_INFO")];
        break;
      case "delete_image": {
        const path = this.imagePath(name!);
        touched.push(path);
        const payload = encodeRequestPayload({ type: MSG.SD_DELETE_IMAGE, name: name! });
        replies = [await this.client.request(MSG.SD_DELETE_IMAGE, payload, `DELETE_IMAGE ${name!}`)];
        if (replies[0].kind === "ack") intended.set(path, null);
        break;
      }
      default: {
        const payload = encodeRequestPayload({ type: MSG.SD_LOAD_IMAGE, name: name! });
        replies = [await this.client.request(MSG.SD_LOAD_IMAGE, payload, `LOAD_IMAGE ${name!}`)];
      }
    }
    return describeReplyList(replies);
  }

  async deviceLog(): Promise<string[]> {
    return [...this.log];
  }

  async evidence(): Promise<{ card: BlockDevice; files: FileHistory[] }> {
    await this.refresh();
    return { card: RamBlockDevice.fromImage(this.image), files: [...this.histories.values()] };
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** Sectors per RANGE_CRCS run: 256 runs on a 64 MiB card, 2 requests for a full-card check. */
const RANGE_SECTORS = 512;

function sectorCrcs(image: Uint8Array): Uint32Array {
  const n = image.length / SECTOR_BYTES;
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = crc32(image.subarray(i * SECTOR_BYTES, (i + 1) * SECTOR_BYTES));
  return out;
}
