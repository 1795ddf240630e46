/**
 * Application directories travel as gzip tarballs: the CLI packs a directory, the server
 * unpacks it into a scratch directory and builds it there. `node_modules` is kept because
 * dependencies are bundled server side, but only the packages the application needs at run
 * time when it has a `package.json` (see dependencies.ts); `.git` is left out.
 *
 * Unpacking treats the tarball as hostile: only regular files, directories and links that
 * stay inside the destination are accepted, and the total unpacked size is capped.
 */
import { mkdir, readdir } from "node:fs/promises";
import { isAbsolute, posix, resolve } from "node:path";

import { create, Parser, Unpack, type ReadEntry } from "tar";

import { PraaSError } from "../protocol/errors.js";
import { packageOf, runtimePackages } from "./dependencies.js";

const EXCLUDED_NAMES = new Set([".git"]);

export interface UnpackOptions {
  /** Cap on the sum of the unpacked file sizes, in bytes. */
  maxBytes: number;
  /** Cap on the number of entries (an inode bomb of empty files has no size). */
  maxEntries?: number;
}

export const DEFAULT_MAX_ENTRIES = 100_000;

function isExcluded(path: string): boolean {
  return path.split(/[\\/]/).some((segment) => EXCLUDED_NAMES.has(segment));
}

/** Every folder on the way to a needed package (`node_modules`, `node_modules/@scope`, ...). */
function ancestorsOf(packages: Set<string>): Set<string> {
  const ancestors = new Set<string>();
  for (const dir of packages) {
    const parts = dir.split("/");
    for (let i = 1; i < parts.length; i++) ancestors.add(parts.slice(0, i).join("/"));
  }
  return ancestors;
}

