/**
 * Headless Chromium for the report's browser tests: Debian's `chromium` (installed by .ci/run)
 * driven by playwright-core, every page opened from file:// with the network blocked. Without a
 * chromium binary the tests skip, saying so, unless CI is set: under CI they must run.
 */
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";

const CANDIDATES = [process.env["CHROMIUM_PATH"], "/usr/bin/chromium", "/usr/bin/chromium-browser"];

/** The chromium binary, or undefined when there is none. */
export function chromiumPath(): string | undefined {
  return CANDIDATES.find((p): p is string => p !== undefined && p !== "" && existsSync(p));
}

/** Why the browser tests skip here, or undefined when they run (always under CI). */
export function skipReason(): string | undefined {
  if (chromiumPath()) return undefined;
  if (process.env["CI"])
    throw new Error("CI is set but no chromium binary was found (apt-get install chromium; .ci/run does)");
  return "no chromium binary (/usr/bin/chromium): browser tests of the HTML report skipped; apt-get install chromium";
}

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath()!, headless: true, args: ["--no-sandbox"] });
}

/** What a page did besides rendering: console errors, uncaught exceptions and every request it made. */
export interface PageWatch {
  page: Page;
  errors: string[];
  requests: string[];
}

/** Opens `file` from file:// with every non-file request aborted, recording errors and requests. */
export async function openReport(browser: Browser, file: string): Promise<PageWatch> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("request", (r) => requests.push(r.url()));
  await context.route(/^(?!file:|data:)/, (route) => route.abort());
  await page.goto(pathToFileURL(file).href);
  await page.waitForLoadState("load");
  return { page, errors, requests };
}

/** Requests other than the page itself and data: URIs (none are allowed). */
export function networkRequests(w: PageWatch, file: string): string[] {
  const self = pathToFileURL(file).href;
  return w.requests.filter((u) => u !== self && !u.startsWith("data:"));
}
