export * from "./storage-stack.ts";
