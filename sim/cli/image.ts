/**
 * `cardsim image <sub> IMG ...`: card-image tools over the simulator's own FAT engine and checker.
 *
 *   mkfs IMG --size 64MiB [--fat 12|16|32] [--fats 1|2] [--force] [--partition 1]
 *   ls   IMG [PATH] [-l]
 *   cat  IMG PATH                (raw bytes to stdout)
 *   put  IMG HOSTFILE PATH [--mtime "YYYY-MM-DD HH:MM:SS"]
 *   mkdir IMG PATH [-p]
 *   rm   IMG PATH
 *   fsck IMG [--json]            (exit 0 clean, 1 findings, 2 unusable input)
 *   every command takes [--partition N] (MBR partition 1..4 or GPT entry 1..128; default: the whole
 *   image, or the first FAT partition of its MBR, or the first Microsoft basic data partition of its GPT)
 *
 * ls, cat and fsck open the image read-only. put, mkdir and rm work on a copy-on-write overlay; only
 * when the whole operation succeeded are the changed sectors written into a temporary copy of the image
 * (a reflink where the file system can, else a full copy), which is synced and renamed over it. So a
 * failure (full card, bad name, a crash or power loss mid-write) leaves the image byte-for-byte as it
 * was. mkfs builds the new image in a temporary file too. Timestamps come from the virtual clock:
 * 2025-01-01 00:00:00 UTC unless --mtime says otherwise, so the same commands give the same image.
 * Exit codes (sim/cli.ts): 0 success, 1 fsck findings, 2 unusable input or failed operation.
 */
import {
  closeSync,
  constants as fsConstants,
  copyFileSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseArgs as parseNodeArgs } from "node:util";
import {
  blockSizeOf,
  CardImageError,
  CowBlockDevice,
  IOCTL,
  ImageFileBlockDevice,
  type BlockDevice,
} from "../../src/block/index.ts";
import { DEFAULT_EPOCH_UNIX_SECONDS, VirtualClock } from "../../src/clock/index.ts";
import { loadFatDriver } from "../../src/fat/drivers.ts";
import {
  FatError,
  FRESULT,
  fresultName,
  type FatDriver,
  type FatEngine,
  type FatEntryInfo,
} from "../../src/fat/fat-engine.ts";
import { describeBootProblem, parseBootSector } from "../../src/fat/fat-layout.ts";
import { exfatVolumeOf } from "../../src/fat/exfat-fsck.ts";
import { fsck } from "../../src/fat/fsck.ts";
import { formatWith, MkfsError } from "../../src/fat/mkfs.ts";
import { buildMbr, locateFatVolume, PartitionError } from "../../src/fat/partition.ts";

/** Where the CLI writes; tests capture it. */
export interface ImageCliIo {
  stdout: (data: string | Uint8Array) => Promise<void> | void;
  stderr: (text: string) => void;
}

const processIo: ImageCliIo = {
  stdout: (data) =>
    new Promise<void>((resolve, reject) =>
      process.stdout.write(data, (err) => (err ? reject(err) : resolve())),
    ),
  stderr: (text) => void process.stderr.write(text),
};

const USAGE = `usage: cardsim image <command> IMG ...
  mkfs IMG --size SIZE [--fat 12|16|32] [--fats 1|2] [--force]   create and format an image (SIZE: 64MiB, 2G, 1048576)
  ls   IMG [PATH] [-l]                                            list a directory
  cat  IMG PATH                                                   write a file's bytes to stdout
  put  IMG HOSTFILE PATH [--mtime "YYYY-MM-DD HH:MM:SS"]         copy a host file into the image
                                                                  (stamped 2025-01-01 00:00:00 unless --mtime)
  mkdir IMG PATH [-p]                                             make a directory (-p: and its parents)
  rm   IMG PATH                                                   delete a file or an empty directory
  fsck IMG [--json]                                               check (exit 0 clean, 1 findings, 2 unusable)
options for all: --partition N   use MBR partition N (1..4) or GPT partition N (1..128)
                 (default: the whole image, else the first FAT/exFAT partition of its MBR or GPT)
`;

/** Bad command-line or image input: printed as one line, exit code 2. */
class UsageError extends Error {}

/** Options of every image command (each command reads the ones it uses). `-l` has no long form. */
const OPTIONS = {
  size: { type: "string" },
  fat: { type: "string" },
  fats: { type: "string" },
  partition: { type: "string" },
  force: { type: "boolean" },
  json: { type: "boolean" },
  mtime: { type: "string" },
  l: { type: "boolean", short: "l" },
  p: { type: "boolean", short: "p" },
} as const;

