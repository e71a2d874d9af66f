export * from "./input-error.ts";
export * from "./zod-issues.ts";
