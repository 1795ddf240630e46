/**
 * The Docker part of the global setup: makes an engine reachable when this machine has one
 * (starts dockerd when it is installed but not running, as root, and remembers that we did),
 * builds the images from the fresh dist/ (`praas images build --local-base`, skipped when they
 * are up to date), and at the end fails the run for any container of this run that is left
 * (the tests label theirs `praas.control-plane=test-<run id>-...`). A dockerd a test run
 * started is stopped by the last run on this machine to finish: each run holds a lease file
 * named by its pid, so one run's teardown never stops the engine another run is using.
 * Without Docker the docker tests skip themselves, saying why.
 */
import { spawn, execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dockerClient, dockerReachable } from "../src/backends/docker/index.js";

const DOCKERD_CANDIDATES = ["/usr/sbin/dockerd", "/usr/bin/dockerd"];
const DOCKERD_START_MS = 30_000;
const DOCKERD_STOP_MS = 30_000;
const LEASES = "/tmp/praas-test-docker-leases";
const DOCKERD_PID_FILE = "/tmp/praas-test-dockerd.pid";
const docker = dockerClient();

export interface DockerRun {
  /** Containers of this run still there; removes them. */
  leftovers(runId: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** Call before the run's marker is in process.env: a dockerd we start must not carry it. */
export async function setUpDocker(): Promise<DockerRun> {
  const lease = takeLease();
  if (!(await dockerReachable(docker))) await startDockerd();
  if (await dockerReachable(docker)) buildImages();
  return { leftovers, stop: () => releaseLease(lease) };
}

function takeLease(): string {
  mkdirSync(LEASES, { recursive: true, mode: 0o777 });
  const lease = `${LEASES}/${process.pid}`;
  writeFileSync(lease, "");
  return lease;
}

/** Stops the dockerd a test run started once no live run holds a lease. */
async function releaseLease(lease: string): Promise<void> {
  rmSync(lease, { force: true });
  // A run killed before its teardown leaves its lease behind: only live runs count.
  const live = readdirSync(LEASES).filter((name) => {
    if (isAlive(Number(name))) return true;
    rmSync(`${LEASES}/${name}`, { force: true });
    return false;
  });
  if (live.length > 0) return;
  const pid = existsSync(DOCKERD_PID_FILE) ? Number(readFileSync(DOCKERD_PID_FILE, "utf8")) : 0;
  rmSync(DOCKERD_PID_FILE, { force: true });
  if (pid > 0 && isDockerd(pid)) await stopDockerd(pid);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function isDockerd(pid: number): boolean {
  try {
    // "(dockerd) S ...": a zombie (Z) has exited already.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.startsWith(`${pid} (dockerd) `) && !stat.includes(") Z ");
  } catch {
    return false;
  }
}

async function startDockerd(): Promise<void> {
  const binary = DOCKERD_CANDIDATES.find((candidate) => existsSync(candidate));
  if (binary === undefined || process.getuid?.() !== 0) return undefined;
  process.stderr.write(`docker-setup: starting ${binary} (log: /tmp/praas-test-dockerd.log)\n`);
  const log = openSync("/tmp/praas-test-dockerd.log", "a");
  const child = spawn(binary, [], { stdio: ["ignore", log, log], detached: true });
  child.unref();
  const deadline = Date.now() + DOCKERD_START_MS;
  while (Date.now() < deadline && child.exitCode === null) {
    if (await dockerReachable(docker)) {
      writeFileSync(DOCKERD_PID_FILE, String(child.pid));
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  process.stderr.write("docker-setup: dockerd did not come up; docker tests will be skipped\n");
  child.kill("SIGTERM");
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

async function stopDockerd(pid: number): Promise<void> {
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + DOCKERD_STOP_MS;
  while (isDockerd(pid) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 100));
}
