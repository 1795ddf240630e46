/**
 * The two images, built without a registry: `praas-runtime` (a cloud process) and
 * `praas-control-plane`, from deploy/docker/ and a build context of this checkout's dist/,
 * package*.json and production node_modules (those package-lock.json does not mark `dev`).
 * With `localBase`, the base image is first made from this machine's own Node runtime with an
 * import (the node binary, the libraries it links and the loader): nothing is pulled. The same
 * way, `praas-redis:local` and `praas-haproxy:local` are made from the host's redis-server and
 * haproxy when installed, for the compose stacks in deploy/.
 *
 * Every image carries a label with the hash of what it was built from; an image whose hash
 * matches is not built again (and a rebuild reuses Docker's layer cache: the dependencies sit in
 * a layer before the code).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import type Docker from "dockerode";
import * as tar from "tar";
import { PraaSError } from "../../protocol/index.js";

export const RUNTIME_IMAGE = "praas-runtime";
export const CONTROL_PLANE_IMAGE = "praas-control-plane";
export const LOCAL_BASE_IMAGE = "praas-node-base:local";
export const DEFAULT_BASE_IMAGE = "node:20-slim";
export const LOCAL_REDIS_IMAGE = "praas-redis:local";
export const LOCAL_HAPROXY_IMAGE = "praas-haproxy:local";
const HASH_LABEL = "praas.context-hash";

export interface BuildImagesOptions {
  /** The checkout to build from (holds dist/, package.json, node_modules, deploy/docker). */
  root: string;
  tag?: string;
  /** Make and use LOCAL_BASE_IMAGE instead of pulling `base`. */
  localBase?: boolean;
  base?: string;
  /** One line per step, for a human. */
  progress?: (line: string) => void;
}

export interface BuiltImages {
  runtime: string;
  controlPlane: string;
  /** Images that were already up to date. */
  reused: string[];
  /** With `localBase`: the Redis and HAProxy images made from this machine's binaries. */
  services: string[];
}

export async function buildImages(
  docker: Docker,
  options: BuildImagesOptions,
): Promise<BuiltImages> {
  const progress = options.progress ?? (() => undefined);
  const tag = options.tag ?? "latest";
  if (!existsSync(path.join(options.root, "dist", "runtime", "main.js")))
    throw new PraaSError("BAD_REQUEST", `no build in ${options.root}/dist: run npm run build`);
  const base = options.localBase
    ? await makeLocalBase(docker, progress)
    : (options.base ?? DEFAULT_BASE_IMAGE);
  const services = options.localBase ? await makeLocalServiceImages(docker, progress) : [];
  const files = await contextFiles(options.root);
  const hash = await contextHash(docker, options.root, files, base);
  const reused: string[] = [];
  const built = {
    runtime: `${RUNTIME_IMAGE}:${tag}`,
    controlPlane: `${CONTROL_PLANE_IMAGE}:${tag}`,
  };
  for (const [image, dockerfile] of [
    [built.runtime, "Dockerfile.runtime"],
    [built.controlPlane, "Dockerfile.control-plane"],
  ] as const) {
    if ((await labelOf(docker, image, HASH_LABEL)) === hash) {
      progress(`${image} is up to date`);
      reused.push(image);
      continue;
    }
    progress(`building ${image} from deploy/docker/${dockerfile} (base ${base})`);
    const previous = await imageId(docker, image);
    await buildOne(docker, options.root, files, { image, dockerfile, base, hash }, progress);
    await removeReplaced(docker, image, previous);
  }
  return { ...built, reused, services };
}

/** The value of an image's label, or undefined when there is no such image. */
export async function labelOf(
  docker: Docker,
  image: string,
  label: string,
): Promise<string | undefined> {
  try {
    const info = await docker.getImage(image).inspect();
    return info.Config.Labels?.[label];
  } catch {
    return undefined;
  }
}

async function imageId(docker: Docker, image: string): Promise<string | undefined> {
  return (
    await docker
      .getImage(image)
      .inspect()
      .catch(() => undefined)
  )?.Id;
}

/** The image the tag named before the build, now untagged: removed, unless a container uses it. */
async function removeReplaced(
  docker: Docker,
  image: string,
  previous: string | undefined,
): Promise<void> {
  if (previous === undefined || previous === (await imageId(docker, image))) return;
  await docker
    .getImage(previous)
    .remove()
    .catch(() => undefined);
}

