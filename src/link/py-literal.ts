/**
 * Python literals for code sent to the board. Every byte outside printable ASCII is escaped, so no
 * control byte (Ctrl-C, Ctrl-D: framing in raw mode) ever appears in the code itself.
 */

/** `b'...'` for `bytes`: printable ASCII as is, `\\` and `\'` escaped, every other byte `\xNN`. */
export function pyBytesLiteral(bytes: Uint8Array): string {
  const parts: string[] = ["b'"];
  for (const b of bytes) {
    if (b === 0x5c) parts.push("\\\\");
    else if (b === 0x27) parts.push("\\'");
    else if (b >= 0x20 && b < 0x7f) parts.push(String.fromCharCode(b));
    else parts.push(HEX[b]);
  }
  parts.push("'");
  return parts.join("");
}

/** `'...'` for `str`: printable ASCII as is, other code points as `\xNN`, `\uNNNN` or `\UNNNNNNNN`. */
export function pyStringLiteral(text: string): string {
  let s = "'";
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === "\\") s += "\\\\";
    else if (ch === "'") s += "\\'";
    else if (cp >= 0x20 && cp < 0x7f) s += ch;
    else if (cp < 0x100) s += HEX[cp];
    else if (cp < 0x10000) s += `\\u${cp.toString(16).padStart(4, "0")}`;
    else s += `\\U${cp.toString(16).padStart(8, "0")}`;
  }
  return s + "'";
}

const HEX = Array.from({ length: 256 }, (_, b) => `\\x${b.toString(16).padStart(2, "0")}`);
