/** The named fuzz surfaces `npm run fuzz -- <name>` runs (the parsers; the card-image commands). */
import type { Surface } from "./harness.ts";
import { encSurface } from "./enc-files.ts";
import { imageSurface } from "./image-commands.ts";
import { replSurface } from "./repl-replies.ts";
import { scenarioRunSurface } from "./scenario-runs.ts";
import {
  esp32Surface,
  faultPlanSurface,
  patSurface,
  povSurface,
  traceSurface,
  yamlSurface,
} from "./parsers.ts";

export { runSurface, surfaceTable, type ShardSpec, type SurfaceResult } from "./harness.ts";

/** Each surface with its full-campaign case count (issue 13: >= 100,000 per parser, >= 10,000 image runs, >= 2,000 executed scenarios). */
export const SURFACES: Record<
  string,
  { make: () => Surface<never> | Promise<Surface<never>>; cases: number }
> = {
  yaml: { make: yamlSurface as never, cases: 100_000 },
  plan: { make: faultPlanSurface as never, cases: 100_000 },
  trace: { make: traceSurface as never, cases: 100_000 },
  pov: { make: povSurface as never, cases: 100_000 },
  pat: { make: patSurface as never, cases: 100_000 },
  esp32: { make: esp32Surface as never, cases: 100_000 },
  enc: { make: encSurface as never, cases: 100_000 },
  repl: { make: replSurface as never, cases: 100_000 },
  image: { make: imageSurface as never, cases: 10_000 },
  scenarios: { make: scenarioRunSurface as never, cases: 2_000 },
};
