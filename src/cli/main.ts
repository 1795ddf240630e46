#!/usr/bin/env node
/**
 * The `praas` executable: the CLI's edge, and the only place that reads environment variables
 * (commands get them as a CliEnv). Any failure ends as one `error [CODE]: message` line on
 * stderr (a JSON error record with `--json`) and exit code 1.
 */
import { readFileSync } from "node:fs";

import { Command } from "commander";

import type { CliEnv } from "./client-options.js";
import { registerApps } from "./commands/apps.js";
import { registerCerts } from "./commands/certs.js";
import { registerDeploy } from "./commands/deploy.js";
import { registerDev } from "./commands/dev.js";
import { registerImages } from "./commands/images.js";
import { registerInit } from "./commands/init.js";
import { registerInvoke } from "./commands/invoke.js";
import { registerLogs } from "./commands/logs.js";
import { registerProcess } from "./commands/process.js";
import { registerRendezvous } from "./commands/rendezvous.js";
import { registerSecrets } from "./commands/secrets.js";
import { registerUp } from "./commands/up.js";
import { moveLeadingClientOptions } from "./leading-options.js";
import { formatUsageError, printError } from "./output.js";

// package.json sits two levels up from both src/cli and dist/cli.
function packageVersion(): string {
  const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
  return (JSON.parse(text) as { version: string }).version;
}

/** Whether `--json` was given as an option (not as an argument after `--`). */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).includes("--json");
}

function buildProgram(env: CliEnv): Command {
  const program = new Command("praas")
    .description("PraaS: stateful serverless processes that can be swapped out and back in")
    .version(packageVersion())
    // Set before any subcommand is added: subcommands copy these settings when created.
    .configureOutput({ outputError: (message, write) => write(formatUsageError(message)) })
    .addHelpText(
      "after",
      "\nClient commands take --url, --token, --ca and --json, before or after the command\n" +
        "(praas --url http://host:8080 apps ls).",
    );
  registerUp(program);
  registerInit(program);
  registerDev(program);
  registerDeploy(program, env);
  registerApps(program, env);
  registerProcess(program, env);
  registerInvoke(program, env);
  registerLogs(program, env);
  registerSecrets(program, env);
  registerCerts(program);
  registerRendezvous(program);
  registerImages(program);
  return program;
}

const env: CliEnv = {
  url: process.env.PRAAS_URL,
  token: process.env.PRAAS_API_TOKEN,
  ca: process.env.PRAAS_CA,
};

try {
  const args = moveLeadingClientOptions(process.argv.slice(2));
  await buildProgram(env).parseAsync(args, { from: "user" });
} catch (error) {
  printError(error, { json: wantsJson(process.argv) });
  process.exitCode = 1;
}
