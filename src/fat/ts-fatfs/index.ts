export * from "./config.ts";
export * from "./ts-fatfs-driver.ts";
export * from "./ts-fatfs-engine.ts";
