/**
 * The block map's data: every drawn sector's role on the card (src/fat sector-roles.ts), as runs of
 * one role. A 64 MiB card has 131,072 sectors, mostly free: the map draws sectors 0 .. the last one in
 * use (or written) plus a margin, capped at {@link MAX_SHOWN_SECTORS}, and says so.
 */
import { blockCountOf, blockSizeOf, type BlockDevice } from "../../src/block/index.ts";
import { sectorRoles } from "../../src/fat/sector-roles.ts";
import type { BlockMapData, RoleRun, SectorKind } from "./report-data.ts";

/** Cells drawn at most (a 128 × 128 grid). */
export const MAX_SHOWN_SECTORS = 16_384;
/** Free sectors drawn past the last sector in use. */
const MARGIN_SECTORS = 64;

const DATA_ROLE = /^data (.+) \(cluster \d+, byte offset (\d+)\)$/;

/** Kind and label of one `roleOf` text; `offset` for data sectors. */
function classify(role: string, mountPoint: string): { kind: SectorKind; label: string; offset?: number } {
  const d = DATA_ROLE.exec(role);
  if (d) return { kind: "data", label: `data ${mountPoint}${d[1]}`, offset: Number(d[2]) };
  if (
    role === "MBR" ||
    role === "before the volume" ||
    role === "protective MBR" ||
    /GPT (header|entries)$/.test(role)
  )
    return { kind: "mbr", label: role };
  if (role.startsWith("boot") || role.startsWith("backup boot")) return { kind: "boot", label: role };
  if (role.endsWith("fsinfo")) return { kind: "fsinfo", label: role };
  if (role === "reserved") return { kind: "reserved", label: role };
  const fat = /^FAT(\d+)/.exec(role);
  if (fat) return { kind: "fat", label: `FAT${fat[1]}` };
  // exFAT directory sectors name the entry sets they hold: the run's label is the directory.
  const dir = role.replace(/ \(entry sets of .*\)$/, "");
  if (dir === "root dir") return { kind: "root", label: dir };
  if (dir.startsWith("dir ")) return { kind: "dir", label: `dir ${mountPoint}${dir.slice(4)}` };
  const sys = /^(allocation bitmap|up-case table) \(cluster \d+\)$/.exec(role);
  if (sys) return { kind: "bitmap", label: sys[1] };
  if (role === "free") return { kind: "free", label: role };
  if (role.startsWith("lost cluster")) return { kind: "lost", label: "lost cluster (allocated, no owner)" };
  return { kind: "other", label: role };
}

/**
 * Roles of the card's sectors 0 .. shown-1. `alsoShow` are sectors that must be drawn when the cap
 * allows (writes, damage): the map extends to the last of them.
 */
export function blockMapData(card: BlockDevice, mountPoint: string, alsoShow: number): BlockMapData {
  const sectors = Math.max(0, blockCountOf(card));
  const sectorSize = blockSizeOf(card);
  const roles = sectorRoles(card);
  const mapped = roles.layout !== null || roles.exfat !== null;
  const lastUsed = Math.max(alsoShow, mapped ? roles.lastUsedSector : 0);
  const wanted = Math.min(sectors, lastUsed + 1 + MARGIN_SECTORS);
  const shown = Math.min(wanted, MAX_SHOWN_SECTORS);
  const runs: RoleRun[] = [];
  for (let lba = 0; lba < shown; lba++) {
    const c = classify(roles.roleOf(lba), mountPoint);
    const last = runs[runs.length - 1];
    if (
      last &&
      last[2] === c.kind &&
      last[3] === c.label &&
      (c.offset === undefined || last[4]! + last[1] * sectorSize === c.offset)
    )
      last[1]++;
    else runs.push(c.offset === undefined ? [lba, 1, c.kind, c.label] : [lba, 1, c.kind, c.label, c.offset]);
  }
  const map: BlockMapData = { sectorSize, sectors, shown, runs };
  if (shown < sectors)
    map.note =
      shown < wanted
        ? `sectors ${shown}..${sectors - 1} are not drawn (the map draws at most ${MAX_SHOWN_SECTORS} sectors)`
        : `sectors ${shown}..${sectors - 1} are not drawn: free and not written by this run`;
  if (!mapped)
    map.note = `${map.note ? `${map.note}; ` : ""}no FAT12/16/32 or exFAT volume: sectors are drawn without their roles`;
  if (roles.truncated)
    map.note = `${map.note ? `${map.note}; ` : ""}the volume's structure is damaged: some roles may read free or lost`;
  return map;
}
