export * from "./sd-card.ts";
