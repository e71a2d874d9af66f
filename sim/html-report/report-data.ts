/**
 * The `reportData` section of a result (`cardsim scenario --report` adds it; `--out` keeps it, so
 * `cardsim report RESULT.json` renders the same page later). Optional and versioned on its own: a
 * `cardsim-result/1` without it still renders (timeline, files, fsck, matrix), with a note where the
 * block map would be. Goldens never hold it (the CLI adds it after the golden comparison).
 */

/** Version tag of {@link ReportData}; bump when its shape changes. */
export const REPORT_DATA_FORMAT = "cardsim-report-data/1";

/** What a run of sectors on the card is (from src/fat sector roles). */
export type SectorKind =
  | "mbr"
  | "boot"
  | "fsinfo"
  | "reserved"
  | "fat"
  | "bitmap"
  | "root"
  | "dir"
  | "data"
  | "free"
  | "lost"
  | "other";

/**
 * Consecutive sectors with one role: `[start, count, kind, label, byteOffset?]`. `label` is the
 * role without per-sector detail (`FAT1`, `data /sdcard/a.jpg`); for data runs `byteOffset` is the
 * file offset of the run's first sector (the next sectors follow on).
 */
export type RoleRun = [start: number, count: number, kind: SectorKind, label: string, byteOffset?: number];

/** `[lba, count]` of one block write. */
export type WriteRange = [lba: number, count: number];

/** The card's sectors as drawn in the block map. */
export interface BlockMapData {
  sectorSize: number;
  /** Sectors on the card. */
  sectors: number;
  /** Sectors drawn (from 0): the card, or its used part up to a cap (see `note`). */
  shown: number;
  runs: RoleRun[];
  /** Why not every sector is drawn, when `shown < sectors`. */
  note?: string;
}

/** The block writes and device log lines of one step. */
export interface StepCapture {
  index: number;
  writes: WriteRange[];
  /** Device log lines [from, to) of the result's `log` that the step printed. */
  log: [from: number, to: number];
}

/** The write a power cut interrupted and what of it persisted. */
export interface CutCapture {
  /** Step that cut (undefined for a replayed crash state). */
  step?: number;
  /** Write index (among writes) of the write in flight. */
  atWrite: number;
  /** The write in flight, when there was one. */
  write?: WriteRange;
  /** Its first sectors that reached the card (torn prefix). */
  tornSectors: number;
}

/** A file's intended content beside what is on the card. */
export interface FilePreview {
  /** VFS path (`/sdcard/...`). */
  path: string;
  /** How the page shows it. */
  kind: "jpeg" | "png" | "bytes";
  intendedSize: number | null;
  actualSize: number | null;
  /** base64 of what the device meant to store (`jpeg`: the JPEG; `png`: the profile's rendering). */
  intended?: string;
  /** base64 of what is on the card (same encoding as {@link intended}). */
  actual?: string;
  /** JPEG: the damaged region in pixels, where the two decode differently (jpeg-js). */
  damage?: { x: number; y: number; w: number; h: number };
  /** `bytes`: damaged 16-byte blocks (AES block size) as `[firstBlock, count]`. */
  damagedBlocks?: [first: number, count: number][];
  /** Image size in pixels (JPEG). */
  width?: number;
  height?: number;
  /** Lines a profile's previewer prints (e.g. a `.pov` header). */
  summary?: string[];
  /** Why the bytes are not embedded (size limit, not readable). */
  omitted?: string;
}

/** The first state (by ordinal) of each class of a matrix cell. */
export interface CellReplay {
  cut: number;
  policy: string;
  torn: string;
  /** Replay ID of the cell's first state per class. */
  byClass: Record<string, string>;
}

/** The optional report section of a result. */
export interface ReportData {
  format: typeof REPORT_DATA_FORMAT;
  /** `run`: a scenario's steps; `replay`: one rebuilt crash state. */
  kind: "run" | "replay";
  mountPoint: string;
  map: BlockMapData | null;
  steps: StepCapture[];
  cut?: CutCapture;
  /** Writes before the cut of a replayed state (its steps are not kept). */
  writesBeforeCut?: WriteRange[];
  /**
   * Sectors whose content on the card differs from what the device last wrote there (or, for a
   * replayed state, from the completed writes): collateral damage, dropped unsynced writes, another host.
   */
  damaged: WriteRange[];
  /** Sectors each fsck finding concerns, by index into the result's `fsck`. */
  fsckSectors: { finding: number; ranges: WriteRange[] }[];
  files: FilePreview[];
  /** Sweeps: the replay IDs behind each matrix cell. */
  cells?: CellReplay[];
  /** What was left out (size limits) or could not be read. */
  notes: string[];
}
