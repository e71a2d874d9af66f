/**
 * Source positions in a YAML document (npm `yaml` parseDocument + LineCounter): the line and column of
 * the value (or the key) at a field path, so every problem is reported as `file:line:col`.
 */
import { isMap, isScalar, isSeq, type LineCounter } from "yaml";
import type { Document, Node as YamlNode } from "yaml";
import type { PathSeg } from "../src/input/index.ts";
import type { ScenarioIssue } from "./scenario-fields.ts";

interface Located {
  node: YamlNode | null;
  keyNode: YamlNode | null;
}

/** The deepest node along `path` (and the key node that names it, for maps). */
function locate(doc: Document, path: readonly PathSeg[]): Located {
  let node = doc.contents;
  let keyNode: YamlNode | null = null;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      keyNode = pair.key as YamlNode;
      node = (pair.value as YamlNode | null) ?? keyNode;
    } else if (isSeq(node) && typeof seg === "number" && seg < node.items.length) {
      keyNode = null;
      node = node.items[seg] as YamlNode;
    } else break;
  }
  return { node, keyNode };
}

export class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  at(offset: number): { line: number; col: number } {
    return this.lines.linePos(offset);
  }

  /** Position of the value at `path`, or of the key when `onKey` (unknown fields, bad keys). */
  issue(path: readonly PathSeg[], message: string, onKey = false): ScenarioIssue {
    const { node, keyNode } = locate(this.doc, path);
    const target = onKey && keyNode ? keyNode : node;
    const offset = target?.range?.[0] ?? 0;
    return { ...this.at(offset), path: [...path], message, ...(onKey && { onKey }) };
  }
}
