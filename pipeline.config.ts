import { defineConfig } from "./mod.ts";

export default defineConfig({ pipelines: {} });