/** Whether a path goes into the tarball: outside `node_modules`, or part of a needed package. */
function inclusionFilter(packages: Set<string> | undefined): (path: string) => boolean {
  if (packages === undefined) return (path) => !isExcluded(path);
  const ancestors = ancestorsOf(packages);
  return (path) => {
    if (isExcluded(path)) return false;
    const clean = path.replace(/^\.\//, "").replace(/\/$/, "");
    const owner = packageOf(clean);
    if (owner === undefined) return true;
    return ancestors.has(clean) || packages.has(owner);
  };
}

/** A gzip tarball of `dir`'s contents, paths relative to `dir`. */
export async function packDirectory(dir: string): Promise<Buffer> {
  const names = (await readdir(dir)).filter((name) => !isExcluded(name)).sort();
  if (names.length === 0) throw new PraaSError("BAD_REQUEST", `directory ${dir} is empty`);
  const filter = inclusionFilter(await runtimePackages(dir));
  // `portable` drops owner names and ids, which mean nothing on the server.
  const stream = create({ gzip: true, cwd: dir, portable: true, filter }, names.filter(filter));
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const GZIP_MAGIC = [0x1f, 0x8b];

function isGzip(bytes: Uint8Array): boolean {
  return bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
}

const FILE_TYPES = new Set(["File", "OldFile", "ContiguousFile"]);
const LINK_TYPES = new Set(["SymbolicLink", "Link"]);

/** `..`-free, relative, and inside the archive root once resolved. */
function escapes(path: string): boolean {
  if (isAbsolute(path) || posix.isAbsolute(path) || /^[A-Za-z]:/.test(path)) return true;
  const normalized = posix.normalize(path.replaceAll("\\", "/"));
  return normalized === ".." || normalized.startsWith("../");
}

/** The kernel's own bound on symlinks followed in one lookup (ELOOP). */
const MAX_LINK_HOPS = 40;

/** Path components as the file system sees them: no lexical `..` folding (`d/..` is not `.` when d is a link). */
function components(path: string): string[] {
  return path.split("/").filter((part) => part !== "" && part !== ".");
}

interface Resolved {
  /** Components from the destination root, or undefined when the path leaves it or loops. */
  parts: string[] | undefined;
  /** Whether an archive symlink was followed on the way. */
  viaLink: boolean;
}

/**
 * The archive's symbolic links so far, so that paths are judged the way the file system will
 * resolve them once extracted: each component that is a link is followed (relative to the
 * link's directory), `..` applies after that, as the kernel does.
 */
class ArchiveTree {
  readonly #symlinks = new Map<string, string>();

  /** Resolves `parts` from `base`; the last component is followed only with `followLast`. */
  resolve(base: string[], parts: string[], followLast: boolean): Resolved {
    const result: Resolved = { parts: undefined, viaLink: false };
    result.parts = this.#walk(base, parts, followLast, result, { left: MAX_LINK_HOPS });
    return result;
  }

  record(parts: string[], entry: ReadEntry): void {
    const key = parts.join("/");
    if (entry.type === "SymbolicLink") this.#symlinks.set(key, entry.linkpath ?? "");
    else this.#symlinks.delete(key); // tar replaces what was there
  }

  /** The first symlink whose target, judged with the whole archive, leaves the root or loops. */
  escapingLink(): string | undefined {
    for (const [path, target] of this.#symlinks) {
      const dir = components(path).slice(0, -1);
      if (this.resolve(dir, components(target), true).parts === undefined) return path;
    }
    return undefined;
  }

  #walk(
    base: string[],
    parts: string[],
    followLast: boolean,
    result: Resolved,
    hops: { left: number },
  ): string[] | undefined {
    let current = [...base];
    for (const [index, part] of parts.entries()) {
      if (part === "..") {
        if (current.length === 0) return undefined;
        current.pop();
        continue;
      }
      const target = this.#symlinks.get([...current, part].join("/"));
      const follow = target !== undefined && (followLast || index < parts.length - 1);
      if (!follow) {
        current.push(part);
        continue;
      }
      result.viaLink = true;
      hops.left -= 1;
      if (hops.left < 0 || isAbsolute(target)) return undefined;
      const next = this.#walk(current, components(target), true, result, hops);
      if (next === undefined) return undefined;
      current = next;
    }
    return current;
  }
}

/** Why `entry` must not be extracted, or undefined when it is fine. */
function entryViolation(entry: ReadEntry, tree: ArchiveTree): string | undefined {
  if (escapes(entry.path)) return `entry ${entry.path} points outside the destination`;
  const own = tree.resolve([], components(entry.path), false);
  if (own.parts === undefined) return `entry ${entry.path} points outside the destination`;
  // tar refuses to extract through a symbolic link; refusing it here keeps the directory untouched.
  if (own.viaLink) return `entry ${entry.path} is written through a symbolic link`;
  if (LINK_TYPES.has(entry.type)) return linkViolation(entry, own.parts, tree);
  if (!FILE_TYPES.has(entry.type) && entry.type !== "Directory") {
    return `entry ${entry.path} has unsupported type ${entry.type}`;
  }
  tree.record(own.parts, entry);
  return undefined;
}

// Symlink targets are relative to the link's directory; hard link targets to the root.
function linkViolation(entry: ReadEntry, parts: string[], tree: ArchiveTree): string | undefined {
  const target = entry.linkpath ?? "";
  const base = entry.type === "Link" ? [] : parts.slice(0, -1);
  const resolved = tree.resolve(base, components(target), true);
  if (isAbsolute(target) || /^[A-Za-z]:/.test(target) || resolved.parts === undefined)
    return `link ${entry.path} -> ${target} points outside the destination (or loops)`;
  // tar refuses to create a link whose target passes through another link.
  if (resolved.viaLink) return `link ${entry.path} -> ${target} passes through another link`;
  tree.record(parts, entry);
  return undefined;
}

/** Counts entries and bytes against the caps; throws PAYLOAD_TOO_LARGE past either. */
class Budget {
  private bytes = 0;
  private entries = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly maxEntries: number,
  ) {}

  charge(entry: ReadEntry): void {
    this.entries += 1;
    if (FILE_TYPES.has(entry.type)) this.bytes += entry.size ?? 0;
    if (this.bytes > this.maxBytes) {
      throw new PraaSError(
        "PAYLOAD_TOO_LARGE",
        `tarball unpacks to more than ${this.maxBytes} bytes`,
      );
    }
    if (this.entries > this.maxEntries) {
      throw new PraaSError("PAYLOAD_TOO_LARGE", `tarball has more than ${this.maxEntries} entries`);
    }
  }
}

