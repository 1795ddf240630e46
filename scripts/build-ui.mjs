#!/usr/bin/env node
/**
 * Bundles the dashboard (src/ui) into dist/ui: app.js (Preact + uPlot, minified), app.css and
 * index.html, served by the control plane at /ui (src/control-plane/http/routes/ui.ts). Run by
 * `npm run build` and the tests' global setup; nothing is fetched at run time.
 */
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const out = path.join(root, "dist", "ui");

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: { app: path.join(root, "src/ui/main.tsx") },
  outdir: out,
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: "linked",
  jsx: "automatic",
  jsxImportSource: "preact",
  logLevel: "warning",
});
await copyFile(path.join(root, "src/ui/index.html"), path.join(out, "index.html"));
