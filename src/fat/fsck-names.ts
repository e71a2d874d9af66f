/** Short (8.3) directory-entry names as the FAT checker prints and judges them. */

const BAD_NAME_CHARS = new Set([0x22, 0x2a, 0x2e, 0x2f, 0x3a, 0x3c, 0x3e, 0x3f, 0x5c, 0x7c]); // " * . / : < > ? \ |

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

/**
 * Why an 8.3 name is invalid (what dosfstools 4.2 renames: control bytes, 0x7F, the characters above,
 * a leading space; and the "no 8.3 name" flag 0x20 in DIR_NTRes without a long name), or null.
 * Lower case, bytes >= 0x80 and inner spaces are valid to fsck.fat.
 */
export function badShortName(d: Uint8Array, o: number, hasLongName = false): string | null {
  if (d[o] === 0x20) return "starts with a space";
  if (!hasLongName && (d[o + 12] & 0x20) !== 0)
    return `has DIR_NTRes 0x${d[o + 12].toString(16)} (bit 0x20: no 8.3 name) but no long name`;
  for (let i = 0; i < 11; i++) {
    const b = d[o + i];
    if (i === 0 && b === 0x05) continue;
    if (b < 0x20 || b === 0x7f) return `has control byte 0x${b.toString(16)} at position ${i}`;
    if (BAD_NAME_CHARS.has(b)) return `has the character '${String.fromCharCode(b)}' at position ${i}`;
  }
  return null;
}

/**
 * Why FatFs cannot open an entry by the short name it lists, or null (only asked when there is no
 * long name): FatFs lists the name without its spaces and upper-cases what it is asked to open, so a
 * space inside the base or extension, or a lower-case letter (stored so; DIR_NTRes flags only change the display), names
 * no entry. fsck.fat accepts both.
 */
export function unopenableShortName(d: Uint8Array, o: number, hasLongName: boolean): string | null {
  if (hasLongName) return null;
  for (const [from, to] of [
    [0, 8],
    [8, 11],
  ] as const) {
    let space = false;
    for (let i = from; i < to; i++) {
      if (d[o + i] === 0x20) space = true;
      else if (space)
        return `has a space inside the name (position ${i}): FatFs cannot open it by the name it lists`;
    }
  }
  for (let i = 0; i < 11; i++) {
    const b = d[o + i];
    if (b >= 0x61 && b <= 0x7a)
      return `has the lower-case '${String.fromCharCode(b)}' at position ${i}: FatFs cannot open it by the name it lists`;
  }
  return null;
}

const LFN_SLOTS: [number, number][] = [
  [1, 5],
  [14, 6],
  [28, 2],
];

/** Why one long-name entry's characters make a name FatFs refuses in a path, or null. */
export function unopenableLongNamePart(d: Uint8Array, o: number): string | null {
  for (const [s, n] of LFN_SLOTS)
    for (let k = 0; k < n; k++) {
      const c = d[o + s + 2 * k] | (d[o + s + 2 * k + 1] << 8);
      if (c === 0 || c === 0xffff) return null;
      if (c < 0x20 || c === 0x7f || (c < 0x80 && '"*/:<>?\\|'.includes(String.fromCharCode(c))))
        return `holds the character 0x${c.toString(16)}`;
    }
  return null;
}
