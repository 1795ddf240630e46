// Shared helpers for the application tests: fixture paths, temp dirs, and running a built
// bundle in a child process (user code never runs in the test process either).
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { PraaSError, type ErrorCode } from "../../src/protocol/errors.js";

const execFileAsync = promisify(execFile);

export const FIXTURES = fileURLToPath(new URL("../fixtures/apps/", import.meta.url));

export function fixture(name: string): string {
  return join(FIXTURES, name);
}

const tempDirs: string[] = [];

export async function tempDir(prefix = "praas-apps-test-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** Writes `files` (relative path → contents) under a fresh temp dir and returns it. */
export async function writeApp(files: Record<string, string>): Promise<string> {
  const dir = await tempDir("praas-app-");
  for (const [path, contents] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), contents);
  }
  return dir;
}

const CALL_SCRIPT = `
import { pathToFileURL } from "node:url";
const [, file, name, input, ctx] = process.argv;
const module = await import(pathToFileURL(file).href);
const out = await module[name](new TextEncoder().encode(input), JSON.parse(ctx));
const result = typeof out === "string" ? { string: out }
  : out instanceof Uint8Array ? { bytes: new TextDecoder().decode(out) } : { value: out };
process.stdout.write(JSON.stringify(result));
`;

export type CallResult = { string: string } | { bytes: string } | { value: unknown };

/** Imports the bundle in a child Node process and calls `name(input, ctx)`. */
export async function callInChild(
  code: Buffer,
  name: string,
  input: string,
  ctx: object = {},
): Promise<CallResult> {
  const dir = await tempDir("praas-call-");
  const file = join(dir, "app.mjs");
  await writeFile(file, code);
  const args = ["--input-type=module", "-e", CALL_SCRIPT, file, name, input, JSON.stringify(ctx)];
  const { stdout } = await execFileAsync(process.execPath, args, { cwd: dir });
  return JSON.parse(stdout) as CallResult;
}

/** The PraaSError `promise` rejects with; fails when it resolves or rejects otherwise. */
export async function rejection(promise: Promise<unknown>, code: ErrorCode): Promise<PraaSError> {
  const error: unknown = await promise.then(
    () => new Error("expected a rejection"),
    (reason: unknown) => reason,
  );
  if (!(error instanceof PraaSError)) throw error;
  if (error.code !== code) throw new Error(`expected ${code}, got ${error.code}: ${error.message}`);
  return error;
}
