/**
 * Deploy-time build of an application: bundle its entry (and everything it imports) into one
 * ESM file with esbuild, then load that file once in a short-lived child process to prove it
 * loads and to learn which exports are functions. User code never runs in the caller.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";

import { build, type Message, type Plugin } from "esbuild";

import { PraaSError } from "../protocol/errors.js";
import { isValidName } from "../protocol/names.js";
import type { AppPermissions } from "../protocol/permissions.js";
import type { LoadCheckResult } from "./load-check.js";
import { findEntry, readManifest, type AppEnv, type AppManifest } from "./manifest.js";

export interface BuiltApp {
  /** One self-contained ESM file. */
  code: Buffer;
  /** The names of the entry's function exports, sorted. */
  functions: string[];
  manifest: AppManifest;
}

export interface BuildOptions {
  /** How long the bundle may take to import in the checker process. */
  loadTimeoutMs?: number;
  /** How much memory (resident, MiB) the checker process may use while importing it. */
  loadMemoryMiB?: number;
  /** The application's secrets, which its workers see beside (and over) praas.json's `env`. */
  secrets?: Readonly<AppEnv>;
}

export const DEFAULT_LOAD_TIMEOUT_MS = 10_000;

/**
 * The checker runs the application's top-level code on the control plane's machine, where
 * nothing else bounds it: a module that allocates at load could take gigabytes before the
 * timeout. 512 MiB is a process's default `memory`, which a well-behaved module's top level
 * fits in many times over.
 */
export const DEFAULT_LOAD_MEMORY_MIB = 512;

/** How often the checker's resident memory is read while it loads. */
const MEMORY_SAMPLE_MS = 50;
const MIB = 1024 * 1024;

// CJS dependencies call `require` for node builtins; an ESM bundle has no `require` unless
// we create one. A `var` with no import, so bundling an already bundled file (whose banner is
// now code) declares it twice harmlessly instead of failing.
const REQUIRE_BANNER =
  'var require = process.getBuiltinModule("node:module").createRequire(import.meta.url);';

const MAX_REPORTED_ERRORS = 10;
const STDERR_TAIL_BYTES = 4096;

/** Bundles, load-checks and inspects the application in `dir`. */
export async function buildApplication(dir: string, options: BuildOptions = {}): Promise<BuiltApp> {
  const root = resolve(dir);
  const manifest = await readManifest(root);
  const entry = await findEntry(root, manifest);
  const code = await bundleEntry(root, entry);
  // The module's top level may read (and insist on) its environment, as it will in a worker.
  const env = { ...manifest.env, ...options.secrets };
  const functions = await inspectBundle(code, limitsOf(options), manifest.permissions, env);
  if (functions.length === 0) {
    throw new PraaSError("BUILD_FAILED", `application exports no functions (entry ${entry})`);
  }
  return { code, functions, manifest };
}

/**
 * `praas` is types-only for users. Resolve it to an empty module rather than leaving it
 * external: a bare `import "praas"` then costs nothing at load time, and importing a value
 * from it fails at build time with a clear "No matching export" instead of at load.
 */
const praasTypesPlugin: Plugin = {
  name: "praas-types",
  setup(build) {
    build.onResolve({ filter: /^praas$/ }, () => ({ path: "praas", namespace: "praas-types" }));
    build.onLoad({ filter: /.*/, namespace: "praas-types" }, () => ({
      contents: "export {};",
      loader: "js",
    }));
  },
};

async function bundleEntry(root: string, entry: string): Promise<Buffer> {
  try {
    const result = await build({
      entryPoints: [join(root, entry)],
      absWorkingDir: root,
      // Never written (write: false); it only anchors the source map's relative paths.
      outfile: join(root, "praas-bundle.mjs"),
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      write: false,
      sourcemap: "inline",
      sourcesContent: false, // mappings suffice for stack traces; sources would double the size
      logLevel: "silent",
      banner: { js: REQUIRE_BANNER },
      plugins: [praasTypesPlugin],
    });
    const output = result.outputFiles[0];
    if (output === undefined) throw new PraaSError("INTERNAL", "esbuild produced no output");
    return Buffer.from(output.contents);
  } catch (error) {
    throw toBuildError(error);
  }
}

