/** `praas deploy DIR [--app NAME]`: pack a directory and create or update the application. */
import { stat } from "node:fs/promises";
import { basename, resolve } from "node:path";

import type { Command } from "commander";

import { readManifest } from "../../apps/manifest.js";
import { PraaSError } from "../../protocol/errors.js";
import type { AppInfo } from "../../protocol/index.js";
import type { PraaS } from "../../sdk/index.js";
import { addClientOptions, withClient, type CliEnv, type ClientFlags } from "../client-options.js";
import { printResult } from "../output.js";
import { withProgress } from "../progress.js";
import { renderApp } from "../render.js";

interface DeployFlags extends ClientFlags {
  app?: string;
  upgrade?: boolean;
}

async function assertDirectory(dir: string): Promise<void> {
  const isDirectory = await stat(dir).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
  if (!isDirectory) throw new PraaSError("BAD_REQUEST", `${dir} is not a directory`);
}

/** `--app`, else the manifest's name, else the directory's own name. */
async function applicationName(dir: string, flag: string | undefined): Promise<string> {
  if (flag !== undefined) return flag;
  const manifest = await readManifest(dir);
  return manifest.name ?? basename(resolve(dir));
}

interface Upgrades {
  upgraded: string[];
  /** Processes that stay on their version, each with why. */
  failed: { process: string; error: PraaSError }[];
}

/**
 * Moves the application's active processes that run an older version, one at a time; one that
 * cannot move (e.g. its swap finds a full disk) stays on its version and the others go on.
 */
async function upgradeAll(client: PraaS, info: AppInfo): Promise<Upgrades> {
  const { active } = await client.listProcesses(info.name);
  const outdated = active.filter((p) => p.status === "active" && p.version !== info.version);
  const result: Upgrades = { upgraded: [], failed: [] };
  for (const { name } of outdated) {
    await withProgress(`upgrading ${info.name}/${name}`, () => client.upgrade(info.name, name))
      .then(() => result.upgraded.push(name))
      .catch((error: unknown) => result.failed.push({ process: name, error: asPraaSError(error) }));
  }
  return result;
}

function asPraaSError(error: unknown): PraaSError {
  return error instanceof PraaSError ? error : new PraaSError("INTERNAL", String(error));
}

/** The deploy stands even when an upgrade failed: say so after its result, and exit 1. */
function upgradeFailure(app: string, failed: Upgrades["failed"]): PraaSError | undefined {
  const [first] = failed;
  if (first === undefined) return undefined;
  const names = failed.map((f) => f.process).join(", ");
  return new PraaSError(
    first.error.code,
    `deployed ${app}, but could not upgrade ${names} (they keep their version): ${first.error.message}`,
  );
}

async function deploy(dir: string, flags: DeployFlags, env: CliEnv): Promise<void> {
  await assertDirectory(dir);
  const app = await applicationName(dir, flags.app);
  const none: Upgrades = { upgraded: [], failed: [] };
  const { info, upgrades } = await withClient(flags, env, async (client) => {
    const deployed = await withProgress(`deploying ${app} from ${dir}`, () =>
      client.deploy(app, dir),
    );
    return { info: deployed, upgrades: flags.upgrade ? await upgradeAll(client, deployed) : none };
  });
  const { upgraded, failed } = upgrades;
  const moved = upgraded.length === 0 ? "" : `\nupgraded ${upgraded.join(", ")}`;
  const notUpgraded = failed.map(({ process, error }) => ({ process, error: error.toRecord() }));
  printResult(
    flags,
    { ...info, upgraded, ...(failed.length > 0 ? { notUpgraded } : {}) },
    () => `deployed ${info.name}\n${renderApp(info)}${moved}`,
  );
  const failure = upgradeFailure(info.name, failed);
  if (failure) throw failure;
}

export function registerDeploy(program: Command, env: CliEnv): void {
  const command = program
    .command("deploy")
    .description("deploy (create or update) the application in a directory")
    .argument("<dir>", "application directory (an entry module and an optional praas.json)")
    .option("--app <name>", "application name (default: praas.json's name, else the directory's)")
    .option("--upgrade", "then move the active processes to the new version (state kept)");
  addClientOptions(command).action((dir: string, flags: DeployFlags) => deploy(dir, flags, env));
}