/** What goes into the build context, relative to the root. */
async function contextFiles(root: string): Promise<string[]> {
  const lock = JSON.parse(await readFile(path.join(root, "package-lock.json"), "utf8")) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const modules = Object.entries(lock.packages)
    .filter(([at, entry]) => isTopLevelModule(at) && entry.dev !== true)
    .map(([at]) => at)
    .filter((at) => existsSync(path.join(root, at))); // optional ones for other platforms are absent
  return ["package.json", "package-lock.json", "dist", "examples", "deploy/docker", ...modules];
}

function isTopLevelModule(at: string): boolean {
  return at.startsWith("node_modules/") && at.split("node_modules/").length === 2;
}

/** The dist files, the lockfile (the modules follow it), the Dockerfiles and the base image. */
async function contextHash(
  docker: Docker,
  root: string,
  files: string[],
  base: string,
): Promise<string> {
  const hash = createHash("sha256");
  const baseId =
    (
      await docker
        .getImage(base)
        .inspect()
        .catch(() => undefined)
    )?.Id ?? base;
  hash.update(baseId);
  for (const top of files.filter((file) => !file.startsWith("node_modules/"))) {
    for (const file of await walk(path.join(root, top))) {
      hash.update(path.relative(root, file));
      hash.update(await readFile(file));
    }
  }
  return hash.digest("hex").slice(0, 32);
}

async function walk(at: string): Promise<string[]> {
  if (!existsSync(at)) return [];
  const entries = await readdir(at, { withFileTypes: true }).catch(() => undefined);
  if (entries === undefined) return [at]; // a file
  const nested = await Promise.all(
    entries
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((entry) => walk(path.join(at, entry.name))),
  );
  return nested.flat();
}

interface ImageTarget {
  image: string;
  dockerfile: string;
  base: string;
  hash: string;
}

async function buildOne(
  docker: Docker,
  root: string,
  files: string[],
  target: ImageTarget,
  progress: (line: string) => void,
): Promise<void> {
  const context = tar.c({ cwd: root, portable: true }, files) as unknown as Readable;
  const stream = await docker.buildImage(context, {
    t: target.image,
    dockerfile: `deploy/docker/${target.dockerfile}`,
    buildargs: { BASE: target.base },
    labels: { [HASH_LABEL]: target.hash },
  });
  await followBuild(docker, stream, progress);
}

interface BuildEvent {
  stream?: string;
  status?: string;
  error?: string;
}

/** Resolves when the build stream ends; rejects on its first error event. */
function followBuild(
  docker: Docker,
  stream: NodeJS.ReadableStream,
  progress: (line: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null, events: BuildEvent[]) => {
        const failed = error?.message ?? events.find((event) => event.error)?.error;
        if (failed) reject(new PraaSError("BACKEND_ERROR", `docker build failed: ${failed}`));
        else resolve();
      },
      (event: BuildEvent) => {
        const line = (event.stream ?? event.status ?? "").trim();
        if (line.startsWith("Step ") || line.includes("Using cache")) progress(`  ${line}`);
      },
    );
  });
}

/**
 * LOCAL_BASE_IMAGE: this machine's node (as /usr/local/bin/node, where the official image has
 * it), the shared libraries `ldd` lists and the loader, and a /tmp. Made once per Node version.
 */
export async function makeLocalBase(
  docker: Docker,
  progress: (line: string) => void,
): Promise<string> {
  if ((await labelOf(docker, LOCAL_BASE_IMAGE, "praas.node-version")) === process.version) {
    progress(`${LOCAL_BASE_IMAGE} is up to date (node ${process.version})`);
    return LOCAL_BASE_IMAGE;
  }
  progress(`making ${LOCAL_BASE_IMAGE} from ${process.execPath} (node ${process.version})`);
  await importStaged(docker, LOCAL_BASE_IMAGE, stageNode, progress, [
    "ENV PATH=/usr/local/bin:/usr/bin:/bin",
    `LABEL praas.node-version=${process.version}`,
  ]);
  return LOCAL_BASE_IMAGE;
}

