/**
 * `praas dev [dir]`: a control plane in this process with the application in `dir` deployed,
 * redeployed on every file change (a failed build keeps the running version), its active
 * processes moved to each new version with their state (upgrade), and the functions' logs
 * printed in the same terminal. Ctrl-C stops it; state is swapped out to the data dir first.
 */
import { basename, resolve, sep } from "node:path";
import type { Command } from "commander";

import type { ControlPlane } from "../../control-plane/control-plane.js";
import { readManifest } from "../../apps/manifest.js";
import { MAX_PORT, parseInteger, type AppInfo } from "../../protocol/index.js";
import { printError } from "../output.js";
import { watchTree, type TreeWatcher } from "../watch-tree.js";
import { humanLine } from "./logs.js";

interface DevFlags {
  app?: string;
  host: string;
  port: string;
  dataDir: string;
  json?: boolean;
}

/** Changes within this long of each other make one redeploy (an editor writes several files). */
const SETTLE_MS = 250;

/** Dependencies, VCS data and our own data dir: changes there are not the application's. */
function ignored(file: string): boolean {
  return file.split(sep).some((part) => part === "node_modules" || part.startsWith("."));
}

function say(line: string): void {
  process.stdout.write(`[praas dev] ${line}\n`);
}

async function startPlane(flags: DevFlags): Promise<ControlPlane> {
  const { ControlPlane } = await import("../../control-plane/control-plane.js");
  return ControlPlane.start({
    host: flags.host,
    port: parseInteger(flags.port, "--port", 0, MAX_PORT),
    dataDir: flags.dataDir,
    store: { kind: "file", dir: resolve(flags.dataDir, "metadata") },
    errorStacks: true,
    logLevel: "warn",
    logFormat: process.stderr.isTTY ? "pretty" : "json",
  });
}

/** Deploys `dir`; a build that fails is reported and changes nothing. */
async function deployOnce(
  plane: ControlPlane,
  app: string,
  dir: string,
): Promise<AppInfo | undefined> {
  const { packDirectory } = await import("../../apps/index.js");
  try {
    const info = await plane.deployApp(app, await packDirectory(dir));
    say(`deployed ${app} version ${info.version} (${info.functions.join(", ") || "no functions"})`);
    return info;
  } catch (error) {
    say(`deploy failed; still running the previous version`);
    printError(error);
    return undefined;
  }
}

/** Moves the active processes on an older version to `info`'s, state kept. */
async function upgradeActive(plane: ControlPlane, info: AppInfo): Promise<void> {
  const { active } = await plane.listProcesses(info.name);
  for (const proc of active.filter((p) => p.version !== info.version)) {
    await plane.upgradeProcess(info.name, proc.name).then(
      () => say(`upgraded ${info.name}/${proc.name} to version ${info.version}`),
      (error: unknown) => printError(error),
    );
  }
}

/** Runs `work` after changes settle, one run at a time (a change during a run runs it again). */
function debounced(work: () => Promise<void>): () => void {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  return () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      // A failure is printed and the next change tries again: the session goes on.
      running = running.then(work).catch(printError);
    }, SETTLE_MS);
  };
}

class DevSession {
  #following = false;
  #watcher: TreeWatcher | undefined;

  constructor(
    readonly plane: ControlPlane,
    readonly app: string,
    readonly dir: string,
    readonly json: boolean,
  ) {}

  async start(): Promise<void> {
    await this.#redeploy();
    const redeploy = debounced(() => this.#redeploy());
    this.#watcher = watchTree(this.dir, ignored, redeploy);
  }

  close(): void {
    this.#watcher?.close();
  }

  async #redeploy(): Promise<void> {
    const info = await deployOnce(this.plane, this.app, this.dir);
    if (info === undefined) return;
    this.#followLogs();
    await upgradeActive(this.plane, info);
  }

  /** From the first successful deploy on (before it, the application does not exist). */
  #followLogs(): void {
    if (this.#following) return;
    this.#following = true;
    this.plane.followLogs(this.app, {}, (record) => {
      process.stdout.write(this.json ? `${JSON.stringify(record)}\n` : humanLine(record));
    });
  }
}

async function runDev(dirArg: string, flags: DevFlags): Promise<void> {
  const dir = resolve(dirArg);
  const app = flags.app ?? (await readManifest(dir)).name ?? basename(dir);
  const plane = await startPlane(flags);
  const session = new DevSession(plane, app, dir, flags.json === true);
  const stop = (): void => {
    session.close();
    void plane.stop().finally(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  say(`control plane listening on ${plane.url}; watching ${dir} (Ctrl-C to stop)`);
  await session.start();
}

export function registerDev(program: Command): void {
  program
    .command("dev")
    .description(
      "run a control plane with the application in DIR, redeployed on every change (processes upgraded, state kept), logs streamed",
    )
    .argument("[dir]", "application directory", ".")
    .option("--app <name>", "application name (default: praas.json's name, else the directory's)")
    .option("--host <host>", "HTTP listen address", "127.0.0.1")
    .option("--port <port>", "HTTP port (0: any free port)", "8080")
    .option("--data-dir <dir>", "bundles, swapped state and metadata", ".praas")
    .option("--json", "print log records as JSON lines")
    .action(async (dir: string, flags: DevFlags) => {
      try {
        await runDev(dir, flags);
      } catch (error) {
        printError(error);
        process.exit(1);
      }
    });
}
