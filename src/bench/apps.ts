/**
 * The benchmark applications (`bench/apps/<name>/`) and their bundles. Launched processes get
 * a bundle built here; the control plane gets a directory with one pre-bundled `index.js`,
 * because a deploy unpacks the app far from `node_modules` (ioredis must be bundled already).
 */
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { buildApplication } from "../apps/index.js";

export type BenchApp = "echo" | "suite";

/** The package root: `dist/bench/` or `src/bench/` is two levels below it. */
export const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export function appDir(app: BenchApp): string {
  return path.join(PACKAGE_ROOT, "bench", "apps", app);
}

/** Builds the app as a deploy would and writes the bundle to `<dir>/<app>.mjs`. */
export async function writeBundle(app: BenchApp, dir: string): Promise<string> {
  const built = await buildApplication(appDir(app));
  const file = path.join(dir, `${app}.mjs`);
  await writeFile(file, built.code);
  return file;
}

/** The app's praas.json (the suite's Redis baselines need the network), if it has one. */
async function copyManifest(app: BenchApp, out: string): Promise<void> {
  try {
    await copyFile(path.join(appDir(app), "praas.json"), path.join(out, "praas.json"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/** A deployable directory holding the app bundled into one `index.js` (dependencies inlined). */
export async function writeDeployable(app: BenchApp, dir: string): Promise<string> {
  const out = path.join(dir, `deploy-${app}`);
  await mkdir(out, { recursive: true });
  await build({
    entryPoints: [path.join(appDir(app), "index.ts")],
    outfile: path.join(out, "index.js"),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "silent",
  });
  await copyManifest(app, out);
  return out;
}
