/**
 * Which installed packages an application needs at run time: the closure of its
 * `package.json` `dependencies` (and optional and peer ones) over `node_modules`, resolved the
 * way Node resolves them (the nearest `node_modules` first, then each enclosing one).
 * Development tools (TypeScript, test runners, the `praas` types) stay out of the upload.
 */
import { readFile } from "node:fs/promises";
import { join, posix } from "node:path";

interface Manifest {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

async function readManifestAt(file: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as Manifest;
  } catch {
    return undefined;
  }
}

function runtimeNames(manifest: Manifest): string[] {
  const { dependencies = {}, optionalDependencies = {}, peerDependencies = {} } = manifest;
  return [
    ...Object.keys(dependencies),
    ...Object.keys(optionalDependencies),
    ...Object.keys(peerDependencies),
  ];
}

/** `node_modules/a/node_modules/@s/b` → `node_modules/a`; a top-level package → the root (""). */
function enclosingPackage(packageDir: string): string {
  const at = packageDir.lastIndexOf("node_modules/");
  return at <= 0 ? "" : packageDir.slice(0, at - 1);
}

async function resolvePackage(
  root: string,
  from: string,
  name: string,
): Promise<string | undefined> {
  for (let base = from; ; base = enclosingPackage(base)) {
    const candidate = posix.join(base, "node_modules", name);
    if ((await readManifestAt(join(root, candidate, "package.json"))) !== undefined)
      return candidate;
    if (base === "") return undefined;
  }
}

/**
 * The package folders (relative to `root`, e.g. `node_modules/@s/b`) the application needs, or
 * undefined when it has no `package.json` (then all of `node_modules` is kept, as before).
 */
export async function runtimePackages(root: string): Promise<Set<string> | undefined> {
  const manifest = await readManifestAt(join(root, "package.json"));
  if (manifest === undefined) return undefined;
  const found = new Set<string>();
  const queue: [string, Manifest][] = [["", manifest]];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const [from, current] = next;
    for (const name of runtimeNames(current)) {
      const dir = await resolvePackage(root, from, name);
      if (dir === undefined || found.has(dir)) continue;
      found.add(dir);
      const own = await readManifestAt(join(root, dir, "package.json"));
      if (own !== undefined) queue.push([dir, own]);
    }
  }
  return found;
}

/** The package folder a path under `node_modules` belongs to, or undefined outside of one. */
export function packageOf(path: string): string | undefined {
  const parts = path.split("/");
  let end = -1;
  for (let i = 0; i < parts.length - 1; i++) {
    if (parts[i] !== "node_modules") continue;
    end = (parts[i + 1] ?? "").startsWith("@") ? i + 2 : i + 1;
    i = end;
  }
  return end < 0 ? undefined : parts.slice(0, end + 1).join("/");
}
