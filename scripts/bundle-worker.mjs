#!/usr/bin/env node
/**
 * Bundles the worker (dist/runtime/worker/main.js and the protocol and transport modules it
 * imports) into one file, dist/runtime/worker-bundle.js, which every worker subprocess runs.
 * Node loads one module instead of about forty: a worker boots 40–70 ms sooner here, which is
 * most of what a process start waits for after its own runtime is up. It imports only Node's
 * built-ins. Run by `npm run build` and the tests' global setup, after tsc.
 */
import { build } from "esbuild";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");

await build({
  entryPoints: [path.join(root, "dist/runtime/worker/main.js")],
  outfile: path.join(root, "dist/runtime/worker-bundle.js"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
});
