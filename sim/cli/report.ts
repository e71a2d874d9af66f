/**
 * `cardsim report RESULT.json [--out FILE.html]`: renders a saved result as the self-contained HTML
 * report (sim/html-report): a `cardsim scenario --out` result (a run, a sweep, a replay; its
 * `reportData` when it was made with `--report`), a `cardsim compare` result, or a list of them
 * (`cardsim night`). Exit 0 written, 2 unusable input. The output goes through a temporary file
 * renamed on success; the input is only read.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { COMPARE_FORMAT, type CompareResult } from "../compare-types.ts";
import { parseJsonLocated } from "../golden.ts";
import { renderCompareReport, renderRunReport } from "../html-report/page.ts";
import { REPORT_DATA_FORMAT } from "../html-report/report-data.ts";
import type { ReportedResult } from "../html-report/report-session.ts";
import { RESULT_FORMAT } from "../runner.ts";

const USAGE = `usage: cardsim report RESULT.json [--out FILE.html]
  renders a result of cardsim scenario --out (run, sweep, replay) or cardsim compare / night as one
  self-contained HTML file (default: RESULT.html beside the input)
`;

class ReportInputError extends Error {}

function formatOf(v: unknown): unknown {
  return v !== null && typeof v === "object" ? (v as { format?: unknown }).format : undefined;
}

/** The page for a parsed result file; throws {@link ReportInputError} naming the field. */
export function renderResultFile(value: unknown, file: string): string {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      if (formatOf(v) !== COMPARE_FORMAT)
        throw new ReportInputError(
          `${file}: [${i}].format: expected "${COMPARE_FORMAT}" in a list of comparisons`,
        );
    });
    return renderCompareReport(value as CompareResult[]);
  }
  const format = formatOf(value);
  if (format === COMPARE_FORMAT) return renderCompareReport([value as CompareResult]);
  if (format !== RESULT_FORMAT)
    throw new ReportInputError(
      `${file}:1:1: format: expected "${RESULT_FORMAT}" or "${COMPARE_FORMAT}", found ${JSON.stringify(format ?? null)}`,
    );
  const result = value as ReportedResult;
  for (const field of ["steps", "log", "fsck"] as const)
    if (!Array.isArray(result[field]))
      throw new ReportInputError(`${file}: ${field}: expected an array (a result of cardsim scenario --out)`);
  const data = result.reportData;
  if (data !== undefined && formatOf(data) !== REPORT_DATA_FORMAT)
    throw new ReportInputError(
      `${file}: reportData.format: expected "${REPORT_DATA_FORMAT}", found ${JSON.stringify(formatOf(data) ?? null)}`,
    );
  return renderRunReport(result, data);
}

/** Where `cardsim report` prints; tests pass their own. */
export interface ReportIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const PROCESS_IO: ReportIo = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
};

export async function reportMain(args: string[], io: ReportIo = PROCESS_IO): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { out: { type: "string", short: "o" }, help: { type: "boolean", short: "h" } },
    });
  } catch (e) {
    io.stderr(`cardsim report: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    io.stdout(USAGE);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    io.stderr(`cardsim report: expected one RESULT.json\n${USAGE}`);
    return 2;
  }
  const file = parsed.positionals[0];
  const out = parsed.values.out ?? `${file.replace(/\.json$/i, "")}.html`;
  let html: string;
  try {
    const text = readFileSync(file, "utf8");
    html = renderResultFile(
      parseJsonLocated(text, file, (m) => new ReportInputError(m)),
      file,
    );
  } catch (e) {
    if (e instanceof ReportInputError || (e as NodeJS.ErrnoException).code !== undefined) {
      io.stderr(`cardsim report: ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, html);
    renameSync(tmp, out);
  } catch (e) {
    rmSync(tmp, { force: true });
    io.stderr(`cardsim report: cannot write ${out}: ${(e as Error).message}\n`);
    return 2;
  }
  io.stdout(`report: ${out} (${html.length} bytes)\n`);
  return 0;
}
