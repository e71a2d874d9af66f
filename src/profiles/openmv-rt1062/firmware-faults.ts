/**
 * Composing an OpenMV firmware release with a fault plan: part of the `openmv-rt1062` profile, which
 * alone knows both the firmware (src/openmv) and the faults (src/faults), so neither imports the other.
 */
import type { FaultPlan } from "../../faults/fault-plan.ts";
import type { FirmwareProfile } from "../../openmv/firmware.ts";

/**
 * The fault plan as it acts under `firmware`: a driver with the stale-DMA fix never returns stale
 * lines, so `stale-dma` faults are dropped; every other fault is a property of the card or the power
 * supply and stays. The target applies this before wrapping the card in a FaultyBlockDevice.
 */
export function faultPlanForFirmware(plan: FaultPlan, firmware: FirmwareProfile): FaultPlan {
  if (firmware.staleDmaBug) return plan;
  return { ...plan, faults: plan.faults.filter((f) => f.kind !== "stale-dma") };
}