function hasMessages(error: unknown): error is { errors: Message[] } {
  return (
    typeof error === "object" &&
    error !== null &&
    Array.isArray((error as { errors?: unknown }).errors)
  );
}

function formatMessage(message: Message): string {
  const where = message.location;
  if (where === null) return message.text;
  // esbuild columns are 0-based; editors and compilers print 1-based.
  return `${where.file}:${where.line}:${where.column + 1}: ${message.text}`;
}

/** One readable BUILD_FAILED from an esbuild failure: "file:line:col: text" per error. */
function toBuildError(error: unknown): PraaSError {
  if (error instanceof PraaSError) return error;
  if (!hasMessages(error) || error.errors.length === 0) {
    return new PraaSError("BUILD_FAILED", `build failed: ${String(error)}`, { cause: error });
  }
  const lines = error.errors.slice(0, MAX_REPORTED_ERRORS).map(formatMessage);
  const hidden = error.errors.length - lines.length;
  if (hidden > 0) lines.push(`... and ${hidden} more error(s)`);
  return new PraaSError("BUILD_FAILED", `build failed:\n${lines.join("\n")}`);
}

/** What the load check may take. */
interface LoadLimits {
  timeoutMs: number;
  memoryMiB: number;
}

function limitsOf(options: BuildOptions): LoadLimits {
  return {
    timeoutMs: options.loadTimeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS,
    memoryMiB: options.loadMemoryMiB ?? DEFAULT_LOAD_MEMORY_MIB,
  };
}

/**
 * Load-checks a bundle built before, with the environment its workers would get (e.g. after a
 * secret changed); BUILD_FAILED when it does not load.
 */
export async function checkBundleLoads(
  code: Buffer,
  permissions: Readonly<AppPermissions>,
  env: Readonly<AppEnv>,
  options: BuildOptions = {},
): Promise<void> {
  await inspectBundle(code, limitsOf(options), permissions, env);
}