/** Short options have no long form. */
const SHORT_ONLY = new Set(["l", "p"]);

type OptionValues = {
  -readonly [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]["type"] extends "string" ? string : boolean;
};

interface Parsed {
  positional: string[];
  values: OptionValues;
}

/**
 * `node:util` parseArgs, lenient so that this CLI words its own errors: the whole offending argument
 * for an unknown option (also `--` and a value given to a boolean), "needs a value" for a bare value
 * option. A value option takes the next argument whatever it looks like (`--partition -1`).
 */
function parseArgs(args: string[]): Parsed {
  const { positionals, tokens } = parseNodeArgs({
    args,
    options: OPTIONS,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const values: OptionValues = {};
  for (const t of tokens) {
    if (t.kind === "positional") continue;
    const raw = args[t.index];
    if (t.kind === "option-terminator") throw new UsageError(`unknown option '${raw}'`);
    const option = Object.hasOwn(OPTIONS, t.name) ? OPTIONS[t.name as keyof typeof OPTIONS] : undefined;
    const short = SHORT_ONLY.has(t.name);
    if (!option || (short && raw !== `-${t.name}`) || (!short && t.rawName !== `--${t.name}`))
      throw new UsageError(`unknown option '${raw}'`);
    if (option.type === "boolean") {
      if (t.value !== undefined) throw new UsageError(`unknown option '${raw}'`);
      (values as Record<string, boolean>)[t.name] = true;
    } else {
      if (t.value === undefined) throw new UsageError(`option ${t.rawName} needs a value`);
      (values as Record<string, string>)[t.name] = t.value;
    }
  }
  return { positional: positionals, values };
}

/** Parses "64MiB", "64M", "2G", "512K", "1048576" into bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(k|kb|kib|m|mb|mib|g|gb|gib|b)?$/i.exec(text.trim());
  if (!m)
    throw new UsageError(`--size '${text}': expected a number with an optional unit K, M, G (e.g. 64MiB)`);
  const unit = (m[2] ?? "b").toLowerCase()[0];
  const mult = unit === "k" ? 1024 : unit === "m" ? 1048576 : unit === "g" ? 1073741824 : 1;
  const bytes = Math.round(Number(m[1]) * mult);
  if (bytes <= 0 || bytes % 512 !== 0)
    throw new UsageError(`--size '${text}' is ${bytes} bytes: expected a positive multiple of 512`);
  return bytes;
}

function intFlag(p: Parsed, name: "fat" | "fats", allowed: number[]): number | undefined {
  const v = p.values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!allowed.includes(n)) throw new UsageError(`--${name} '${v}': expected ${allowed.join(" or ")}`);
  return n;
}

/** GPT entry numbers go to 128 (the array every tool writes); locateFatVolume refuses > 4 on an MBR. */
function partitionFlag(p: Parsed): number | undefined {
  const v = p.values.partition;
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 128)
    throw new UsageError(`--partition '${v}': expected 1..4 (MBR) or 1..128 (GPT)`);
  return n;
}

function normPath(path: string): string {
  const parts = path.split("/").filter((s) => s !== "" && s !== ".");
  return `/${parts.join("/")}`;
}

/** True when the user's path ends in a slash: it names a directory (POSIX; `ls f.txt/` is ENOTDIR). */
function namesDirectory(path: string): boolean {
  return path.length > 1 && path.endsWith("/");
}

function notADirectory(img: string, target: string): UsageError {
  return new UsageError(`${img}:${target}/: not a directory (ENOTDIR): '${target}' is a file`);
}

/** The largest volume a FAT can describe: BPB_TotSec32 and the MBR's LBA fields are 32-bit. */
const MAX_FAT_SECTORS = 0xffff_ffff;

/** A sibling path for a temporary file, renamed over `file` on success. */
function temporarySibling(file: string): string {
  return join(dirname(file), `.${basename(file)}.cardsim-${process.pid}.tmp`);
}

/**
 * Applies the sectors changed in `overlay` to the image at `img` without ever leaving it half
 * written: copy it (a reflink where the file system can), write the changes into the copy, sync,
 * rename the copy over the image. A failure at any point removes the copy and leaves `img` as it was.
 */
function commitOverlay(img: string, overlay: CowBlockDevice): void {
  const changed = [...overlay.changedBlocks()];
  if (changed.length === 0) return;
  const tmp = temporarySibling(img);
  try {
    copyFileSync(img, tmp, fsConstants.COPYFILE_FICLONE);
    const copy = ImageFileBlockDevice.open(tmp, { writable: true });
    try {
      for (const n of changed) {
        const rc = copy.writeblocks(n, overlay.block(n));
        if (rc !== 0)
          throw new UsageError(`writing sector ${n} of ${img} failed (errno ${-rc}); image left unchanged`);
      }
      copy.ioctl(IOCTL.SYNC, 0);
    } finally {
      copy.close();
    }
    renameSync(tmp, img);
  } catch (e) {
    rmSync(tmp, { force: true });
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOSPC" || code === "EACCES" || code === "EROFS" || code === "EDQUOT")
      throw new UsageError(
        `${img}: cannot write the updated image beside it (${code}); image left unchanged`,
      );
    throw e;
  }
}

/** `--mtime "YYYY-MM-DD HH:MM:SS"` (UTC) as the virtual clock's epoch; FAT stores 1980..2107. */
function clockFor(p: Parsed): VirtualClock {
  const text = p.values.mtime;
  if (text === undefined) return new VirtualClock(DEFAULT_EPOCH_UNIX_SECONDS);
  const bad = new UsageError(
    `--mtime '${text}': expected a UTC date and time "YYYY-MM-DD HH:MM:SS" between 1980 and 2107 (FAT's range)`,
  );
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2}))?$/.exec(text.trim());
  if (!m) throw bad;
  const [y, mo, d, h, mi, sec] = m.slice(1).map((v) => Number(v ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = Date.UTC(y, mo - 1, d, h, mi, sec);
  const back = new Date(ms);
  // Date.UTC rolls 2025-02-30 over into March: a date that does not round-trip does not exist.
  const exists = back.getUTCDate() === d && back.getUTCMonth() === mo - 1 && back.getUTCHours() === h;
  if (!exists || y < 1980 || y > 2107 || mi > 59 || sec > 59) throw bad;
  return new VirtualClock(ms / 1000);
}

function openImage(img: string, writable: boolean): ImageFileBlockDevice {
  if (!existsSync(img)) throw new UsageError(`${img}: no such image file`);
  return ImageFileBlockDevice.open(img, { writable });
}

/** Explains why a device holds no mountable FAT volume, from its boot sector. */
function noFilesystemMessage(img: string, volume: BlockDevice, partition: string): string {
  const s = new Uint8Array(blockSizeOf(volume));
  if (volume.readblocks(0, s) !== 0) return `${img}${partition}: cannot read the boot sector`;
  const parsed = parseBootSector(s);
  if (!parsed.ok)
    return `${img}${partition}: no FAT file system: boot sector ${parsed.problems.map(describeBootProblem).join("; ")}`;
  return `${img}${partition}: FatFs cannot mount the FAT${parsed.layout.fatType} volume`;
}

function fatMessage(img: string, e: FatError, path: string | undefined): string {
  const where = `${img}:${path ?? e.path ?? "/"}`;
  switch (e.fresult) {
    case FRESULT.FR_NO_FILE:
      return `${where}: no such file or directory`;
    case FRESULT.FR_NO_PATH:
      return `${where}: no such directory on the path`;
    case FRESULT.FR_INVALID_NAME:
      return `${where}: name rejected by FatFs (FR_INVALID_NAME: empty, too long, or contains one of " * : < > ? | \\ or control characters)`;
    case FRESULT.FR_DENIED:
      return `${where}: access denied (FR_DENIED: directory not empty, full directory, read-only entry or no free cluster)`;
    case FRESULT.FR_EXIST:
      return `${where}: already exists`;
    case FRESULT.FR_DISK_ERR:
      return `${where}: disk error while accessing the image (FR_DISK_ERR)`;
    case FRESULT.FR_WRITE_PROTECTED:
      return `${where}: image is open read-only`;
    default:
      return `${where}: ${e.op} failed: ${fresultName(e.fresult)}`;
  }
}

interface Volume {
  engine: FatEngine;
  device: BlockDevice;
}

function mountVolume(
  rt: FatDriver,
  img: string,
  base: BlockDevice,
  partition: number | undefined,
  readOnly: boolean,
  exfatRt: FatDriver,
  warn: (text: string) => void,
): Volume {
  let located;
  try {
    located = locateFatVolume(base, partition, img);
  } catch (e) {
    if (e instanceof PartitionError) throw new UsageError(e.message);
    throw e;
  }
  for (const w of located.warnings) warn(`warning: ${w}\n`);
  const label = located.partition ? ` (partition ${located.partition.number})` : "";
  try {
    // exFAT (an SDXC card's dump): our engine; js-fatfs is built without exFAT.
    const driver = exfatVolumeOf(located.device) ? exfatRt : rt;
    return { engine: driver.mount(located.device, { readOnly }), device: located.device };
  } catch (e) {
    if (e instanceof FatError) throw new UsageError(noFilesystemMessage(img, located.device, label));
    throw e;
  }
}

function two(n: number): string {
  return String(n).padStart(2, "0");
}

function formatEntry(e: FatEntryInfo, long: boolean): string {
  const name = e.isDirectory ? `${e.name}/` : e.name;
  if (!long) return name;
  const d = e.fatDate;
  const t = e.fatTime;
  const date = `${1980 + (d >> 9)}-${two((d >> 5) & 15)}-${two(d & 31)} ${two(t >> 11)}:${two((t >> 5) & 63)}:${two((t & 31) * 2)}`;
  return `${e.isDirectory ? "d" : "-"} ${String(e.size).padStart(10)} ${date} ${name}`;
}

async function cmdMkfs(p: Parsed, io: ImageCliIo): Promise<number> {
  const [img, extra] = p.positional;
  if (!img || extra !== undefined) throw new UsageError("mkfs takes one image path");
  const sizeFlag = p.values.size;
  if (sizeFlag === undefined) throw new UsageError("mkfs needs --size (e.g. --size 64MiB)");
  const size = parseSize(sizeFlag);
  if (size / 512 > MAX_FAT_SECTORS)
    throw new UsageError(
      `--size '${sizeFlag}' is ${size / 512} sectors: a FAT volume (and an MBR partition) holds at most ${MAX_FAT_SECTORS} sectors of 512 bytes (2 TiB - 512 bytes)`,
    );
  const fatType = intFlag(p, "fat", [12, 16, 32]) as 12 | 16 | 32 | undefined;
  const fats = (intFlag(p, "fats", [1, 2]) ?? 2) as 1 | 2;
  const partition = partitionFlag(p);
  if (partition !== undefined && partition !== 1)
    throw new UsageError("mkfs --partition: only partition 1 can be created");
  if (existsSync(img) && p.values.force !== true)
    throw new UsageError(`${img}: file exists; use --force to overwrite it`);
  const rt = await loadFatDriver(new VirtualClock());
  // Format into a sparse in-memory device first: a refused size never creates or clobbers the file.
  const sectors = size / 512;
  const start = partition ? (sectors > 16384 ? 2048 : 63) : 0;
  const cow = CowBlockDevice.blank(512, sectors);
  let target: BlockDevice = cow;
  if (partition) {
    cow.writeblocks(
      0,
      buildMbr(start, sectors - start, fatType === 12 ? 0x01 : fatType === 16 ? 0x06 : 0x0c),
    );
    target = locateFatVolume(cow, 1, img).device;
  }
  try {
    formatWith(rt, target, { fatType, fats });
  } catch (e) {
    if (e instanceof MkfsError) throw new UsageError(`${img}: ${e.message}`);
    throw e;
  }
  const engine = rt.mount(target);
  const vi = engine.volumeInfo();
  engine.unmount();
  // A new sparse file beside the target, renamed over it only when complete: a failed mkfs (disk
  // full, a size the host refuses) never truncates an existing image. All-zero sectors stay holes.
  const tmp = temporarySibling(img);
  try {
    const fd = openSync(tmp, "wx");
    try {
      ftruncateSync(fd, size);
      for (const n of cow.changedBlocks()) {
        const block = cow.block(n);
        if (block.some((b) => b !== 0)) writeSync(fd, block, 0, 512, n * 512);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, img);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new UsageError(`${img}: cannot create the image: ${(e as Error).message}`);
  }
  await io.stdout(
    `${img}: ${vi.fatType}, ${fats} FAT${fats > 1 ? "s" : ""}, ${vi.totalClusters} clusters of ${vi.clusterSectors * vi.sectorSize} bytes${partition ? `, MBR partition 1 at sector ${start}` : ""}\n`,
  );
  return 0;
}

async function withVolume<T>(
  p: Parsed,
  img: string,
  writable: boolean,
  io: ImageCliIo,
  body: (v: Volume) => T | Promise<T>,
): Promise<T> {
  // The image itself is only ever opened read-only: put, mkdir and rm change a copy-on-write
  // overlay, committed through a renamed copy only when the whole operation succeeded.
  const file = openImage(img, false);
  const overlay = writable ? CowBlockDevice.overDevice(file) : null;
  let result: T;
  try {
    const rt = await loadFatDriver(clockFor(p));
    const exfatRt = await loadFatDriver(rt.clock, "ts-fatfs");
    const vol = mountVolume(rt, img, overlay ?? file, partitionFlag(p), !writable, exfatRt, io.stderr);
    try {
      result = await body(vol);
    } finally {
      vol.engine.unmount();
    }
  } finally {
    file.close();
  }
  if (overlay) commitOverlay(img, overlay);
  return result;
}

async function cmdLs(p: Parsed, io: ImageCliIo): Promise<number> {
  const [img, path = "/", extra] = p.positional;
  if (!img || extra !== undefined) throw new UsageError("ls takes an image and an optional path");
  const long = p.values.l === true;
  const lines = await withVolume(p, img, false, io, ({ engine }) => {
    const target = normPath(path);
    const st = wrapFat(img, target, () => engine.stat(target));
    if (!st.isDirectory && namesDirectory(path)) throw notADirectory(img, target);
    const entries = st.isDirectory ? wrapFat(img, target, () => engine.readdir(target)) : [st];
    return entries.map((e) => formatEntry(e, long));
  });
  await io.stdout(lines.map((l) => `${l}\n`).join(""));
  return 0;
}

function wrapFat<T>(img: string, path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof FatError) throw new UsageError(fatMessage(img, e, path));
    throw e;
  }
}

