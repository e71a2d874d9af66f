import { asReportedPipeline } from "./as-reported.ts";
import { hardenedPipeline } from "./hardened.ts";
import type { Pipeline, PipelineName } from "./pipeline.ts";

export * from "./pipeline.ts";
export { asReportedPipeline } from "./as-reported.ts";
export { hardenedPipeline } from "./hardened.ts";

/** Pipelines by the name a scenario uses. */
export const PIPELINES: Readonly<Record<PipelineName, Pipeline>> = {
  "as-reported": asReportedPipeline,
  hardened: hardenedPipeline,
};

/** The pipeline called `name`; a clear error lists the known names. */
export function pipelineByName(name: string): Pipeline {
  const p = (PIPELINES as Record<string, Pipeline | undefined>)[name];
  if (!p)
    throw new Error(`unknown pipeline '${name}'; known pipelines: ${Object.keys(PIPELINES).join(", ")}`);
  return p;
}
