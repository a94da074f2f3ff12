export { defineConfig } from "./core/config.ts";
