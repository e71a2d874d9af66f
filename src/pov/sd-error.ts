/** `enum SDError` of the seed's `sd_storage.h`, values in declaration order (SD_OK = 0). */
export const SDError = {
  SD_OK: 0,
  SD_ERROR_NOT_INITIALIZED: 1,
  SD_ERROR_CARD_NOT_PRESENT: 2,
  SD_ERROR_FILE_NOT_FOUND: 3,
  SD_ERROR_FILE_OPEN_FAILED: 4,
  SD_ERROR_FILE_READ_FAILED: 5,
  SD_ERROR_FILE_WRITE_FAILED: 6,
  SD_ERROR_INVALID_FORMAT: 7,
  SD_ERROR_OUT_OF_MEMORY: 8,
  SD_ERROR_DISK_FULL: 9,
  SD_ERROR_INVALID_FILENAME: 10,
} as const;
export type SDErrorName = keyof typeof SDError;
export type SDErrorCode = (typeof SDError)[SDErrorName];

/** `getErrorString(error)`: the seed's comment of each code. */
const STRINGS: Readonly<Record<SDErrorName, string>> = {
  SD_OK: "No error",
  SD_ERROR_NOT_INITIALIZED: "SD card not initialized",
  SD_ERROR_CARD_NOT_PRESENT: "SD card not detected",
  SD_ERROR_FILE_NOT_FOUND: "File does not exist",
  SD_ERROR_FILE_OPEN_FAILED: "Cannot open file",
  SD_ERROR_FILE_READ_FAILED: "Read operation failed",
  SD_ERROR_FILE_WRITE_FAILED: "Write operation failed",
  SD_ERROR_INVALID_FORMAT: "Invalid file format",
  SD_ERROR_OUT_OF_MEMORY: "Insufficient memory",
  SD_ERROR_DISK_FULL: "No space left on device",
  SD_ERROR_INVALID_FILENAME: "Invalid filename",
};

/** The code's enumerator name (`SD_ERROR_DISK_FULL`); `SDError <n>` for a value outside the enum. */
export function sdErrorName(code: number): string {
  for (const [name, value] of Object.entries(SDError)) if (value === code) return name;
  return `SDError ${code}`;
}

/** `getErrorString(error)`; "Unknown error" outside the enum (a C `default:` branch). */
export function sdErrorString(code: number): string {
  const name = sdErrorName(code);
  return name in STRINGS ? STRINGS[name as SDErrorName] : "Unknown error";
}
