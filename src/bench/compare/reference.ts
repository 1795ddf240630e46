/**
 * Which earlier result `--compare` reads: a file given on the command line, else the newest
 * `<date>.json` committed under bench/results/ (git HEAD), else the newest such file on disk.
 * It is read before the run starts, so a run writing the same date's file compares with what
 * was there before.
 */
import { execFile } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { PACKAGE_ROOT } from "../apps.js";
import type { ComparableResult } from "./compare.js";

const run = promisify(execFile);
const RESULTS = "bench/results";
const RESULT_FILE = /^\d{4}-\d{2}-\d{2}\.json$/;

export interface Reference {
  /** Where it came from, for the report's first line. */
  name: string;
  result: ComparableResult;
}

export async function loadResultFile(file: string): Promise<Reference> {
  const text = await readFile(file, "utf8");
  return { name: file, result: parseResult(text, file) };
}

function parseResult(text: string, name: string): ComparableResult {
  const parsed = JSON.parse(text) as Partial<ComparableResult>;
  if (!Array.isArray(parsed.experiments)) throw new Error(`${name} is not a bench result`);
  return parsed as ComparableResult;
}

/** The newest committed result, else the newest on disk; undefined when there is none. */
export async function lastResult(): Promise<Reference | undefined> {
  return (await lastCommitted().catch(() => undefined)) ?? (await newestOnDisk());
}

const newest = (names: string[]): string | undefined =>
  names
    .map((name) => path.basename(name))
    .filter((name) => RESULT_FILE.test(name))
    .sort()
    .at(-1);

async function lastCommitted(): Promise<Reference | undefined> {
  const git = (...args: string[]): Promise<{ stdout: string }> =>
    run("git", ["-C", PACKAGE_ROOT, ...args], { maxBuffer: 64 << 20 });
  const listed = await git("ls-tree", "--name-only", "HEAD", `${RESULTS}/`);
  const name = newest(listed.stdout.split("\n"));
  if (name === undefined) return undefined;
  const shown = await git("show", `HEAD:${RESULTS}/${name}`);
  return { name: `${RESULTS}/${name} (committed)`, result: parseResult(shown.stdout, name) };
}

async function newestOnDisk(): Promise<Reference | undefined> {
  const dir = path.join(PACKAGE_ROOT, RESULTS);
  const name = newest(await readdir(dir).catch(() => []));
  return name === undefined ? undefined : loadResultFile(path.join(dir, name));
}
