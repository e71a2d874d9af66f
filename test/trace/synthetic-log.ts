/** A large synthetic block log (writes, reads, a sync every 10th op) for the reader's test and bench. */
import { crc32 } from "node:zlib";
import { WriteLog } from "../../src/trace/index.ts";

/** `ops` operations over 4,096 blocks; every write carries `block` (512 bytes by default). */
export function syntheticLog(ops: number, block: Uint8Array = new Uint8Array(512).fill(0x5a)): WriteLog {
  const log = new WriteLog();
  const crc = crc32(block);
  for (let i = 0; i < ops; i++) {
    const kind = i % 10 === 9 ? "sync" : i % 2 === 0 ? "write" : "read";
    log.ops.push({
      seq: i,
      timeMicros: i * 10,
      kind,
      lba: kind === "sync" ? 0 : i % 4096,
      count: kind === "sync" ? 0 : 1,
      offset: 0,
      crc32: kind === "sync" ? 0 : crc,
      result: 0,
      ...(kind === "write" && { data: block }),
    });
  }
  return log;
}
