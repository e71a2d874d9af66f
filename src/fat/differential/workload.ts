/**
 * Seeded random FAT workloads run in lockstep on two {@link FatDriver}s (issue 9's differential oracle):
 * format, mount, then create/append/overwrite/seek/truncate/read/rename/unlink/mkdir/stat/readdir/
 * getfree/remount steps with long, short, lower-case, colliding (numeric tail) and invalid names, open
 * files kept across steps, and volumes filled to the last cluster or the last root entry. After every
 * step the two devices' call logs must be equal (kind, block, bytes, CRC), as must the results; at the
 * end, the images. Randomness comes only from the seeded {@link Prng}.
 */
import { crc32 } from "node:zlib";
import { CowBlockDevice } from "../../block/cow-block-device.ts";
import { Prng } from "../../clock/prng.ts";
import type { VirtualClock } from "../../clock/virtual-clock.ts";
import {
  FatError,
  FM,
  type FatDriver,
  type FatEngine,
  type FatFile,
  type MkfsParams,
} from "../fat-engine.ts";
import { describeOp, LoggingBlockDevice, sameOp } from "./logging-device.ts";

/** Outcome of one workload. */
export interface WorkloadOutcome {
  seed: number;
  /** e.g. "FAT16/512" (the type the engines mounted), or "unformatted" when mkfs refused. */
  volume: string;
  steps: number;
  equal: boolean;
  /** First difference: step, what ran, and the two device calls or results. */
  divergence?: string;
  /** Coverage keys "FAT16/512/write", "FAT12/4096/full-volume", ... */
  coverage: Set<string>;
}

interface Side {
  driver: FatDriver;
  cow: CowBlockDevice;
  dev: LoggingBlockDevice;
  engine: FatEngine | null;
  files: (FatFile | null)[];
}

const BASE_NAMES = [
  "A.TXT",
  "FILE12.BIN",
  "readme.txt",
  "ReadMe.Txt",
  "IMG_0001_raw.jpg",
  "A long file name with spaces.jpeg",
  "photo 2025-01-01 12.00.00.jpg",
  "a+b=c.txt",
  "x[1].dat",
  ".hidden",
  " lead.txt",
  "name...",
  "data.json",
  "archive.tar.gz",
  "café.txt",
  "MIXED.case",
  "lower",
  "UPPER",
  "221.pub",
  "1234_5678.enc",
  "e\u00e5\u00c5.bin",
];
const BAD_NAMES = ["a*b", "q?.txt", "pipe|x", "", "x".repeat(256), "co:lon"];

/** Picks a volume geometry and mkfs parameters for `rng`. */
function pickGeometry(rng: Prng): { ss: number; sectors: number; params: MkfsParams } {
  const ss = rng.nextInt(10) < 7 ? 512 : 4096;
  const kind = rng.nextInt(3);
  const n_fat = 1 + rng.nextInt(2);
  const sfd = rng.nextInt(8) === 0 ? 0 : FM.SFD;
  const n_root = rng.nextInt(4) === 0 ? (ss / 32) * (1 + rng.nextInt(4)) : 0;
  if (kind === 0) {
    // FAT12 (or FAT16 when the chosen cluster size gives more clusters): small, often filled.
    const sectors = 128 + rng.nextInt(ss === 512 ? 6000 : 2500);
    const au = rng.nextInt(3) === 0 ? ss << rng.nextInt(4) : 0;
    return { ss, sectors, params: { fmt: FM.FAT | sfd, n_fat, au_size: au, n_root } };
  }
  if (kind === 1) {
    const spc = 1 << rng.nextInt(2);
    const sectors = (4200 + rng.nextInt(ss === 512 ? 40000 : 20000)) * spc;
    return { ss, sectors, params: { fmt: FM.FAT | sfd, n_fat, au_size: ss * spc, n_root } };
  }
  const spc = 1 << rng.nextInt(2);
  const sectors = (65600 + rng.nextInt(6000)) * spc + 200;
  const fmt = rng.nextInt(4) === 0 ? FM.FAT | FM.FAT32 | sfd : FM.FAT32 | sfd;
  return { ss, sectors, params: { fmt, n_fat, au_size: ss * spc, n_root: 0 } };
}

