/**
 * `praas secrets set|ls|rm`: application secrets. A value is read from stdin, never from the
 * command line (where shell history and `ps` would keep it): typed at a prompt without echo on
 * a terminal, else piped (one trailing newline dropped, as `echo` adds it).
 */
import { createInterface } from "node:readline/promises";
import { Writable } from "node:stream";
import type { Command } from "commander";

import { addClientOptions, withClient, type CliEnv, type ClientFlags } from "../client-options.js";
import { printResult } from "../output.js";
import { readStream } from "../payload.js";

async function readValue(key: string): Promise<string> {
  if (!process.stdin.isTTY)
    return (await readStream(process.stdin)).toString("utf8").replace(/\r?\n$/, "");
  process.stderr.write(`value of ${key} (not echoed): `);
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  const prompt = createInterface({ input: process.stdin, output: silent, terminal: true });
  try {
    return await prompt.question("");
  } finally {
    prompt.close();
    process.stderr.write("\n");
  }
}

async function set(app: string, key: string, flags: ClientFlags, env: CliEnv): Promise<void> {
  const value = await readValue(key);
  const info = await withClient(flags, env, (client) => client.setSecret(app, key, value));
  printResult(
    flags,
    info,
    () =>
      `${app}: secret ${key} set (version ${info.version}; \`praas process upgrade\` moves running processes to it)`,
  );
}

async function list(app: string, flags: ClientFlags, env: CliEnv): Promise<void> {
  const secrets = await withClient(flags, env, (client) => client.listSecrets(app));
  printResult(flags, { secrets }, () => (secrets.length === 0 ? "no secrets" : secrets.join("\n")));
}

async function remove(app: string, key: string, flags: ClientFlags, env: CliEnv): Promise<void> {
  const info = await withClient(flags, env, (client) => client.deleteSecret(app, key));
  printResult(flags, info, () => `${app}: secret ${key} removed (version ${info.version})`);
}

export function registerSecrets(program: Command, env: CliEnv): void {
  const secrets = program
    .command("secrets")
    .description(
      "application secrets: environment variables kept by the control plane, never shown",
    );
  addClientOptions(
    secrets
      .command("set")
      .description(
        "set a secret; its value is read from stdin (prompted without echo on a terminal); " +
          "refused (BUILD_FAILED) if the current code would not load with it",
      )
      .argument("<app>", "application name")
      .argument("<key>", "environment variable name, e.g. API_KEY"),
  ).action((app: string, key: string, flags: ClientFlags) => set(app, key, flags, env));
  addClientOptions(
    secrets
      .command("ls")
      .alias("list")
      .description("list the names of an application's secrets")
      .argument("<app>", "application name"),
  ).action((app: string, flags: ClientFlags) => list(app, flags, env));
  addClientOptions(
    secrets
      .command("rm")
      .alias("delete")
      .description(
        "remove a secret; refused (BUILD_FAILED) if the current code would not load without it",
      )
      .argument("<app>", "application name")
      .argument("<key>", "environment variable name"),
  ).action((app: string, key: string, flags: ClientFlags) => remove(app, key, flags, env));
}
