/**
 * `cardsim virtual-board [--link PATH] [--firmware V] [--card IMG] [--faults FILE] [--seed N]
 * [--save-card IMG]`: the WebAssembly MicroPython as an OpenMV board behind a pseudo-terminal, with the
 * simulator as its hardware (src/virtual-board). The first line of stdout is the pty's path, the
 * second the board process's pid (SIGUSR1 to it is the power switch, e.g. `--power-cycle "kill -USR1
 * PID"`); it serves until SIGINT/SIGTERM. Exit 2 on bad options, a missing socat or image.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  forwardSignals,
  startVirtualBoardPty,
  VirtualBoardOptionError,
} from "../../src/virtual-board/index.ts";
import { InputError } from "../../src/input/index.ts";
import { getProfile, profileNames, type VirtualDevicePty } from "../../src/profiles/index.ts";

const USAGE = `usage: cardsim virtual-board [--profile NAME] [--link PATH] [--firmware V] [--card IMG] [--faults FILE] [--seed N] [--save-card IMG]
  --profile NAME   the device (default openmv-rt1062; teensy41-pov: the POV poi's ESP32 protocol)
  --link PATH      make PATH a symlink to the pty (e.g. /tmp/ttyVB0)
  --firmware V     OpenMV firmware to model (default 4.7.0)
  --card IMG       start from this card image (read only; --card-writable writes changes back at the end)
  --faults FILE    a fault plan (YAML/JSON) applied to the card, as on the simulator
  --seed N         seed of os.urandom, random and the sensor (default 0)
  --save-card IMG  write the whole card image here when the board stops
prints the pty path, then the board's pid (SIGUSR1: power switch); stops on SIGINT/SIGTERM
`;

export async function virtualBoardMain(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        profile: { type: "string" },
        link: { type: "string" },
        firmware: { type: "string" },
        card: { type: "string" },
        "card-writable": { type: "boolean" },
        faults: { type: "string" },
        seed: { type: "string" },
        "save-card": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    process.stderr.write(`cardsim virtual-board: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (v.seed !== undefined && !/^\d+$/.test(v.seed)) {
    process.stderr.write(`cardsim virtual-board: --seed: expected a non-negative integer, got '${v.seed}'\n`);
    return 2;
  }
  const deviceOptions = {
    ...(v.link !== undefined && { link: resolve(v.link) }),
    ...(v.firmware !== undefined && { firmware: v.firmware }),
    ...(v.card !== undefined && { card: resolve(v.card) }),
    ...(v["card-writable"] && { cardWritable: true }),
    ...(v.faults !== undefined && { faults: resolve(v.faults) }),
    ...(v.seed !== undefined && { seed: Number(v.seed) }),
    ...(v["save-card"] !== undefined && { saveCard: resolve(v["save-card"]) }),
  };
  let start: () => Promise<VirtualDevicePty>;
  if (v.profile === undefined || v.profile === "openmv-rt1062")
    start = () => startVirtualBoardPty(deviceOptions);
  else {
    // A device whose profile brings its own virtual device (src/profiles).
    const name = v.profile;
    const profile = getProfile(name);
    const virtualDevice = profile?.virtualDevice;
    if (!virtualDevice) {
      const served = profileNames().filter((n) => n === "openmv-rt1062" || getProfile(n)?.virtualDevice);
      process.stderr.write(
        `cardsim virtual-board: --profile: ${profile ? `profile '${name}' has no virtual device` : `unknown profile '${name}'`}; expected one of ${served.join(", ")}\n`,
      );
      return 2;
    }
    start = () => virtualDevice(deviceOptions);
  }
  let device: VirtualDevicePty;
  try {
    device = await start();
  } catch (e) {
    if (
      e instanceof VirtualBoardOptionError ||
      e instanceof InputError ||
      (e as NodeJS.ErrnoException).code === "ENOENT"
    ) {
      process.stderr.write(`cardsim virtual-board: ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }
  process.stdout.write(`${device.path}\npid ${device.pid}\n`);
  const unhook = forwardSignals(device);
  await device.exited;
  unhook();
  return 0;
}
