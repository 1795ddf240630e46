/**
 * The Docker part of the global setup: makes an engine reachable when this machine has one
 * (starts dockerd when it is installed but not running, as root, and remembers that we did),
 * builds the images from the fresh dist/ (`praas images build --local-base`, skipped when they
 * are up to date), and at the end fails the run for any container of this run that is left
 * (the tests label theirs `praas.control-plane=test-<run id>-...`), then stops the dockerd
 * we started. Without Docker the docker tests skip themselves, saying why.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, openSync } from "node:fs";
import { dockerClient, dockerReachable } from "../src/backends/docker/index.js";

const DOCKERD_CANDIDATES = ["/usr/sbin/dockerd", "/usr/bin/dockerd"];
const DOCKERD_START_MS = 30_000;
const docker = dockerClient();

export interface DockerRun {
  /** Containers of this run still there; removes them. */
  leftovers(runId: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** Call before the run's marker is in process.env: a dockerd we start must not carry it. */
export async function setUpDocker(): Promise<DockerRun> {
  const started = (await dockerReachable(docker)) ? undefined : await startDockerd();
  if (await dockerReachable(docker)) buildImages();
  return { leftovers, stop: () => stopDockerd(started) };
}

async function startDockerd(): Promise<ChildProcess | undefined> {
  const binary = DOCKERD_CANDIDATES.find((candidate) => existsSync(candidate));
  if (binary === undefined || process.getuid?.() !== 0) return undefined;
  process.stderr.write(`docker-setup: starting ${binary} (log: /tmp/praas-test-dockerd.log)\n`);
  const log = openSync("/tmp/praas-test-dockerd.log", "a");
  const child = spawn(binary, [], { stdio: ["ignore", log, log], detached: true });
  child.unref();
  const deadline = Date.now() + DOCKERD_START_MS;
  while (Date.now() < deadline && child.exitCode === null) {
    if (await dockerReachable(docker)) return child;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  process.stderr.write("docker-setup: dockerd did not come up; docker tests will be skipped\n");
  child.kill("SIGTERM");
  return undefined;
}

/**
 * Once more when it fails: the engine's build API sometimes drops a connection when several
 * builds run at once (ECONNRESET, EPIPE); a second failure is real.
 */
function buildImages(): void {
  const build = (): Buffer =>
    execFileSync(process.execPath, ["dist/cli/main.js", "images", "build", "--local-base"], {
      stdio: ["ignore", "ignore", "inherit"],
    });
  try {
    build();
  } catch {
    process.stderr.write("image build failed; trying once more\n");
    build();
  }
}

async function leftovers(runId: string): Promise<string[]> {
  if (!(await dockerReachable(docker))) return [];
  const all = await docker.listContainers({
    all: true,
    filters: { label: ["praas.control-plane"] },
  });
  const ours = all.filter((info) =>
    (info.Labels["praas.control-plane"] ?? "").startsWith(`test-${runId}-`),
  );
  for (const info of ours)
    await docker
      .getContainer(info.Id)
      .remove({ force: true })
      .catch(() => undefined);
  return ours.map((info) => `container ${info.Names.join(",")} (${info.State})`);
}

async function stopDockerd(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}