function outcomeOf(fn: () => string): string {
  try {
    return fn();
  } catch (e) {
    if (e instanceof FatError) return `FRESULT ${e.fresult}`;
    return `THROW ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** Runs workload `seed` on drivers `a` and `b` (sharing `clock`) and compares them. */
export function runWorkload(
  seed: number,
  a: FatDriver,
  b: FatDriver,
  clock: VirtualClock,
  maxSteps = 40,
): WorkloadOutcome {
  const rng = new Prng(seed);
  const geo = pickGeometry(rng);
  const sides: Side[] = [a, b].map((driver) => {
    const cow = CowBlockDevice.blank(geo.ss, geo.sectors);
    return { driver, cow, dev: new LoggingBlockDevice(cow), engine: null, files: [] };
  });
  const out: WorkloadOutcome = { seed, volume: "unformatted", steps: 0, equal: true, coverage: new Set() };
  let compared = 0;
  let label = `FAT?/${geo.ss}`;

  const diverge = (what: string, detail: string): WorkloadOutcome => {
    out.equal = false;
    out.divergence = `seed ${seed} step ${out.steps} (${what}): ${detail}`;
    return out;
  };
  /** Compares the device calls made since the last check. */
  const checkLogs = (what: string): string | null => {
    const [la, lb] = [sides[0].dev.ops, sides[1].dev.ops];
    const n = Math.max(la.length, lb.length);
    for (let i = compared; i < n; i++) {
      if (!la[i] || !lb[i] || !sameOp(la[i], lb[i]))
        return `${what}: device call #${i}: ${a.name}: ${describeOp(la[i])} | ${b.name}: ${describeOp(lb[i])}`;
    }
    compared = n;
    return null;
  };
  /** Runs `fn` on both sides; results and device calls must agree. */
  const both = (what: string, fn: (s: Side) => string): string | null => {
    const ra = outcomeOf(() => fn(sides[0]));
    const rb = outcomeOf(() => fn(sides[1]));
    if (ra !== rb) return `${what}: result ${a.name}: ${ra} | ${b.name}: ${rb}`;
    const d = checkLogs(what);
    if (d) return d;
    out.coverage.add(`${label}/${what.split(" ")[0]}`);
    return ra.startsWith("THROW") ? `${what}: both threw ${ra}` : null;
  };

  // Format and mount.
  const d = both("mkfs", (s) => {
    s.driver.mkfs(s.dev, geo.params);
    return "ok";
  });
  if (d) return diverge("mkfs", d);
  const mounted = both("mount", (s) => {
    s.engine = s.driver.mount(s.dev);
    return "ok";
  });
  if (mounted) return diverge("mount", mounted);
  if (!sides[0].engine || !sides[1].engine) {
    out.coverage.add(`unformatted/${geo.ss}/mkfs-refused`);
    return out;
  }
  const info = both("getfree", (s) => JSON.stringify(s.engine!.volumeInfo()));
  if (info) return diverge("getfree", info);
  const vi = sides[0].engine.volumeInfo();
  label = `${vi.fatType}/${geo.ss}`;
  out.volume = label;
  out.coverage = new Set([...out.coverage].map((k) => k.replace(/^FAT\?\/\d+/, label)));

  const clusterBytes = vi.clusterSectors * vi.sectorSize;
  const dirs = ["/"];
  const files: string[] = [];
  const small = geo.sectors * geo.ss <= 8 * 1024 * 1024;
  const join = (dir: string, name: string): string => (dir === "/" ? `/${name}` : `${dir}/${name}`);
  const pickName = (): string => {
    const r = rng.nextInt(20);
    if (r < 2) return BAD_NAMES[rng.nextInt(BAD_NAMES.length)];
    if (r < 6) return `Long Name Series ${rng.nextInt(12)}.txt`;
    if (r < 9) return `F${rng.nextInt(200)}.DAT`;
    if (r < 11) return `photo_${rng.nextInt(100)}_raw.jpg`;
    return BASE_NAMES[rng.nextInt(BASE_NAMES.length)];
  };
  const pickPath = (): string => {
    if (files.length > 0 && rng.nextInt(3) > 0) return files[rng.nextInt(files.length)];
    return join(dirs[rng.nextInt(dirs.length)], pickName());
  };
  const data = (n: number): Uint8Array => rng.fill(new Uint8Array(n));
  const size = (): number => {
    const r = rng.nextInt(10);
    if (r < 3) return rng.nextInt(geo.ss * 2);
    if (r < 7) return rng.nextInt(clusterBytes * 3 + 1);
    if (r < 9) return rng.nextInt(clusterBytes * 12 + 1);
    return rng.nextInt(300_000);
  };
  const remember = (p: string, isDir: boolean): void => {
    const list = isDir ? dirs : files;
    if (!list.includes(p)) list.push(p);
  };
  const forget = (p: string): void => {
    for (const list of [files, dirs]) {
      const i = list.indexOf(p);
      if (i > 0 || (i === 0 && list === files)) list.splice(i, 1);
    }
  };
  /** What the path is now, asked of both engines alike: "d", "f" or "FRESULT n". */
  const probe = (p: string): string => {
    let seen = "";
    const res = both(
      `probe ${p}`,
      (s) => (seen = outcomeOf(() => (s.engine!.stat(p).isDirectory ? "d" : "f"))),
    );
    if (res) throw new Error(res);
    return seen;
  };
  const crcOf = (buf: Uint8Array, n: number): string => `${n}:${crc32(buf.subarray(0, n)).toString(16)}`;

  try {
    const early = steps();
    if (early) return early;
  } catch (e) {
    return diverge("probe", e instanceof Error ? e.message : String(e));
  }
  return finish();

  function steps(): WorkloadOutcome | null {
    for (let step = 0; step < maxSteps; step++) {
      out.steps = step + 1;
      clock.advance(rng.nextInt(5_000_000));
      const r = rng.nextInt(100);
      let what: string;
      let fn: (s: Side) => string;
      if (r < 18) {
        const p = join(dirs[rng.nextInt(dirs.length)], pickName());
        const disp = (["create-always", "create-new", "open-always", "open-append"] as const)[rng.nextInt(4)];
        const body = data(size());
        const keep = rng.nextInt(5) === 0 && sides[0].files.length < 3;
        what = `create ${p} ${disp} ${body.length}${keep ? " keep" : ""}`;
        fn = (s) => {
          const f = s.engine!.open(p, { read: true, write: true, disposition: disp });
          const n = f.write(body);
          if (keep) s.files.push(f);
          else f.close();
          return `wrote ${n}`;
        };
        const res = both(what, fn);
        if (res) return diverge(what, res);
        if (probe(p) === "f") remember(p, false);
        if (body.length > 0) out.coverage.add(`${label}/write`);
        continue;
      }
      if (r < 26 && sides[0].files.length > 0) {
        const i = rng.nextInt(sides[0].files.length);
        const op = rng.nextInt(4);
        const body = data(size());
        const pos = rng.nextInt(clusterBytes * 4);
        what = ["open-write", "open-sync", "open-close", "open-seek-write"][op] + ` #${i}`;
        fn = (s) => {
          const f = s.files[i]!;
          if (op === 0) return `wrote ${f.write(body)}`;
          if (op === 1) {
            f.sync();
            return "synced";
          }
          if (op === 2) {
            s.files.splice(i, 1);
            f.close();
            return "closed";
          }
          f.seek(pos);
          return `wrote ${f.write(body)} at ${f.tell()} size ${f.size()}`;
        };
        const res = both(what, fn);
        if (res) return diverge(what, res);
        continue;
      }
      if (r < 52) {
        const p = pickPath();
        const kind = rng.nextInt(4);
        const pos = rng.nextInt(clusterBytes * 5 + 10);
        const body = data(size());
        const extendBy = rng.nextInt(4) === 0 ? 0 : Math.min(body.length, 700);
        what = `${["append", "overwrite", "seek-extend", "truncate"][kind]} ${p}`;
        fn = (s) => {
          const disp = kind === 0 ? "open-append" : "open-existing";
          const f = s.engine!.open(p, { read: true, write: true, disposition: disp });
          let n = 0;
          if (kind === 1) {
            f.seek(Math.min(pos, f.size()));
            n = f.write(body);
          } else if (kind === 2) {
            f.seek(f.size() + pos);
            n = f.write(body.subarray(0, extendBy));
          } else if (kind === 3) {
            f.seek(Math.min(pos, f.size()));
            f.truncate();
          } else {
            n = f.write(body);
          }
          const res = `n ${n} size ${f.size()} at ${f.tell()}`;
          f.close();
          return res;
        };
        const res = both(what, fn);
        if (res) return diverge(what, res);
        continue;
      }
      if (r < 62) {
        const p = pickPath();
        const pos = rng.nextInt(clusterBytes * 2);
        const len = rng.nextInt(4) === 0 ? rng.nextInt(700) : 1 << 21;
        what = `read ${p}`;
        fn = (s) => {
          const f = s.engine!.open(p, { read: true, write: false, disposition: "open-existing" });
          if (pos < f.size()) f.seek(pos);
          const buf = new Uint8Array(Math.min(len, f.size()));
          const n = f.read(buf);
          f.close();
          return crcOf(buf, n);
        };
        const res = both(what, fn);
        if (res) return diverge(what, res);
        continue;
      }
      if (r < 70) {
        const from =
          rng.nextInt(3) === 0 && dirs.length > 1 ? dirs[1 + rng.nextInt(dirs.length - 1)] : pickPath();
        const to = rng.nextInt(4) === 0 ? pickPath() : join(dirs[rng.nextInt(dirs.length)], pickName());
        what = `rename ${from} -> ${to}`;
        const res = both(what, (s) => {
          s.engine!.rename(from, to);
          return "ok";
        });
        if (res) return diverge(what, res);
        const st = probe(to);
        if (st === "f" || st === "d") {
          forget(from);
          if (st === "d") dirs.splice(0, dirs.length, "/"); // paths below moved; start over
          remember(to, st === "d");
        }
        continue;
      }
      if (r < 76) {
        const p =
          rng.nextInt(4) === 0 && dirs.length > 1 ? dirs[1 + rng.nextInt(dirs.length - 1)] : pickPath();
        what = `unlink ${p}`;
        const res = both(what, (s) => {
          s.engine!.unlink(p);
          return "ok";
        });
        if (res) return diverge(what, res);
        if (probe(p).startsWith("FRESULT")) forget(p);
        continue;
      }
      if (r < 82) {
        const p = join(
          dirs[rng.nextInt(dirs.length)],
          rng.nextInt(3) === 0 ? pickName() : `dir${rng.nextInt(30)}`,
        );
        what = `mkdir ${p}`;
        const res = both(what, (s) => {
          s.engine!.mkdir(p);
          return "ok";
        });
        if (res) return diverge(what, res);
        if (probe(p) === "d") remember(p, true);
        continue;
      }
      if (r < 86) {
        const p = rng.nextInt(2) === 0 ? dirs[rng.nextInt(dirs.length)] : pickPath();
        what = `stat+readdir ${p}`;
        const res = both(what, (s) => {
          const st = s.engine!.stat(p);
          const list = st.isDirectory ? s.engine!.readdir(p) : [];
          return JSON.stringify([st, list]);
        });
        if (res) return diverge(what, res);
        continue;
      }
      if (r < 89) {
        what = "getfree";
        const res = both(what, (s) => JSON.stringify(s.engine!.volumeInfo()));
        if (res) return diverge(what, res);
        continue;
      }
      if (r < 92) {
        what = "remount";
        const res = both(what, (s) => {
          s.engine!.unmount();
          s.files = [];
          s.engine = s.driver.mount(s.dev);
          return "ok";
        });
        if (res) return diverge(what, res);
        continue;
      }
      if (r < 96) {
        // Many long names with one prefix: numeric tails ~1..~5, then FatFs's hashed tails.
        const dir = dirs[rng.nextInt(dirs.length)];
        const count = 3 + rng.nextInt(8);
        what = `tails ${dir} x${count}`;
        const res = both(what, (s) => {
          const names: string[] = [];
          for (let k = 0; k < count; k++) {
            const p = join(dir, `Series Of Long Names ${k}.jpeg`);
            const f = s.engine!.open(p, { read: false, write: true, disposition: "create-always" });
            f.write(new Uint8Array([k]));
            f.close();
            names.push(s.engine!.stat(p).shortName);
          }
          return names.join(",");
        });
        if (res) return diverge(what, res);
        if (count > 5) out.coverage.add(`${label}/hashed-tail`);
        continue;
      }
      // Fill the volume (file data) or the directory (entries) to its end.
      if (small || rng.nextInt(8) === 0) {
        const dirFill = rng.nextInt(2) === 0;
        const longNames = rng.nextInt(5) === 0;
        const dir = dirs[rng.nextInt(dirs.length)];
        what = dirFill ? `fill-dir ${dir}` : "fill-volume";
        const chunk = data(clusterBytes * (1 + rng.nextInt(4)) + rng.nextInt(geo.ss));
        const filler = join(dir, `filler ${rng.nextInt(1000)}.bin`);
        const res = both(what, (s) => {
          const e = s.engine!;
          if (dirFill) {
            let k = 0;
            for (; k < (longNames ? 120 : 700); k++) {
              try {
                e.open(join(dir, longNames ? `entry with a long name ${k}.bin` : `E${k}.B`), {
                  read: false,
                  write: true,
                  disposition: "create-new",
                }).close();
              } catch (err) {
                return `stopped at ${k}: ${err instanceof FatError ? err.fresult : String(err)}`;
              }
            }
            return `all ${k}`;
          }
          const f = e.open(filler, {
            read: false,
            write: true,
            disposition: "open-append",
          });
          let total = 0;
          // Large volumes: a seek to 4 GiB - 1 makes FatFs stretch the chain over every free cluster
          // (FAT writes only), then the write finds the volume full.
          if (!small) f.seek(0xffffffff);
          for (;;) {
            const n = f.write(chunk);
            total += n;
            if (n < chunk.length) break;
          }
          const filled = `filled ${total} size ${f.size()}`;
          f.close();
          return `${filled} free ${e.volumeInfo().freeClusters}`;
        });
        if (res) return diverge(what, res);
        out.coverage.add(`${label}/full-volume`);
        continue;
      }
    }
    return null;
  }

  function finish(): WorkloadOutcome {
    // Unmount (no flush) and compare the images block by block.
    const end = both("unmount", (s) => {
      s.engine?.unmount();
      return "ok";
    });
    if (end) return diverge("unmount", end);
    const [ca, cb] = [sides[0].cow, sides[1].cow];
    const blocks = new Set([...ca.changedBlocks(), ...cb.changedBlocks()]);
    for (const blk of blocks) {
      const x = ca.block(blk);
      const y = cb.block(blk);
      if (crc32(x) !== crc32(y) || !x.every((v, i) => v === y[i]))
        return diverge("final image", `block ${blk} differs`);
    }
    return out;
  }
}
