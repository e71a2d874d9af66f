/**
 * Invariants: checkable predicates over one crash state's result (ARCHITECTURE.md: "a file closed
 * before the cut is never silent"). Built-in ones are named so worker threads can run them too.
 */
import type { Invariant } from "./sweep-types.ts";

export type { Invariant } from "./sweep-types.ts";

/** "A file closed before the cut is never silent." */
export const closedBeforeCutNeverSilent: Invariant = {
  name: "closedBeforeCutNeverSilent",
  description: "a file closed before the cut is never silent",
  violations: (s) =>
    s.files
      .filter((f) => f.closedBeforeCut && f.class === "silent")
      .map((f) => `${f.path} was closed before the cut and reads back wrong bytes (${f.detail ?? ""})`),
};

/** "A file closed before the cut is intact." (stronger; holds on a card that keeps completed writes) */
export const closedBeforeCutIntact: Invariant = {
  name: "closedBeforeCutIntact",
  description: "a file closed before the cut reads back its last committed content",
  violations: (s) =>
    s.files.filter((f) => f.closedBeforeCut && f.class !== "intact").map((f) => `${f.path} is ${f.class}`),
};

/** "The volume always mounts." */
export const alwaysMountable: Invariant = {
  name: "alwaysMountable",
  description: "the volume mounts after every cut",
  violations: (s) => (s.volume === "unmountable" ? [`unmountable: ${s.mountError ?? ""}`] : []),
};

/** Invariants by name (worker threads receive names). */
export const BUILTIN_INVARIANTS: Readonly<Record<string, Invariant>> = {
  closedBeforeCutNeverSilent,
  closedBeforeCutIntact,
  alwaysMountable,
};
