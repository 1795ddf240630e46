/** `praas apps ls|get|rm`: list, describe and delete applications. */
import type { Command } from "commander";

import { addClientOptions, withClient, type CliEnv, type ClientFlags } from "../client-options.js";
import { printResult } from "../output.js";
import { renderApp, renderAppList } from "../render.js";

interface RemoveFlags extends ClientFlags {
  force?: boolean;
}

async function list(flags: ClientFlags, env: CliEnv): Promise<void> {
  const apps = await withClient(flags, env, (client) => client.listApplications());
  printResult(flags, { apps }, ({ apps: all }) => renderAppList(all));
}

async function get(app: string, flags: ClientFlags, env: CliEnv): Promise<void> {
  const info = await withClient(flags, env, (client) => client.getApplication(app));
  printResult(flags, info, renderApp);
}

async function remove(app: string, flags: RemoveFlags, env: CliEnv): Promise<void> {
  const force = flags.force === true;
  await withClient(flags, env, (client) => client.deleteApplication(app, { force }));
  printResult(flags, { deleted: app }, () => `deleted application ${app}`);
}

export function registerApps(program: Command, env: CliEnv): void {
  const apps = program.command("apps").description("list, describe and delete applications");
  addClientOptions(
    apps.command("ls").alias("list").description("list the deployed applications"),
  ).action((flags: ClientFlags) => list(flags, env));
  addClientOptions(
    apps
      .command("get")
      .description("describe an application: version, functions, defaults")
      .argument("<app>", "application name"),
  ).action((app: string, flags: ClientFlags) => get(app, flags, env));
  addClientOptions(
    apps
      .command("rm")
      .alias("delete")
      .description("delete an application (refused while it has processes, unless --force)")
      .argument("<app>", "application name")
      .option("--force", "delete it even while it has processes"),
  ).action((app: string, flags: RemoveFlags) => remove(app, flags, env));
}
