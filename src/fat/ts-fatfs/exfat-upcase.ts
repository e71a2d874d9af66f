/**
 * The up-case table cardsim's exFAT mkfs writes (spec §7.2.5), in the compressed form the spec allows:
 * a run of code points that map to themselves is stored as 0xFFFF followed by the run's length.
 * Mapped: the Latin, Greek and Cyrillic blocks below U+0530 by the host's Unicode case mapping for
 * single units (the same mapping FAT names use, codepage.ts wideUpper; these blocks' mappings have been
 * stable across Unicode versions), so the table is the same on every Node.js. Everything else maps to
 * itself. Not the spec's recommended table (§7.2.5.1) byte for byte: fsck.exfat checks only
 * TableChecksum (§7.2.2), and FatFs does not read the table at all (it up-cases with ff_wtoupper).
 */
import { wideUpper } from "./codepage.ts";

const MAPPED_BELOW = 0x0530;

/** The up-case of `wc` in cardsim's table. */
export function tableUpper(wc: number): number {
  return wc < MAPPED_BELOW ? wideUpper(wc) : wc;
}

/** The compressed up-case table as little-endian bytes. */
export function buildUpcaseTable(): Uint8Array {
  const units: number[] = [];
  for (let c = 0; c <= 0xffff;) {
    const up = tableUpper(c);
    if (up !== c) {
      units.push(up);
      c++;
      continue;
    }
    let run = 0;
    while (c + run <= 0xffff && tableUpper(c + run) === c + run) run++;
    if (run >= 2 || c === 0xffff) {
      units.push(0xffff, run);
    } else {
      units.push(c);
    }
    c += run;
  }
  const out = new Uint8Array(units.length * 2);
  units.forEach((u, i) => {
    out[2 * i] = u & 0xff;
    out[2 * i + 1] = u >>> 8;
  });
  return out;
}
