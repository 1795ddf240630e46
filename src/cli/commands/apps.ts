/** `praas apps ls|get|rm`: list, describe and delete applications. */
import type { Command } from "commander";

import { addClientOptions, withClient, type CliEnv, type ClientFlags } from "../client-options.js";
import { PraaSError } from "../../protocol/index.js";
import { parsePositiveInteger } from "../arguments.js";
import { printResult } from "../output.js";
import { renderApp, renderAppList } from "../render.js";

interface RemoveFlags extends ClientFlags {
  force?: boolean;
}

interface RollbackFlags extends ClientFlags {
  to?: number;
}

async function list(flags: ClientFlags, env: CliEnv): Promise<void> {
  const apps = await withClient(flags, env, (client) => client.listApplications());
  printResult(flags, { apps }, ({ apps: all }) => renderAppList(all));
}

async function get(app: string, flags: ClientFlags, env: CliEnv): Promise<void> {
  const info = await withClient(flags, env, (client) => client.getApplication(app));
  printResult(flags, info, renderApp);
}

/** The API's refusal names its query parameter; on the command line the switch is `--force`. */
function withForceHint(error: unknown, app: string): unknown {
  if (!(error instanceof PraaSError) || error.code !== "INVALID_STATE") return error;
  const message = error.message.replace(/;.*$/, "");
  const hint = `run \`praas apps rm ${app} --force\` to delete them with it`;
  return new PraaSError("INVALID_STATE", `${message}; ${hint}`);
}

async function remove(app: string, flags: RemoveFlags, env: CliEnv): Promise<void> {
  const force = flags.force === true;
  try {
    await withClient(flags, env, (client) => client.deleteApplication(app, { force }));
  } catch (error) {
    throw withForceHint(error, app);
  }
  printResult(flags, { deleted: app }, () => `deleted application ${app}`);
}

async function rollback(app: string, flags: RollbackFlags, env: CliEnv): Promise<void> {
  const options = flags.to === undefined ? {} : { to: flags.to };
  const info = await withClient(flags, env, (client) => client.rollback(app, options));
  const source = info.versions.at(-1)?.rollbackOf;
  printResult(
    flags,
    info,
    () => `${app} version ${info.version} runs version ${source}'s code\n${renderApp(info)}`,
  );
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
  addClientOptions(
    apps
      .command("rollback")
      .description(
        "make an earlier version current again, as a new version (`process upgrade` moves running processes to it)",
      )
      .argument("<app>", "application name")
      .option(
        "--to <version>",
        "the version to run again (default: the previous one)",
        parsePositiveInteger,
      ),
  ).action((app: string, flags: RollbackFlags) => rollback(app, flags, env));
}
