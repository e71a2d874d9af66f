/** `cardsim profiles [--json]`: the registered device profiles, each with its step vocabulary. */
import { getProfile, profileNames } from "../../src/profiles/index.ts";
import { formatStepVocabulary, stepVocabulary, vocabularyOf } from "../steps.ts";

export async function profilesMain(
  args: string[],
  out: (s: string) => void = (s) => void process.stdout.write(s),
): Promise<number> {
  const json = args.includes("--json");
  const unknown = args.filter((a) => a !== "--json");
  if (unknown.length) {
    process.stderr.write(
      `cardsim profiles: unknown argument '${unknown[0]}'\nusage: cardsim profiles [--json]\n`,
    );
    return 2;
  }
  const profiles = profileNames().map((n) => getProfile(n)!);
  if (json) {
    out(
      `${JSON.stringify(
        profiles.map((p) => ({
          name: p.name,
          summary: p.summary,
          pipelines: p.pipelines,
          mountPoint: p.mountPoint,
          steps: stepVocabulary(vocabularyOf(p)),
        })),
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  for (const p of profiles) {
    out(
      `${p.name}: ${p.summary}\n  pipelines: ${p.pipelines.join(", ")}; card at ${p.mountPoint}\n  steps:\n`,
    );
    out(`${formatStepVocabulary(vocabularyOf(p)).replace(/^/gm, "    ")}\n\n`);
  }
  return 0;
}