async function cmdCat(p: Parsed, io: ImageCliIo): Promise<number> {
  const [img, path, extra] = p.positional;
  if (!img || !path || extra !== undefined) throw new UsageError("cat takes an image and a path");
  const data = await withVolume(p, img, false, io, ({ engine }) => {
    const target = normPath(path);
    const st = wrapFat(img, target, () => engine.stat(target));
    if (st.isDirectory) throw new UsageError(`${img}:${target}: is a directory`);
    if (namesDirectory(path)) throw notADirectory(img, target);
    return wrapFat(img, target, () => {
      const f = engine.open(target, { read: true, write: false, disposition: "open-existing" });
      const buf = new Uint8Array(f.size());
      const n = f.read(buf);
      f.close();
      if (n !== buf.length)
        throw new UsageError(
          `${img}:${target}: read ${n} of ${buf.length} bytes (cluster chain shorter than the size)`,
        );
      return buf;
    });
  });
  await io.stdout(data);
  return 0;
}

async function cmdPut(p: Parsed, io: ImageCliIo): Promise<number> {
  const [img, host, path, extra] = p.positional;
  if (!img || !host || !path || extra !== undefined)
    throw new UsageError("put takes an image, a host file and a path");
  let data: Uint8Array;
  try {
    data = readFileSync(host);
  } catch (e) {
    throw new UsageError(`${host}: cannot read host file: ${(e as Error).message}`);
  }
  await withVolume(p, img, true, io, ({ engine }) => {
    const target = normPath(path);
    let dest = target;
    let existing: FatEntryInfo | undefined;
    try {
      existing = engine.stat(target);
    } catch (e) {
      if (!(e instanceof FatError)) throw e;
    }
    if (existing?.isDirectory || target === "/") dest = `${target === "/" ? "" : target}/${basename(host)}`;
    else if (namesDirectory(path))
      throw existing
        ? notADirectory(img, target)
        : new UsageError(
            `${img}:${target}/: no such directory (make it first: cardsim image mkdir ${img} ${target})`,
          );
    wrapFat(img, dest, () => {
      const f = engine.open(dest, { read: false, write: true, disposition: "create-always" });
      const n = f.write(data);
      if (n < data.length) {
        f.close();
        throw new UsageError(
          `${img}:${dest}: no space left on the volume (ENOSPC): wrote ${n} of ${data.length} bytes; image left unchanged`,
        );
      }
      f.close();
    });
  });
  await io.stdout("");
  return 0;
}

