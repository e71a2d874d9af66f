/**
 * `cardsim` command line: dispatches to the sub-commands. Exit codes everywhere: 0 success,
 * 1 expectation/golden mismatch or fsck findings, 2 unusable input, 3 a bug in cardsim, 4 the board
 * or its serial link failed.
 */
const USAGE = `usage: cardsim <command> [options]

commands:
  scenario NAME [options]   run a scenario (see: cardsim scenario --list)
  merge FILE...             merge sharded sweep results
  sweep --from-trace F --base IMG  every crash state of a recorded write order, offline
  compare NAME --port P     the scenario on the simulator and on a board, compared
  night --port P            the catalogue compared on the simulator and a board; resumable
  report RESULT.json        a saved result as a self-contained HTML report
  shrink NAME --replay ID   the smallest scenario that still shows a crash state (--class silent)
  image <sub> IMG ...       card-image tools: mkfs, ls, cat, put, mkdir, rm, fsck
  profiles                  the device profiles and their steps
  trace diff A B            compare two cardsim-trace/1 block logs
  virtual-board [options]   the WebAssembly MicroPython as an OpenMV board behind a pty
  pov show FILE.pov [--png OUT]  a POV poi image as the LED strip sweeps it
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "image": {
      const { imageMain } = await import("./image.ts");
      return imageMain(rest);
    }
    case "scenario": {
      const { scenarioMain } = await import("./scenario.ts");
      return scenarioMain(rest);
    }
    case "virtual-board": {
      const { virtualBoardMain } = await import("./virtual-board.ts");
      return virtualBoardMain(rest);
    }
    case "trace": {
      const { traceMain } = await import("./trace.ts");
      return traceMain(rest);
    }
    case "profiles": {
      const { profilesMain } = await import("./profiles.ts");
      return profilesMain(rest);
    }
    case "pov": {
      const { povMain } = await import("./pov.ts");
      return povMain(rest);
    }
    case "shrink": {
      const { shrinkMain } = await import("./shrink.ts");
      return shrinkMain(rest);
    }
    case "report": {
      const { reportMain } = await import("./report.ts");
      return reportMain(rest);
    }
    case "night": {
      const { nightMain } = await import("./night.ts");
      return nightMain(rest);
    }
    case "compare": {
      const { compareMain } = await import("./compare.ts");
      return compareMain(rest);
    }
    case "sweep": {
      const { sweepMain } = await import("./sweep.ts");
      return sweepMain(rest);
    }
    case "merge": {
      const { mergeMain } = await import("./scenario.ts");
      return mergeMain(rest);
    }
    case undefined:
    case "-h":
    case "--help":
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`cardsim: unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `cardsim: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n` +
        "cardsim: this is a bug in cardsim, not in your input: please report it with the command you ran\n",
    );
    process.exitCode = 3;
  },
);
