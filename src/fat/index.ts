export * from "./fat-engine.ts";
export * from "./drivers.ts";
export * from "./fat-layout.ts";
export * from "./js-fatfs-engine.ts";
export * from "./mkfs.ts";
export * from "./partition.ts";
export * from "./fsck.ts";
export * from "./exfat-mkfs.ts";