async function cmdRm(p: Parsed, io: ImageCliIo): Promise<number> {
  const [img, path, extra] = p.positional;
  if (!img || !path || extra !== undefined) throw new UsageError("rm takes an image and a path");
  await withVolume(p, img, true, io, ({ engine }) => {
    const target = normPath(path);
    if (target === "/") throw new UsageError(`${img}:/: cannot remove the root directory`);
    if (namesDirectory(path) && !wrapFat(img, target, () => engine.stat(target)).isDirectory)
      throw notADirectory(img, target);
    wrapFat(img, target, () => engine.unlink(target));
  });
  return 0;
}

async function cmdMkdir(p: Parsed, io: ImageCliIo): Promise<number> {
  const [img, path, extra] = p.positional;
  if (!img || !path || extra !== undefined) throw new UsageError("mkdir takes an image and a path");
  const parents = p.values.p === true;
  await withVolume(p, img, true, io, ({ engine }) => {
    const target = normPath(path);
    if (target === "/") {
      if (parents) return;
      throw new UsageError(`${img}:/: already exists`);
    }
    const parts = target.split("/").slice(1);
    for (let i = parents ? 1 : parts.length; i <= parts.length; i++) {
      const dir = `/${parts.slice(0, i).join("/")}`;
      let st: FatEntryInfo | undefined;
      try {
        st = engine.stat(dir);
      } catch (e) {
        if (!(e instanceof FatError)) throw e;
      }
      if (st && !st.isDirectory) throw new UsageError(`${img}:${dir}: exists and is a file (ENOTDIR)`);
      if (st && parents) continue;
      try {
        engine.mkdir(dir);
      } catch (e) {
        if (e instanceof FatError && e.fresult === FRESULT.FR_NO_PATH)
          throw new UsageError(`${fatMessage(img, e, dir)} (-p makes the missing parents)`);
        if (e instanceof FatError) throw new UsageError(fatMessage(img, e, dir));
        throw e;
      }
    }
  });
  return 0;
}

