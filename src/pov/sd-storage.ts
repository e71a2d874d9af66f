/**
 * The seed's `SDStorageManager` (002) on the simulated card: every call goes through the MicroPython-
 * semantics VFS (src/vfs) on a {@link FatDriver}, so the shared stack's faults, write log and file
 * histories see it. The FAT engine is whatever driver is passed in (configuration, not code): today
 * the default js-fatfs driver, later our own engine's `sdfat` write-order mode (README.md, deviations).
 *
 * Behaviour the seed leaves open is settled in README.md; in short: images live in `imageDir`
 * (default `/poi_images`), presets in `/poi_patterns`, both created on first save; at most
 * `maxFiles` (10) files per directory are saved (an 11th name → SD_ERROR_DISK_FULL); names are
 * 1..59 characters of `A-Z a-z 0-9 _ -` plus the extension; `SD_CACHE_SIZE` images stay in RAM.
 */
import type { BlockDevice } from "../block/block-device.ts";
import type { FatDriver } from "../fat/fat-engine.ts";
import { MP_ERRNO, isOSError, mountFatVolume, S_IFDIR, type Vfs } from "../vfs/index.ts";
import { PovFormatError } from "./format-error.ts";
import { decodePat, encodePat, type Pattern } from "./pat-format.ts";
import { POV_HEADER_BYTES, decodePov, decodePovHeader, encodePov, type PovVariant } from "./pov-format.ts";
import { SDError, sdErrorName, sdErrorString, type SDErrorCode } from "./sd-error.ts";

/** The firmware's storage settings (`config.h` and the values README.md settles). */
export interface SdStorageConfig {
  /** `SD_IMAGE_DIR`: where `.pov` images go (default `/poi_images`, the seed's directory map). */
  readonly imageDir: string;
  /** Where `.pat` presets go. */
  readonly patternDir: string;
  /** `MAX_SD_FILES`: files per directory a save may create. */
  readonly maxFiles: number;
  /** `SD_CACHE_SIZE`: decoded images kept in RAM (LRU). */
  readonly cacheSize: number;
  /** `as-designed` (the seed) or `hardened` (CRC in the header, temporary file + rename). */
  readonly variant: PovVariant;
}

export const DEFAULT_SD_STORAGE_CONFIG: SdStorageConfig = {
  imageDir: "/poi_images",
  patternDir: "/poi_patterns",
  maxFiles: 10,
  cacheSize: 2,
  variant: "as-designed",
};

/** Longest name the seed's `char filenames[][64]` holds, NUL excluded. */
export const MAX_FILENAME_CHARS = 63;
/** Suffix of the hardened variant's temporary files. */
export const TEMP_SUFFIX = ".tmp";

/** What the manager needs from the board. */
export interface SdStorageDeps {
  /** The VFS the board's file operations go through (observed by the stack's file histories). */
  readonly vfs: Vfs;
  /** The card as the SD driver sees it. */
  readonly card: BlockDevice;
  /** The FAT implementation (the engine is configuration). */
  readonly fat: FatDriver;
  /** Where the card's volume is mounted in {@link vfs} (SdFat's `/` is this path). */
  readonly mountPoint: string;
  /** Card detect: false while the card is out of its slot (or without power). */
  readonly cardDetect: () => boolean;
  /** `Serial.println`. */
  readonly log: (line: string) => void;
}

/** Result of {@link SDStorageManager.loadImage}. */
export interface LoadResult {
  readonly error: SDErrorCode;
  readonly width: number;
  readonly height: number;
}

/** Result of {@link SDStorageManager.getImageInfo}. */
export interface ImageInfo extends LoadResult {
  readonly fileSize: number;
}

const NAME = /^[A-Za-z0-9_-]{1,59}$/;

/** Splits `heart` / `heart.pov` into the base name, or null when the name breaks the rules. */
export function baseNameOf(filename: string, extension: ".pov" | ".pat"): string | null {
  const lower = filename.toLowerCase();
  const base = lower.endsWith(extension) ? filename.slice(0, -extension.length) : filename;
  return NAME.test(base) ? base : null;
}