function toUnpackError(error: unknown): PraaSError {
  if (error instanceof PraaSError) return error;
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  // tar (TAR_*) and zlib (Z_*) failures mean a malformed tarball; anything else is ours.
  const malformed = typeof code === "string" && /^(TAR_|Z_)/.test(code);
  const fallback = malformed ? "BAD_REQUEST" : "INTERNAL";
  return new PraaSError(fallback, `cannot unpack tarball: ${message}`, { cause: error });
}

/**
 * Extracts a gzip tarball into `destDir` (created if missing). Rejects with BAD_REQUEST for
 * malformed or unsafe archives and PAYLOAD_TOO_LARGE past the caps. The whole archive is
 * checked before anything is written, so a rejected tarball leaves `destDir` untouched
 * (short of a file-system failure during the extraction itself).
 */
export async function unpackTarball(
  bytes: Uint8Array,
  destDir: string,
  options: UnpackOptions,
): Promise<void> {
  if (!isGzip(bytes)) throw new PraaSError("BAD_REQUEST", "not a gzip tarball");
  const budget = new Budget(options.maxBytes, options.maxEntries ?? DEFAULT_MAX_ENTRIES);
  // Two passes: tar writes files asynchronously and keeps going after an abort, so
  // rejecting mid-extraction would leave writes racing the caller's clean-up.
  await scan(bytes, budget);
  const cwd = resolve(destDir);
  await mkdir(cwd, { recursive: true });
  await extract(bytes, cwd);
}

function check(entry: ReadEntry, budget: Budget, tree: ArchiveTree): PraaSError | undefined {
  const problem = entryViolation(entry, tree);
  if (problem !== undefined) return new PraaSError("BAD_REQUEST", `unsafe tarball: ${problem}`);
  try {
    budget.charge(entry);
    return undefined;
  } catch (error) {
    return error as PraaSError;
  }
}

/** Pass one: reads every header (and the whole gzip stream) without writing anything. */
async function scan(bytes: Uint8Array, budget: Budget): Promise<void> {
  let violation: PraaSError | undefined;
  const tree = new ArchiveTree();
  const parser = new Parser({
    strict: true, // every tar warning (bad header, truncation, ...) becomes an error
    onReadEntry: (entry) => {
      violation ??= check(entry, budget, tree);
      if (violation !== undefined) parser.abort(violation);
      entry.resume(); // skip the body
    },
  });
  await run(parser, "end", bytes, () => violation);
  // A link judged early may escape through a link that came later in the archive.
  const escaping = tree.escapingLink();
  if (escaping !== undefined)
    throw new PraaSError(
      "BAD_REQUEST",
      `unsafe tarball: link ${escaping} points outside the destination`,
    );
}

/** Pass two: the checked archive, extracted with tar's own path protections still on. */
function extract(bytes: Uint8Array, cwd: string): Promise<void> {
  const unpack = new Unpack({ cwd, strict: true, preserveOwner: false });
  return run(unpack, "close", bytes, () => undefined);
}

function run(
  stream: Parser,
  doneEvent: "end" | "close",
  bytes: Uint8Array,
  violation: () => PraaSError | undefined,
): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    stream.on("error", (error: unknown) => reject(violation() ?? toUnpackError(error)));
    stream.on(doneEvent, () => resolvePromise());
    stream.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
}
