export * from "./write-log.ts";
export * from "./trace-error.ts";
export * from "./trace-header.ts";
export * from "./trace-reader.ts";
export * from "./trace-writer.ts";
export * from "./trace-diff.ts";
