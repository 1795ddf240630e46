/** `praas deploy DIR [--app NAME]`: pack a directory and create or update the application. */
import { stat } from "node:fs/promises";
import { basename, resolve } from "node:path";

import type { Command } from "commander";

import { readManifest } from "../../apps/manifest.js";
import { PraaSError } from "../../protocol/errors.js";
import { addClientOptions, withClient, type CliEnv, type ClientFlags } from "../client-options.js";
import { printResult } from "../output.js";
import { withProgress } from "../progress.js";
import { renderApp } from "../render.js";

interface DeployFlags extends ClientFlags {
  app?: string;
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

async function deploy(dir: string, flags: DeployFlags, env: CliEnv): Promise<void> {
  await assertDirectory(dir);
  const app = await applicationName(dir, flags.app);
  const info = await withClient(flags, env, (client) =>
    withProgress(`deploying ${app} from ${dir}`, () => client.deploy(app, dir)),
  );
  printResult(flags, info, (deployed) => `deployed ${deployed.name}\n${renderApp(deployed)}`);
}

export function registerDeploy(program: Command, env: CliEnv): void {
  const command = program
    .command("deploy")
    .description("deploy (create or update) the application in a directory")
    .argument("<dir>", "application directory (an entry module and an optional praas.json)")
    .option("--app <name>", "application name (default: praas.json's name, else the directory's)");
  addClientOptions(command).action((dir: string, flags: DeployFlags) => deploy(dir, flags, env));
}
