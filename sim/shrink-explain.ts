/**
 * The one-paragraph cause of a reproduced crash state, read from its recording: which write was in
 * flight (its LBAs and their sector roles, src/fat/sector-roles.ts, on the card the run would have
 * left), during which step, what the cut did to it and to the writes since the last sync (the cut
 * report of src/faults), and what the camera's reader then said of which file.
 */
import { CrashStateMaterialiser } from "../src/faults/index.ts";
import { sectorRoles } from "../src/fat/sector-roles.ts";
import type { Reproduction } from "./shrink-oracle.ts";

/** At most this many writes of the epoch are named one by one. */
const NAMED_WRITES = 3;

function stepName(step: unknown): string {
  if (typeof step === "string") return step;
  if (typeof step === "object" && step !== null) return Object.keys(step)[0] ?? "?";
  return String(step);
}

/** The step that issued write `w` (the last step whose start saw at most `w` writes). */
export function stepOfWrite(stepWrites: readonly number[], w: number): number {
  let k = 0;
  for (let i = 0; i < stepWrites.length; i++) if (stepWrites[i] <= w) k = i;
  return k;
}

export function explainReproduction(r: Reproduction): string {
  const rec = r.recording;
  const c = r.point.completedWrites;
  const final = new CrashStateMaterialiser(rec.base, rec.log).materialise({
    completedWrites: rec.writeCount,
    unsynced: { policy: "persist-all" },
    seed: 0,
  });
  const roles = sectorRoles(final);
  const writes = rec.log.writes();
  const describe = (i: number): string => {
    const w = writes[i];
    const span = w.count > 1 ? `LBA ${w.lba}–${w.lba + w.count - 1}` : `LBA ${w.lba}`;
    return `write ${i} (${span}: ${roles.roleOf(w.lba)})`;
  };
  const { report, unstable } = new CrashStateMaterialiser(rec.base, rec.log).materialiseDetailed(r.point);
  const parts: string[] = [];
  if (c < rec.writeCount) {
    const k = stepOfWrite(r.stepWrites, c);
    const f = report.inFlight;
    const torn =
      !f || f.persistedBytes === 0
        ? "none of it reached the card"
        : f.persistedBytes >= f.totalBytes
          ? "all of it reached the card"
          : `${f.persistedBytes} of its ${f.totalBytes} bytes reached the card (the rest ${f.fill === "old" ? "kept its old content" : f.fill})`;
    parts.push(
      `Power is cut while ${describe(c)} is in flight, during step ${k} (${stepName(r.raw.steps[k])}); ${torn}.`,
    );
  } else parts.push(`Power is cut after the last of the ${rec.writeCount} writes, with nothing in flight.`);
  const notKept = report.epochFates.filter((f) => f.fate !== "kept");
  const epoch = report.epochFates.length;
  if (epoch === 0) parts.push("Every earlier write was behind a sync (ioctl 3) and persists.");
  else if (notKept.length === 0)
    parts.push(
      `The ${epoch} write(s) since the last sync (ioctl 3) all persist (${r.point.unsynced.policy}).`,
    );
  else {
    const named = notKept
      .slice(0, NAMED_WRITES)
      .map((f) => `${describe(f.writeIndex)} ${f.fate}`)
      .join("; ");
    const more = notKept.length > NAMED_WRITES ? `; ${notKept.length - NAMED_WRITES} more` : "";
    parts.push(
      `Of the ${epoch} write(s) since the last sync (ioctl 3), policy ${r.point.unsynced.policy} keeps ${epoch - notKept.length}: ${named}${more}.`,
    );
  }
  if (r.point.metastable && unstable?.size) {
    const lbas = [...unstable.keys()].sort((a, b) => a - b);
    parts.push(
      `Its interrupted cells are metastable: ${lbas
        .slice(0, NAMED_WRITES)
        .map((l) => `LBA ${l} (${roles.roleOf(l)})`)
        .join(
          ", ",
        )}${lbas.length > NAMED_WRITES ? ` and ${lbas.length - NAMED_WRITES} more` : ""} read old or new at random on every read.`,
    );
  }
  if (r.file)
    parts.push(
      `After reboot ${r.file.path} is ${r.file.class}${r.file.reader ? ` (reader ${r.file.reader}` : ""}${r.file.detail ? `: ${r.file.detail}` : ""}${r.file.reader ? ")" : ""}.`,
    );
  else parts.push(`After reboot the volume does not mount (${r.state.mountError ?? "no FAT"}).`);
  return parts.join(" ");
}
