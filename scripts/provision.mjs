#!/usr/bin/env node
/**
 * Makes sure the service binaries the tests start by themselves are installed, so that
 * `npm test` works on a fresh machine. Runs before any build (plain JS, no dependencies); shared
 * by `npm test` (pretest) and `.ci/run`. Missing binaries are installed with apt-get when this
 * user may (root, apt-get present); otherwise it stops at once with one message naming the
 * packages to install. The tests start and stop the daemons themselves.
 *
 * PRAAS_ALLOW_SKIP=1 (the tests then skip what they cannot run) turns a missing binary into a
 * warning.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";

/** What the tests start, and where it comes from. Add a row when a test needs a new service. */
const SERVICES = [
  {
    binary: "redis-server",
    aptPackage: "redis-server",
    usedBy: "Redis metadata store, e2e restart",
  },
  {
    binary: "haproxy",
    aptPackage: "haproxy",
    usedBy: "replicated control planes behind a proxy (e2e replicas)",
  },
  { binary: "ip", aptPackage: "iproute2", usedBy: "NAT traversal tests (network namespaces)" },
  { binary: "iptables", aptPackage: "iptables", usedBy: "NAT traversal tests (NAT routers)" },
  // The test run's global setup starts dockerd when it is not running (and stops it after).
  { binary: "dockerd", aptPackage: "docker.io", usedBy: "Docker backend" },
  {
    binary: "docker-compose",
    aptPackage: "docker-compose",
    usedBy: "compose stacks in deploy/ (e2e compose)",
  },
  {
    binary: "chromium",
    aptPackage: "chromium",
    usedBy: "the dashboard's browser test (e2e dashboard)",
  },
];

const log = (line) => process.stderr.write(`provision: ${line}\n`);

/** The executable `name` on PATH (or in the sbin directories apt installs into), or undefined. */
function find(name) {
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter), "/usr/sbin", "/sbin"];
  for (const dir of dirs.filter((d) => d !== "")) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

const missing = () => SERVICES.filter((service) => find(service.binary) === undefined);

function canInstall() {
  return process.platform === "linux" && process.getuid?.() === 0 && find("apt-get") !== undefined;
}

/** Runs apt-get quietly; its output is shown only when it fails. */
function aptGet(args) {
  const result = spawnSync("apt-get", ["-qq", ...args], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (result.status === 0) return true;
  process.stderr.write(`${result.stdout ?? ""}${result.stderr ?? ""}`);
  log(`apt-get ${args.join(" ")} failed (${result.error?.message ?? `exit ${result.status}`})`);
  return false;
}

function install(packages) {
  log(`installing ${packages.join(", ")} with apt-get`);
  log("apt-get update");
  if (!aptGet(["update"])) return false;
  log(`apt-get install ${packages.join(" ")}`);
  if (!aptGet(["install", "-y", "--no-install-recommends", ...packages])) return false;
  log("installed");
  return true;
}

function refuse(services) {
  const packages = services.map((service) => service.aptPackage).join(" ");
  const uses = services.map((service) => `${service.binary} (${service.usedBy})`).join(", ");
  log(
    `the tests need ${uses}, which is not installed; install it and run again: ` +
      `sudo apt-get install -y ${packages}  (or your system's packages of the same name)`,
  );
}

function main() {
  const absent = missing();
  if (absent.length === 0) return 0;
  if (canInstall() && install(absent.map((service) => service.aptPackage))) {
    if (missing().length === 0) return 0;
  }
  const still = missing();
  if (process.env.PRAAS_ALLOW_SKIP === "1") {
    log(
      `PRAAS_ALLOW_SKIP=1: the tests that need ${still.map((s) => s.binary).join(", ")} will be skipped`,
    );
    return 0;
  }
  refuse(still);
  return 1;
}

process.exitCode = main();
