/**
 * The size of the board agent's keep pool (`--record-data` on `--target board`): the agent keeps the
 * bytes of every write of a step in one bytearray allocated at boot, and the host fetches them after
 * each step, so the pool must hold the largest step's writes. The simulator runs the same scenario on
 * the same inputs, so its largest step gives the size; a margin covers a board whose write order
 * differs (extra FAT or directory writes). A step that writes more anyway is reported by the agent
 * (its `klost` count) and the run fails with an honest "pool full", never a trace with holes.
 */
import type { Scenario } from "./scenario-schema.ts";
import { SimulatedTarget } from "./simulated-target.ts";

/** Bytes written by the largest step of `scenario` on the simulator (every boot's writes counted). */
export async function largestStepWriteBytes(scenario: Scenario, seed: number): Promise<number> {
  const target = await SimulatedTarget.create(scenario, { seed, trace: true });
  try {
    let seen = 0;
    let largest = 0;
    for (let i = 0; i < scenario.steps.length; i++) {
      const { label: _label, ...step } = scenario.steps[i];
      await target.runStep(step, i);
      const ops = (await target.trace()).log.ops;
      let bytes = 0;
      for (; seen < ops.length; seen++) {
        const op = ops[seen];
        if (op.kind === "write") bytes += op.count * 512;
      }
      largest = Math.max(largest, bytes);
    }
    return largest;
  } finally {
    await target.close();
  }
}

/** The pool for a scenario: its largest step × 1.5 + 16 KiB, in whole KiB. */
export async function keepPoolBytes(scenario: Scenario, seed: number): Promise<number> {
  const largest = await largestStepWriteBytes(scenario, seed);
  return Math.ceil((largest * 1.5 + 16 * 1024) / 1024) * 1024;
}
