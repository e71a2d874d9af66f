export * from "./usb-host.ts";