class StorageFailure extends Error {
  constructor(
    readonly code: SDErrorCode,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/**
 * The name `<base><extension>` the firmware stores `filename` under; a name that breaks the rules
 * fails the call with SD_ERROR_INVALID_FILENAME (the one place of that rule).
 */
function storedNameOf(filename: string, extension: ".pov" | ".pat"): string {
  const base = baseNameOf(filename, extension);
  if (base === null) throw new StorageFailure(SDError.SD_ERROR_INVALID_FILENAME, "");
  return `${base}${extension}`;
}

export class SDStorageManager {
  private mounted = false;
  private lastError: SDErrorCode = SDError.SD_OK;
  /** LRU: most recently used last. */
  private readonly cache = new Map<string, { width: number; height: number; pixels: Uint8Array }>();

  constructor(
    private readonly deps: SdStorageDeps,
    readonly config: SdStorageConfig = DEFAULT_SD_STORAGE_CONFIG,
  ) {}

  private path(dir: string, name: string): string {
    const root = this.deps.mountPoint === "/" ? "" : this.deps.mountPoint;
    return `${root}${dir}/${name}`;
  }

  private dirPath(dir: string): string {
    return `${this.deps.mountPoint === "/" ? "" : this.deps.mountPoint}${dir}`;
  }

  private set(code: SDErrorCode, what?: string): SDErrorCode {
    this.lastError = code;
    if (code !== SDError.SD_OK && what !== undefined)
      this.deps.log(`SD: ${what}: ${sdErrorName(code)} (${sdErrorString(code)})`);
    return code;
  }

  /** A device error: is the card still there? If not, the volume is gone until the next begin(). */
  private deviceFailure(e: unknown, fallback: SDErrorCode): StorageFailure {
    if (!this.deps.cardDetect()) {
      this.dropVolume();
      return new StorageFailure(SDError.SD_ERROR_CARD_NOT_PRESENT, "card removed");
    }
    if (isOSError(e, MP_ERRNO.ENOSPC)) return new StorageFailure(SDError.SD_ERROR_DISK_FULL, "volume full");
    if (e instanceof Error && !isOSError(e)) throw e;
    return new StorageFailure(fallback, e instanceof Error ? e.message : String(e));
  }

  private dropVolume(): void {
    this.cache.clear();
    if (!this.mounted) return;
    this.mounted = false;
    const vfs = this.deps.vfs;
    if (vfs.mountPoints().includes(this.deps.mountPoint)) {
      const volume = vfs.volumeAt(this.deps.mountPoint);
      // Abandon, don't flush: the card is gone (as SdFat's state after a failed CMD).
      volume?.engine.unmount();
      try {
        vfs.umount(this.deps.mountPoint);
      } catch {
        // already unmounted
      }
    }
  }

  /** The guards every call starts with. */
  private ready(): void {
    if (!this.mounted) throw new StorageFailure(SDError.SD_ERROR_NOT_INITIALIZED, "not initialized");
    if (!this.deps.cardDetect()) {
      this.dropVolume();
      throw new StorageFailure(SDError.SD_ERROR_CARD_NOT_PRESENT, "no card");
    }
  }

  private run<T>(what: string, fn: () => T, onError: (code: SDErrorCode) => T): T {
    try {
      const out = fn();
      this.lastError = SDError.SD_OK;
      return out;
    } catch (e) {
      if (!(e instanceof StorageFailure)) throw e;
      this.set(e.code, `${what}${e.detail ? ` (${e.detail})` : ""}`);
      return onError(e.code);
    }
  }

  /**
   * `SD.begin(BUILTIN_SDCARD)`: mounts the card's FAT or exFAT volume (SdFat's SdFs reads both). On
   * an engine built without exFAT (js-fatfs) an exFAT card is refused with "exFAT not supported by
   * <engine>". The hardened variant then finishes or discards interrupted saves (`*.pov.tmp`).
   */
  begin(): boolean {
    this.dropVolume();
    if (!this.deps.cardDetect()) {
      this.set(SDError.SD_ERROR_CARD_NOT_PRESENT, "begin");
      return false;
    }
    const fs = detectFilesystem(this.deps.card);
    try {
      mountFatVolume(this.deps.vfs, this.deps.card, this.deps.fat, this.deps.mountPoint);
    } catch (e) {
      if (!isOSError(e)) throw e;
      if (fs === "exfat") {
        this.deps.log(`SD: exFAT not supported by ${this.deps.fat.name} (use engine ts-fatfs)`);
        this.set(SDError.SD_ERROR_NOT_INITIALIZED);
        return false;
      }
      const code = isOSError(e, MP_ERRNO.ENODEV)
        ? SDError.SD_ERROR_NOT_INITIALIZED
        : SDError.SD_ERROR_CARD_NOT_PRESENT;
      this.set(code, `begin (${fs === "none" ? "no FAT volume" : e.str()})`);
      return false;
    }
    this.mounted = true;
    this.lastError = SDError.SD_OK;
    if (this.config.variant === "hardened") this.recoverTemporaries();
    this.deps.log(`SD: card mounted (${this.deps.fat.name})`);
    return true;
  }

  /** Hardened: a complete temporary whose image is missing becomes the image; any other is removed. */
  private recoverTemporaries(): void {
    const vfs = this.deps.vfs;
    let names: string[];
    try {
      names = vfs.listdir(this.dirPath(this.config.imageDir));
    } catch {
      return;
    }
    for (const tmp of names.filter((n) => n.toLowerCase().endsWith(`.pov${TEMP_SUFFIX}`))) {
      const tmpPath = this.path(this.config.imageDir, tmp);
      const finalPath = tmpPath.slice(0, -TEMP_SUFFIX.length);
      try {
        let valid = false;
        try {
          decodePov(
            vfs.open(tmpPath, "rb").with((f) => f.read()),
            { variant: "hardened" },
          );
          valid = true;
        } catch (e) {
          if (!(e instanceof PovFormatError)) throw e;
        }
        if (valid && !this.exists(finalPath)) {
          vfs.rename(tmpPath, finalPath);
          this.deps.log(`SD: recovered ${tmp.slice(0, -TEMP_SUFFIX.length)} from an interrupted save`);
        } else {
          vfs.remove(tmpPath);
          this.deps.log(`SD: removed ${tmp} (an interrupted save)`);
        }
      } catch (e) {
        if (!isOSError(e)) throw e;
        this.deps.log(`SD: could not recover ${tmp}: ${e.str()}`);
      }
    }
  }

  private exists(path: string): boolean {
    try {
      this.deps.vfs.stat(path);
      return true;
    } catch (e) {
      if (isOSError(e, MP_ERRNO.ENOENT)) return false;
      throw e;
    }
  }

  private ensureDir(dir: string): void {
    const p = this.dirPath(dir);
    try {
      if (this.exists(p)) return;
      this.deps.vfs.mkdir(p);
      this.deps.log(`SD: created ${dir}`);
    } catch (e) {
      throw this.deviceFailure(e, SDError.SD_ERROR_FILE_WRITE_FAILED);
    }
  }

  private countFiles(dir: string, extension: string): string[] {
    try {
      return this.deps.vfs
        .ilistdir(this.dirPath(dir))
        .filter((e) => (e[1] & S_IFDIR) === 0 && e[0].toLowerCase().endsWith(extension))
        .map((e) => e[0]);
    } catch (e) {
      if (isOSError(e, MP_ERRNO.ENOENT)) return [];
      throw this.deviceFailure(e, SDError.SD_ERROR_FILE_READ_FAILED);
    }
  }

  /** Writes `bytes` as `dir/name`: in place (as designed) or through a temporary and a rename (hardened). */
  private writeFile(dir: string, name: string, bytes: Uint8Array, parts: readonly number[]): void {
    const vfs = this.deps.vfs;
    const finalPath = this.path(dir, name);
    const hardened = this.config.variant === "hardened";
    const target = hardened ? finalPath + TEMP_SUFFIX : finalPath;
    let f;
    try {
      f = vfs.open(target, "wb");
    } catch (e) {
      throw this.deviceFailure(e, SDError.SD_ERROR_FILE_OPEN_FAILED);
    }
    try {
      // One write per part, as the firmware writes the header struct, then the pixel buffer.
      let at = 0;
      for (const n of parts) {
        f.write(bytes.subarray(at, at + n));
        at += n;
      }
      f.close();
    } catch (e) {
      try {
        f.close();
      } catch {
        // the close of a failed file fails too: the handle is released either way
      }
      throw this.deviceFailure(e, SDError.SD_ERROR_FILE_WRITE_FAILED);
    }
    if (!hardened) return;
    try {
      if (this.exists(finalPath)) vfs.remove(finalPath);
      vfs.rename(target, finalPath);
    } catch (e) {
      throw this.deviceFailure(e, SDError.SD_ERROR_FILE_WRITE_FAILED);
    }
  }

  private checkRoom(dir: string, extension: string, name: string): void {
    const existing = this.countFiles(dir, extension);
    if (
      !existing.some((n) => n.toLowerCase() === name.toLowerCase()) &&
      existing.length >= this.config.maxFiles
    )
      throw new StorageFailure(
        SDError.SD_ERROR_DISK_FULL,
        `${dir} already holds ${existing.length} files (MAX_SD_FILES ${this.config.maxFiles})`,
      );
  }

  /** `saveImage(filename, imageData, width, height)`: RGB, width*height*3 bytes. */
  saveImage(filename: string, imageData: Uint8Array, width: number, height: number): SDErrorCode {
    return this.run(
      `saveImage ${filename}`,
      () => {
        this.ready();
        const name = storedNameOf(filename, ".pov");
        const dataSize = width * height * 3;
        if (
          !(width >= 1 && width <= 0xffff && height >= 1 && height <= 0xffff) ||
          imageData.length < dataSize
        )
          throw new StorageFailure(SDError.SD_ERROR_INVALID_FORMAT, `${width}x${height}`);
        this.ensureDir(this.config.imageDir);
        this.checkRoom(this.config.imageDir, ".pov", name);
        const file = encodePov(
          { width, height, pixels: imageData.subarray(0, dataSize) },
          this.config.variant,
        );
        this.cache.delete(name.toLowerCase());
        this.writeFile(this.config.imageDir, name, file, [POV_HEADER_BYTES, dataSize]);
        this.deps.log(`SD: saved ${this.config.imageDir}/${name} (${width}x${height}, ${file.length} bytes)`);
        return SDError.SD_OK;
      },
      (code) => code,
    );
  }

  /** Reads and validates the file; throws StorageFailure. */
  private readImage(
    name: string,
    maxBufferSize: number,
  ): { width: number; height: number; pixels: Uint8Array } {
    const vfs = this.deps.vfs;
    const path = this.path(this.config.imageDir, name);
    let f;
    try {
      f = vfs.open(path, "rb");
    } catch (e) {
      if (isOSError(e, MP_ERRNO.ENOENT)) throw new StorageFailure(SDError.SD_ERROR_FILE_NOT_FOUND, "");
      throw this.deviceFailure(e, SDError.SD_ERROR_FILE_OPEN_FAILED);
    }
    try {
      const size = vfs.stat(path)[6];
      const head = f.read(POV_HEADER_BYTES);
      let header;
      try {
        header = decodePovHeader(head, { file: name, variant: this.config.variant, fileLength: size });
      } catch (e) {
        if (e instanceof PovFormatError) throw new StorageFailure(SDError.SD_ERROR_INVALID_FORMAT, e.message);
        throw e;
      }
      if (header.dataSize > maxBufferSize)
        throw new StorageFailure(
          SDError.SD_ERROR_OUT_OF_MEMORY,
          `${header.dataSize} bytes of pixels, buffer ${maxBufferSize}`,
        );
      const pixels = f.read(header.dataSize);
      if (pixels.length !== header.dataSize)
        throw new StorageFailure(SDError.SD_ERROR_FILE_READ_FAILED, `short read ${pixels.length}`);
      if (this.config.variant === "hardened") {
        const whole = new Uint8Array(POV_HEADER_BYTES + pixels.length);
        whole.set(head);
        whole.set(pixels, POV_HEADER_BYTES);
        try {
          decodePov(whole, { file: name, variant: "hardened" });
        } catch (e) {
          if (e instanceof PovFormatError)
            throw new StorageFailure(SDError.SD_ERROR_INVALID_FORMAT, e.message);
          throw e;
        }
      }
      return { width: header.width, height: header.height, pixels };
    } catch (e) {
      if (e instanceof StorageFailure) throw e;
      throw this.deviceFailure(e, SDError.SD_ERROR_FILE_READ_FAILED);
    } finally {
      try {
        f.close();
      } catch {
        // a read-only close writes nothing
      }
    }
  }

  /**
   * `loadImage(filename, buffer, maxBufferSize, width&, height&)`: the pixels go to `buffer`. A buffer
   * smaller than the image → SD_ERROR_OUT_OF_MEMORY. Served from the image cache when present.
   */
  loadImage(filename: string, buffer: Uint8Array, maxBufferSize: number): LoadResult {
    const none = (error: SDErrorCode): LoadResult => ({ error, width: 0, height: 0 });
    return this.run(
      `loadImage ${filename}`,
      () => {
        this.ready();
        const name = storedNameOf(filename, ".pov");
        const key = name.toLowerCase();
        let img = this.cache.get(key);
        const limit = Math.min(maxBufferSize, buffer.length);
        if (img && img.pixels.length > limit)
          throw new StorageFailure(SDError.SD_ERROR_OUT_OF_MEMORY, `buffer ${limit} bytes`);
        if (img) this.cache.delete(key);
        else img = this.readImage(name, limit);
        this.cache.set(key, img);
        while (this.cache.size > this.config.cacheSize) this.cache.delete(this.cache.keys().next().value!);
        buffer.set(img.pixels);
        return { error: SDError.SD_OK, width: img.width, height: img.height };
      },
      none,
    );
  }

  /** True when the image's decoded pixels are in the RAM cache (tests, the engine's log). */
  isCached(filename: string): boolean {
    const base = baseNameOf(filename, ".pov");
    return base !== null && this.cache.has(`${base}.pov`.toLowerCase());
  }

  deleteImage(filename: string): SDErrorCode {
    return this.run(
      `deleteImage ${filename}`,
      () => {
        this.ready();
        const name = storedNameOf(filename, ".pov");
        this.cache.delete(name.toLowerCase());
        try {
          this.deps.vfs.remove(this.path(this.config.imageDir, name));
        } catch (e) {
          if (isOSError(e, MP_ERRNO.ENOENT)) throw new StorageFailure(SDError.SD_ERROR_FILE_NOT_FOUND, "");
          throw this.deviceFailure(e, SDError.SD_ERROR_FILE_WRITE_FAILED);
        }
        this.deps.log(`SD: deleted ${this.config.imageDir}/${name}`);
        return SDError.SD_OK;
      },
      (code) => code,
    );
  }

  imageExists(filename: string): boolean {
    return this.run(
      `imageExists ${filename}`,
      () => {
        this.ready();
        const name = storedNameOf(filename, ".pov");
        try {
          return this.exists(this.path(this.config.imageDir, name));
        } catch (e) {
          throw this.deviceFailure(e, SDError.SD_ERROR_FILE_READ_FAILED);
        }
      },
      () => false,
    );
  }

  /** `listImages(filenames, maxFiles)`: `.pov` names in directory order, at most `maxFiles`. */
  listImages(maxFiles: number): string[] {
    return this.run(
      "listImages",
      () => {
        this.ready();
        return this.countFiles(this.config.imageDir, ".pov")
          .filter((n) => n.length <= MAX_FILENAME_CHARS)
          .slice(0, Math.max(0, maxFiles));
      },
      () => [],
    );
  }

  /** `getImageInfo(filename, width&, height&, fileSize&)`: the header only. */
  getImageInfo(filename: string): ImageInfo {
    return this.run<ImageInfo>(
      `getImageInfo ${filename}`,
      () => {
        this.ready();
        const name = storedNameOf(filename, ".pov");
        const path = this.path(this.config.imageDir, name);
        let size: number;
        let head: Uint8Array;
        try {
          size = this.deps.vfs.stat(path)[6];
          head = this.deps.vfs.open(path, "rb").with((f) => f.read(POV_HEADER_BYTES));
        } catch (e) {
          if (isOSError(e, MP_ERRNO.ENOENT)) throw new StorageFailure(SDError.SD_ERROR_FILE_NOT_FOUND, "");
          throw this.deviceFailure(e, SDError.SD_ERROR_FILE_READ_FAILED);
        }
        try {
          const h = decodePovHeader(head, {
            file: name,
            variant: this.config.variant,
            fileLength: size,
          });
          return { error: SDError.SD_OK, width: h.width, height: h.height, fileSize: size };
        } catch (e) {
          if (e instanceof PovFormatError)
            throw new StorageFailure(SDError.SD_ERROR_INVALID_FORMAT, e.message);
          throw e;
        }
      },
      (error) => ({ error, width: 0, height: 0, fileSize: 0 }),
    );
  }

  private statvfs(): readonly number[] | null {
    if (!this.mounted || !this.deps.cardDetect()) return null;
    try {
      return this.deps.vfs.statvfs(this.deps.mountPoint);
    } catch {
      return null;
    }
  }

  /** Card capacity in bytes (the volume's clusters); 0 without a card. */
  getTotalSpace(): number {
    const s = this.statvfs();
    return s ? s[1] * s[2] : 0;
  }

  /** Free bytes (free clusters); 0 without a card. */
  getFreeSpace(): number {
    const s = this.statvfs();
    return s ? s[1] * s[3] : 0;
  }

  /** Card present and mounted. */
  isCardPresent(): boolean {
    return this.mounted && this.deps.cardDetect();
  }

  /** `savePatternPreset(name)`: `/poi_patterns/<name>.pat`. */
  savePatternPreset(name: string, patterns: readonly Pattern[]): SDErrorCode {
    return this.run(
      `savePatternPreset ${name}`,
      () => {
        this.ready();
        const file = storedNameOf(name, ".pat");
        let bytes: Uint8Array;
        try {
          bytes = encodePat(patterns);
        } catch (e) {
          throw new StorageFailure(SDError.SD_ERROR_INVALID_FORMAT, (e as Error).message);
        }
        this.ensureDir(this.config.patternDir);
        this.checkRoom(this.config.patternDir, ".pat", file);
        this.writeFile(this.config.patternDir, file, bytes, [bytes.length]);
        this.deps.log(`SD: saved ${this.config.patternDir}/${file} (${patterns.length} patterns)`);
        return SDError.SD_OK;
      },
      (code) => code,
    );
  }

  /** `loadPatternPreset(name)`. */
  loadPatternPreset(name: string): { error: SDErrorCode; patterns: Pattern[] } {
    return this.run<{ error: SDErrorCode; patterns: Pattern[] }>(
      `loadPatternPreset ${name}`,
      () => {
        this.ready();
        const file = storedNameOf(name, ".pat");
        let bytes: Uint8Array;
        try {
          bytes = this.deps.vfs.open(this.path(this.config.patternDir, file), "rb").with((f) => f.read());
        } catch (e) {
          if (isOSError(e, MP_ERRNO.ENOENT)) throw new StorageFailure(SDError.SD_ERROR_FILE_NOT_FOUND, "");
          throw this.deviceFailure(e, SDError.SD_ERROR_FILE_READ_FAILED);
        }
        try {
          return { error: SDError.SD_OK, patterns: decodePat(bytes, { file }) };
        } catch (e) {
          if (e instanceof PovFormatError)
            throw new StorageFailure(SDError.SD_ERROR_INVALID_FORMAT, e.message);
          throw e;
        }
      },
      (error) => ({ error, patterns: [] }),
    );
  }

  getLastError(): SDErrorCode {
    return this.lastError;
  }

  getErrorString(error: number): string {
    return sdErrorString(error);
  }
}

/** What sector 0 (or the first partition's first sector) holds: a FAT boot sector, exFAT, or neither. */
export function detectFilesystem(card: BlockDevice): "fat" | "exfat" | "none" {
  const s = new Uint8Array(512);
  if (card.readblocks(0, s) !== 0) return "none";
  const isExfat = (b: Uint8Array) => new TextDecoder().decode(b.subarray(3, 11)) === "EXFAT   ";
  if (isExfat(s)) return "exfat";
  const sig = s[510] === 0x55 && s[511] === 0xaa;
  // An MBR whose first partition is type 0x07 (exFAT/NTFS): look at that partition's boot sector.
  if (sig && s[0x1c2] === 0x07) {
    const lba = new DataView(s.buffer).getUint32(0x1c6, true);
    const p = new Uint8Array(512);
    if (card.readblocks(lba, p) === 0 && isExfat(p)) return "exfat";
  }
  return sig ? "fat" : "none";
}
