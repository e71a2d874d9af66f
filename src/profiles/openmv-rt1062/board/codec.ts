/**
 * How the serial board target speaks to the OpenMV RT1062's on-board agent (`agent.py` beside this
 * file): the agent's source, the files it needs on /flash, and per run the inputs each step needs so
 * the board writes the same bytes as the simulator ("same inputs on both sides"):
 *
 * - frames: the host runs the simulator's own seeded sensor (src/openmv Sensor, restarted at every
 *   boot as OpenMvBoard does) and sends the JPEG bytes the simulator's `img.save` would write; the
 *   agent saves them byte for byte with `image.Image(w, h, image.JPEG, buffer=...)`;
 * - `os.urandom`: the host runs the simulator's urandom stream (`Prng(seed).fork("os.urandom")`, per
 *   boot) and sends the next bytes of it; the agent reports how many it used (whole 32-bit words, as
 *   `Prng.fill` draws them; an RSA padding byte is the low byte of one word, as `rsaEncrypt` draws it).
 */
import { readFileSync } from "node:fs";
import { Prng } from "../../../clock/index.ts";
import { DEFAULT_DEVICE_IDS, DEFAULT_UNIQUE_ID, uniqueIdHex } from "../../../openmv/board.ts";
import { encodeForSave, planSave, type Image } from "../../../openmv/image.ts";
import { Sensor, type FrameSize } from "../../../openmv/sensor.ts";
import type { BoardCodec, BoardSession, BoardStepPlan, ProfileContext, Step } from "../../profile.ts";
import { PRIVATE_KEYS, readKeyFile } from "../session.ts";

/** The agent's source text (uploaded as /flash/agent.py). */
export function openMvAgentSource(): string {
  return readFileSync(new URL("./agent.py", import.meta.url), "utf8");
}

/** Random bytes sent ahead for one hybrid encryption: key + IV + two RSA paddings, with margin. */
function randomBytesPerEncryption(keyBytes: number): number {
  return 48 + 4 * 2 * keyBytes + 512;
}

/** The fields of the `device:` block the codec reads (index.ts's OpenMvDeviceConfig). */
interface OpenMvDeviceConfig {
  profile: string;
  firmware: string;
  uniqueId?: string | undefined;
  deviceId?: number | undefined;
}

const RSA_KEY_BYTES = 128;
const RAW_QUALITY = 50;

class OpenMvBoardSession implements BoardSession {
  private urandom!: Prng;
  /** Bytes of the urandom stream generated but not yet used by the board. */
  private pending = new Uint8Array(0);
  private sensor!: Sensor;
  private readonly images = new Map<string, Image>();

  constructor(
    private readonly config: OpenMvDeviceConfig,
    private readonly ctx: ProfileContext,
  ) {
    this.boot();
  }

  get deviceId(): string {
    const uid = this.config.uniqueId ? Buffer.from(this.config.uniqueId, "hex") : DEFAULT_UNIQUE_ID;
    const hex = uniqueIdHex(uid);
    if (this.config.deviceId !== undefined) return String(this.config.deviceId);
    const mapped = DEFAULT_DEVICE_IDS.get(hex);
    return mapped !== undefined ? String(mapped) : hex;
  }

  boot(): void {
    this.urandom = new Prng(this.ctx.seed).fork("os.urandom");
    this.pending = new Uint8Array(0);
    this.sensor = new Sensor({ seed: this.ctx.seed });
    this.images.clear();
  }

  private randomAhead(n: number): Uint8Array {
    const want = Math.ceil(n / 4) * 4;
    if (this.pending.length < want) {
      const more = this.urandom.fill(new Uint8Array(want - this.pending.length));
      const joined = new Uint8Array(want);
      joined.set(this.pending);
      joined.set(more, this.pending.length);
      this.pending = joined;
    }
    return this.pending;
  }

  private jpegOf(img: Image, path: string, quality: number): Uint8Array {
    const plan = planSave(path, img.format, quality);
    if (plan.format !== "jpg")
      throw new Error(`the board target saves frames as JPEG only, not '${plan.path}'`);
    return encodeForSave(img, plan, quality);
  }

