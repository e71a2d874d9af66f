export * from "./py-errors.ts";
export * from "./os-error.ts";
export * from "./vfs-config.ts";
export * from "./fat-time.ts";
export * from "./vfs-file.ts";
export * from "./vfs-fat.ts";
export * from "./vfs.ts";
export * from "./boot.ts";
