/** Short (8.3) directory-entry names as the FAT checker prints and judges them. */

const BAD_NAME_CHARS = new Set([0x22, 0x2a, 0x2f, 0x3a, 0x3c, 0x3e, 0x3f, 0x5c, 0x7c]); // " * / : < > ? \ |

/** "NAME.EXT" from an 8.3 entry (0x05 in the first byte stands for 0xE5). */
export function formatShortName(d: Uint8Array, o: number): string {
  const chars = (from: number, to: number): string => {
    let s = "";
    for (let i = from; i < to; i++) {
      let b = d[o + i];
      if (i === 0 && b === 0x05) b = 0xe5;
      s += String.fromCharCode(b);
    }
    return s.replace(/ +$/, "");
  };
  const base = chars(0, 8);
  const ext = chars(8, 11);
  return ext ? `${base}.${ext}` : base;
}

/** Why an 8.3 name is invalid (dosfstools check.c bad_name), or null. */
export function badShortName(d: Uint8Array, o: number): string | null {
  if (d[o] === 0x20) return "starts with a space";
  for (let i = 0; i < 11; i++) {
    const b = d[o + i];
    if (i === 0 && b === 0x05) continue;
    if (b < 0x20 || b === 0x7f) return `has control byte 0x${b.toString(16)} at position ${i}`;
    if (BAD_NAME_CHARS.has(b)) return `has the character '${String.fromCharCode(b)}' at position ${i}`;
  }
  return null;
}