async function cmdFsck(p: Parsed, io: ImageCliIo): Promise<number> {
  const [img, extra] = p.positional;
  if (!img || extra !== undefined) throw new UsageError("fsck takes one image path");
  const file = openImage(img, false);
  try {
    let volume: BlockDevice = file;
    try {
      const located = locateFatVolume(file, partitionFlag(p), img);
      for (const w of located.warnings) io.stderr(`warning: ${w}\n`);
      volume = located.device;
    } catch (e) {
      if (e instanceof PartitionError) throw new UsageError(e.message);
      throw e;
    }
    const result = fsck(volume);
    if (p.values.json === true) {
      await io.stdout(`${JSON.stringify({ image: img, ...result }, null, 2)}\n`);
    } else {
      const lines = result.findings.map((f) => `${f.kind}: ${f.message}`);
      if (result.omittedFindings > 0) lines.push(`... and ${result.omittedFindings} more findings`);
      // Warnings do not make the volume unclean (fsck.fat only mentions them), but they are shown.
      for (const w of result.warnings) lines.push(`warning: ${w.kind}: ${w.message}`);
      const s = result.summary;
      if (!s && result.usable)
        lines.push(
          `${img}: exFAT; ${result.clean ? "clean" : `${result.findings.length + result.omittedFindings} finding(s)`}`,
        );
      if (s)
        lines.push(
          `${img}: FAT${s.fatType}, ${s.files} files, ${s.directories} directories, ${s.usedClusters}/${s.clusterCount} clusters used, ${s.lostClusters} lost; ${result.clean ? "clean" : `${result.findings.length + result.omittedFindings} finding(s)`}`,
        );
      await io.stdout(lines.map((l) => `${l}\n`).join(""));
    }
    if (!result.usable) {
      io.stderr(`cardsim image fsck: ${img}: unusable: ${result.findings[0]?.message ?? "no FAT volume"}\n`);
      return 2;
    }
    return result.clean ? 0 : 1;
  } finally {
    file.close();
  }
}

/** Entry point for `cardsim image ...`; returns the process exit code. */
export async function imageMain(args: string[], io: ImageCliIo = processIo): Promise<number> {
  const [sub, ...rest] = args;
  try {
    if (sub === undefined || sub === "-h" || sub === "--help") {
      await io.stdout(USAGE);
      return sub === undefined ? 2 : 0;
    }
    const p = parseArgs(rest);
    switch (sub) {
      case "mkfs":
        return await cmdMkfs(p, io);
      case "ls":
        return await cmdLs(p, io);
      case "cat":
        return await cmdCat(p, io);
      case "put":
        return await cmdPut(p, io);
      case "rm":
        return await cmdRm(p, io);
      case "mkdir":
        return await cmdMkdir(p, io);
      case "fsck":
        return await cmdFsck(p, io);
      default:
        throw new UsageError(`unknown image command '${sub}' (expected mkfs, ls, cat, put, mkdir, rm, fsck)`);
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof CardImageError) {
      io.stderr(`cardsim image ${sub ?? ""}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