/** Imports a root file system that `stage` fills in a temporary directory as `image`. */
async function importStaged(
  docker: Docker,
  image: string,
  stage: (dir: string) => Promise<void>,
  progress: (line: string) => void,
  changes: string[],
): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "praas-base-"));
  try {
    await stage(dir);
    const [repo = "", tag = ""] = image.split(":");
    const archive = tar.c({ cwd: dir, portable: false }, ["."]) as unknown as Readable;
    const stream = await docker.importImage(archive, {
      repo,
      tag,
      changes,
    } as unknown as Record<string, unknown>);
    await followBuild(docker, stream, progress);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A service image made from one host binary (same paths and default command as the official one). */
interface ServiceImage {
  image: string;
  binary: string;
  /** Where the official image has the binary. */
  at: string;
  /** Directories the service needs (besides /tmp). */
  dirs: string[];
  changes: string[];
}

/**
 * Redis and HAProxy for the compose stacks (deploy/docker-compose*.yml) on machines that cannot
 * pull `redis:7` / `haproxy:2.6`: made from this machine's binaries when they are installed.
 */
const SERVICE_IMAGES: ServiceImage[] = [
  {
    image: LOCAL_REDIS_IMAGE,
    binary: "/usr/bin/redis-server",
    at: "/usr/local/bin/redis-server",
    dirs: ["data"],
    changes: ["WORKDIR /data", "EXPOSE 6379", 'CMD ["redis-server"]'],
  },
  {
    image: LOCAL_HAPROXY_IMAGE,
    binary: "/usr/sbin/haproxy",
    at: "/usr/local/sbin/haproxy",
    dirs: ["usr/local/etc/haproxy", "var/lib/haproxy"],
    changes: ['CMD ["haproxy", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]'],
  },
];

/** Makes the service images whose binary is installed; the names of those made or up to date. */
export async function makeLocalServiceImages(
  docker: Docker,
  progress: (line: string) => void,
): Promise<string[]> {
  const made: string[] = [];
  for (const service of SERVICE_IMAGES) {
    if (!existsSync(service.binary)) {
      progress(`no ${service.binary}: ${service.image} not made`);
      continue;
    }
    await makeServiceImage(docker, service, progress);
    made.push(service.image);
  }
  return made;
}

async function makeServiceImage(
  docker: Docker,
  service: ServiceImage,
  progress: (line: string) => void,
): Promise<void> {
  const binaryHash = createHash("sha256")
    .update(await readFile(service.binary))
    .digest("hex")
    .slice(0, 32);
  if ((await labelOf(docker, service.image, "praas.binary-hash")) === binaryHash) {
    progress(`${service.image} is up to date`);
    return;
  }
  progress(`making ${service.image} from ${service.binary}`);
  const stage = async (dir: string): Promise<void> => {
    await stageBinary(service.binary, path.join(dir, service.at), dir);
    for (const sub of service.dirs) await mkdir(path.join(dir, sub), { recursive: true });
  };
  await importStaged(docker, service.image, stage, progress, [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    `LABEL praas.binary-hash=${binaryHash}`,
    ...service.changes,
  ]);
}

async function stageNode(stage: string): Promise<void> {
  await stageBinary(process.execPath, path.join(stage, "usr/local/bin/node"), stage);
}

/** The binary at `to`, the libraries and loader it links at their own paths, and a /tmp. */
async function stageBinary(binary: string, to: string, stage: string): Promise<void> {
  await place(binary, to);
  for (const library of sharedLibraries(binary)) await place(library, path.join(stage, library));
  await mkdir(path.join(stage, "tmp"), { recursive: true });
  await chmod(path.join(stage, "tmp"), 0o1777);
}

/** Copies a file (following symlinks) to `to`, keeping its mode. */
async function place(from: string, to: string): Promise<void> {
  await mkdir(path.dirname(to), { recursive: true });
  await copyFile(from, to);
}

/** Absolute paths of the libraries and the loader `ldd` lists for `binary`. */
function sharedLibraries(binary: string): string[] {
  const listing = execFileSync("ldd", [binary], { encoding: "utf8" });
  return [...listing.matchAll(/(\/[^\s]+) \(0x/g)]
    .map((match) => match[1] ?? "")
    .filter((file) => file !== "");
}

/** Why the docker backend cannot run here (no engine, no runtime image), or undefined. */
export async function dockerUnavailable(
  docker: Docker,
  image = `${RUNTIME_IMAGE}:latest`,
): Promise<string | undefined> {
  try {
    await docker.ping();
  } catch {
    return "no Docker engine reachable";
  }
  if ((await labelOf(docker, image, HASH_LABEL)) === undefined)
    return `no ${image} image (praas images build --local-base)`;
  return undefined;
}