/** Imports the bundle in a child process; resolves to its sorted function export names. */
async function inspectBundle(
  code: Buffer,
  limits: LoadLimits,
  permissions: Readonly<AppPermissions>,
  env: Readonly<AppEnv>,
): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), "praas-build-"));
  try {
    const file = join(dir, "app.mjs");
    await writeFile(file, code);
    const result = await runLoadCheck(file, dir, limits, permissions, env);
    if ("error" in result) {
      throw new PraaSError("BUILD_FAILED", `application failed to load: ${result.error}`);
    }
    // Only names a call can give are functions: others (`_helper`, `$x`, a string export name
    // with spaces or control characters) could never be invoked, and listing them put whatever
    // they hold into every listing, terminal and dashboard that shows the functions.
    return result.functions.filter(isValidName);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The compiled checker script. From `dist/apps/` it sits next to this module; when this
 * module runs from sources (`src/apps/*.ts` under vitest) the compiled copy is in `dist/apps/`.
 */
export function loadCheckerPath(): string {
  const sibling = fileURLToPath(new URL("./load-check.js", import.meta.url));
  if (existsSync(sibling)) return sibling;
  const compiled = fileURLToPath(new URL("../../dist/apps/load-check.js", import.meta.url));
  if (existsSync(compiled)) return compiled;
  throw new PraaSError("INTERNAL", `load checker not found at ${sibling}: run "npm run build"`);
}

/**
 * The checker runs the application's top-level code, so it gets what a worker gets: the
 * application's environment and nothing of the control plane's (its tokens and secrets are not
 * the user's business), and Node's
 * permission model (reads: the checker and the bundle; no writes; child processes and worker
 * threads only when the application asks for them).
 */
function spawnChecker(
  file: string,
  cwd: string,
  memoryMiB: number,
  permissions: Readonly<AppPermissions>,
  env: Readonly<AppEnv>,
): ChildProcess {
  const checker = loadCheckerPath();
  const sandbox = [
    // The heap fails cleanly at the limit; memory outside it (Buffers) is left to watchMemory.
    `--max-old-space-size=${memoryMiB}`,
    "--experimental-permission",
    "--disable-warning=ExperimentalWarning",
    `--allow-fs-read=${checker}`,
    `--allow-fs-read=${file}`,
    ...(permissions.childProcess ? ["--allow-child-process"] : []),
    ...(permissions.workerThreads ? ["--allow-worker"] : []),
  ];
  return spawn(process.execPath, [...sandbox, checker, file], {
    cwd,
    env: { ...env },
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
}

/** Keeps the last few KiB of a stream, for error messages. */
function tailOf(stream: Readable | null): () => string {
  let tail = "";
  stream?.on("data", (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-STDERR_TAIL_BYTES);
  });
  return () => tail.trim();
}

function tooMuchMemory(memoryMiB: number): PraaSError {
  const message = `application used too much memory while loading (limit ${memoryMiB} MiB)`;
  return new PraaSError("BUILD_FAILED", message);
}

/** V8's last words when the heap reached --max-old-space-size. */
const HEAP_EXHAUSTED = /JavaScript heap out of memory|Reached heap limit/;

function exitError(
  code: number | null,
  signal: string | null,
  stderr: string,
  memoryMiB: number,
): PraaSError {
  if (HEAP_EXHAUSTED.test(stderr)) return tooMuchMemory(memoryMiB);
  const how = signal === null ? `code ${code}` : `signal ${signal}`;
  const detail = stderr === "" ? "" : `:\n${stderr}`;
  return new PraaSError("BUILD_FAILED", `application exited with ${how} while loading${detail}`);
}

// User code shares the IPC channel, so the message is checked rather than trusted.
function isLoadCheckResult(value: unknown): value is LoadCheckResult {
  if (typeof value !== "object" || value === null) return false;
  const { functions, error } = value as { functions?: unknown; error?: unknown };
  if (typeof error === "string") return true;
  return Array.isArray(functions) && functions.every((name) => typeof name === "string");
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const message = `application took longer than ${timeoutMs}ms to load`;
    timer = setTimeout(() => reject(new PraaSError("BUILD_FAILED", message)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The resident memory of `pid` (VmRSS), or 0 once it is gone. */
async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  return kib === undefined ? 0 : Number(kib) * 1024;
}

/**
 * Rejects once the checker's resident memory passes the limit, read every MEMORY_SAMPLE_MS:
 * the bound on what the heap limit does not cover (Buffers, typed arrays, native memory).
 * Where /proc cannot be read it never rejects, and the heap limit and the timeout remain.
 */
function watchMemory(
  child: ChildProcess,
  memoryMiB: number,
): { over: Promise<never>; stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const over = new Promise<never>((_, reject) => {
    const sample = async (): Promise<void> => {
      const bytes = child.pid === undefined ? 0 : await residentBytes(child.pid);
      if (stopped) return;
      if (bytes > memoryMiB * MIB) reject(tooMuchMemory(memoryMiB));
      else timer = setTimeout(() => void sample(), MEMORY_SAMPLE_MS);
    };
    timer = setTimeout(() => void sample(), MEMORY_SAMPLE_MS);
  });
  const stop = (): void => {
    stopped = true;
    clearTimeout(timer);
  };
  return { over, stop };
}

function runLoadCheck(
  file: string,
  cwd: string,
  limits: LoadLimits,
  permissions: Readonly<AppPermissions>,
  env: Readonly<AppEnv>,
): Promise<LoadCheckResult> {
  const child = spawnChecker(file, cwd, limits.memoryMiB, permissions, env);
  const stderr = tailOf(child.stderr);
  const outcome = new Promise<LoadCheckResult>((resolvePromise, reject) => {
    child.on("message", (message) => {
      if (isLoadCheckResult(message)) resolvePromise(message);
      else reject(new PraaSError("BUILD_FAILED", "application sent an unexpected IPC message"));
    });
    child.on("error", (error) => {
      reject(new PraaSError("INTERNAL", `load check failed: ${error.message}`, { cause: error }));
    });
    child.on("close", (code, signal) => {
      reject(exitError(code, signal, stderr(), limits.memoryMiB));
    });
  });
  const memory = watchMemory(child, limits.memoryMiB);
  // The checker exits by itself after reporting; anything still running is killed.
  return withTimeout(Promise.race([outcome, memory.over]), limits.timeoutMs).finally(() => {
    memory.stop();
    child.kill("SIGKILL");
  });
}
