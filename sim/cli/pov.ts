/**
 * `cardsim pov show FILE.pov [--png OUT.png]`: a `.pov` image as the POV poi's LED strip sweeps it
 * (one column per angular step, LED 0 on top), with what the device's readers say of it; pixels a
 * torn or truncated file lacks are drawn as a checker. The renderer is the profile's (the registry's
 * `filePreviews`), so this file knows no device. Exit 0 drawn, 2 unusable input.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { getProfile, profileNames, type FilePreview } from "../../src/profiles/index.ts";

const USAGE = `usage: cardsim pov show FILE.pov [--png OUT.png]
  renders the image as the LED strip sweeps it; prints its header and what each reader says
`;

function previewerFor(ext: string): ((bytes: Uint8Array, name: string) => FilePreview) | undefined {
  for (const n of profileNames()) {
    const f = getProfile(n)?.filePreviews?.[ext];
    if (f) return f;
  }
  return undefined;
}

export async function povMain(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { png: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
  } catch (e) {
    process.stderr.write(`cardsim pov: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [sub, file, ...rest] = parsed.positionals;
  if (sub !== "show" || file === undefined || rest.length) {
    process.stderr.write(`cardsim pov: expected 'show FILE.pov'\n${USAGE}`);
    return 2;
  }
  const render = previewerFor(".pov");
  if (!render) {
    process.stderr.write("cardsim pov: no registered profile renders .pov files\n");
    return 2;
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (e) {
    process.stderr.write(`cardsim pov: cannot read ${file}: ${(e as Error).message}\n`);
    return 2;
  }
  const preview = render(bytes, basename(file));
  process.stdout.write(preview.summary.map((l) => `${l}\n`).join(""));
  const out = parsed.values.png;
  if (out !== undefined && preview.png) {
    // Through a temporary renamed on success, so a failed run never leaves half a PNG.
    writeFileSync(`${out}.tmp`, preview.png);
    renameSync(`${out}.tmp`, out);
    process.stdout.write(`png: ${out}\n`);
  }
  return 0;
}
