export * from "./block-device.ts";
export * from "./ram-block-device.ts";
export * from "./cow-block-device.ts";
export * from "./image-file-block-device.ts";
export * from "./offset-block-device.ts";