  plan(step: Step): BoardStepPlan {
    const a = step.args;
    const parts: Uint8Array[] = [];
    let size = 0;
    const add = (b: Uint8Array): [number, number] => {
      parts.push(b);
      size += b.length;
      return [size - b.length, b.length];
    };
    const spec: Record<string, unknown> = { op: step.op, args: a };
    const frame = (img: Image, jpeg?: Uint8Array): unknown[] => [
      ...(jpeg ? add(jpeg) : [0, 0]),
      img.width,
      img.height,
      img.format,
    ];
    let randomBytes = 0;
    switch (step.op) {
      case "write":
        if (typeof a["bytes"] === "number") randomBytes = a["bytes"];
        break;
      case "capture": {
        if (a["pixformat"] || a["framesize"]) {
          this.sensor.reset();
          this.sensor.setPixformat((a["pixformat"] as "RGB565" | "GRAYSCALE" | undefined) ?? "RGB565");
          this.sensor.setFramesize((a["framesize"] as FrameSize | undefined) ?? "QVGA");
        }
        const img = this.sensor.snapshot();
        this.images.set((a["as"] as string | undefined) ?? "img", img);
        spec["frames"] = [frame(img)];
        break;
      }
      case "save": {
        const img = this.images.get((a["image"] as string | undefined) ?? "img");
        if (img) {
          const path = (a["path"] as string | undefined) ?? "x_raw.jpg";
          const quality = (a["quality"] as number | undefined) ?? RAW_QUALITY;
          spec["frames"] = [frame(img, this.jpegOf(img, path, quality))];
          spec["saveFrame"] = 0;
        }
        break;
      }
      case "encrypt":
        randomBytes = randomBytesPerEncryption(RSA_KEY_BYTES);
        break;
      case "run_script": {
        if (a["script"] === "main") {
          const n = (a["frames"] as number | undefined) ?? 1;
          this.sensor.reset();
          this.sensor.setPixformat("RGB565");
          this.sensor.setFramesize("QVGA");
          const frames: unknown[] = [];
          for (let i = 0; i < n; i++) {
            const img = this.sensor.snapshot();
            frames.push(frame(img, this.jpegOf(img, "x_raw.jpg", RAW_QUALITY)));
          }
          spec["frames"] = frames;
          spec["mainFrames"] = n;
          randomBytes = n * randomBytesPerEncryption(RSA_KEY_BYTES);
        } else if (a["script"] === "test1") randomBytes = randomBytesPerEncryption(RSA_KEY_BYTES);
        break;
      }
    }
    if (randomBytes > 0) spec["pool"] = add(this.randomAhead(randomBytes));
    const payload = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      payload.set(p, at);
      at += p.length;
    }
    return { spec, payload };
  }

  used(step: Step, reply: { randomBytes: number; framesCaptured: number }): void {
    this.pending = this.pending.slice(Math.min(reply.randomBytes, this.pending.length));
    if (step.op === "run_script" && step.args["script"] === "main") {
      // The board may have stopped early: the sensor has then given only `framesCaptured` frames.
      const n = (step.args["frames"] as number | undefined) ?? 1;
      if (reply.framesCaptured < n) {
        this.sensor = new Sensor({ seed: this.ctx.seed });
        for (let i = 0; i < reply.framesCaptured; i++) this.sensor.snapshot();
      }
    }
  }

  flashFiles(): { path: string; bytes: Uint8Array }[] {
    return Object.entries(PRIVATE_KEYS).map(([path, rel]) => ({
      path,
      bytes: new TextEncoder().encode(readKeyFile(this.ctx.scenarioDir, rel)),
    }));
  }
}

/** The openmv-rt1062 profile's board codec. */
export const openMvBoardCodec: BoardCodec<OpenMvDeviceConfig> = {
  agent: "agent.py",
  agentSource: openMvAgentSource,
  pipelines: ["as-reported", "hardened"],
  session: (config, ctx) => new OpenMvBoardSession(config, ctx),
};
