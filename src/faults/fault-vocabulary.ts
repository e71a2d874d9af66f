/**
 * The fault plan's words as plain constants (fault-plan.ts): torn fills, unsynced policies,
 * collateral fills and scopes, fault kinds, busy timeouts, USB host operations. No imports, so the
 * schemas (fault-schemas.ts) and the parser-free checks (fault-plan-core.ts) share them without a cycle.
 */
/** Fill of bytes a torn write did not reach: `old` keeps what was there, `ff` erased NAND, `garbage` seeded random. */
export const TORN_FILLS = ["old", "ff", "garbage"] as const;
export type TornFill = (typeof TORN_FILLS)[number];

/** Fate of the epoch's writes at a power cut. */
export const UNSYNCED_POLICIES = ["persist-all", "drop-all", "random-subset", "reorder"] as const;
export type UnsyncedPolicy = (typeof UNSYNCED_POLICIES)[number];

/** Damage to sectors sharing a program page / allocation unit with the interrupted write. */
export const COLLATERAL_FILLS = ["ff", "garbage", "previous-version"] as const;
export type CollateralFill = (typeof COLLATERAL_FILLS)[number];
export const COLLATERAL_SCOPES = ["page", "allocation-unit"] as const;
export type CollateralScope = (typeof COLLATERAL_SCOPES)[number];

export const FAULT_KINDS = [
  "power-cut",
  "torn-write",
  "unsynced-writes",
  "bit-flip",
  "collateral",
  "transient-error",
  "busy-timeout",
  "stale-dma",
  "usb-host",
  "metastable",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Default busy timeouts of `ports/mimxrt/sdcard.c` (DAT0 busy wait), µs. */
export const READ_BUSY_TIMEOUT_MICROS = 500_000;
export const WRITE_BUSY_TIMEOUT_MICROS = 3_000_000;

/** What the second host (a PC over USB mass storage) does: see src/faults/usb-host.ts. */
export const USB_HOST_OPS = ["mount", "list", "copy_out", "delete", "write", "eject"] as const;
export type UsbHostOpName = (typeof USB_HOST_OPS)[number];
