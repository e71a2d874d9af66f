/** HTML text helpers of the report: escaping for content and attributes, and a JSON island. */

/** Escapes text for HTML content and double-quoted attributes. */
export function esc(s: unknown): string {
  return String(s)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/**
 * JSON for a `<script type="application/json">` island: `<` is escaped so no `</script>` or
 * `<!--` inside a string can end the element (HTML Living Standard, "script data" restrictions).
 */
export function jsonIsland(id: string, value: unknown): string {
  return `<script type="application/json" id="${esc(id)}">${JSON.stringify(value).replace(/</g, "\\u003c")}</script>`;
}

/** `1,234` for counts. */
export function num(n: number): string {
  return n.toLocaleString("en-US");
}

/** `1.234 s` from virtual microseconds. */
export function seconds(micros: number): string {
  return `${(micros / 1e6).toFixed(3)} s`;
}
