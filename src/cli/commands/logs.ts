/**
 * `praas logs APP [PROC] [--follow] [--since 5m] [--json]`: what an application's functions
 * wrote. One human line per record by default (time, process, function, message); `--json`
 * prints the records as JSON lines. `--follow` keeps printing new lines until Ctrl-C.
 */
import type { Command } from "commander";

import type { LogRecord } from "../../protocol/index.js";
import { addClientOptions, openClient, type CliEnv, type ClientFlags } from "../client-options.js";

interface LogsFlags extends ClientFlags {
  follow?: boolean;
  since?: string;
}

/** `2026-01-01T10:00:00.123Z  c1  add  [warn] message`; continuation lines indented. */
export function humanLine(record: LogRecord): string {
  const time = new Date(record.time).toISOString();
  const fn = record.function ?? "-";
  const level = record.level === "info" || record.level === "debug" ? "" : `[${record.level}] `;
  const message = record.message.replaceAll("\n", "\n    ");
  return `${time}  ${record.process}  ${fn}  ${level}${message}\n`;
}

function printer(json: boolean): (record: LogRecord) => void {
  return (record) =>
    void process.stdout.write(json ? `${JSON.stringify(record)}\n` : humanLine(record));
}

async function logs(app: string, proc: string | undefined, flags: LogsFlags, env: CliEnv) {
  const options = {
    ...(proc ? { process: proc } : {}),
    ...(flags.since ? { since: flags.since } : {}),
  };
  const print = printer(flags.json === true);
  const client = await openClient(flags, env);
  try {
    if (flags.follow !== true) {
      for (const record of await client.logs(app, options)) print(record);
      return;
    }
    const stop = new AbortController();
    process.once("SIGINT", () => stop.abort());
    process.once("SIGTERM", () => stop.abort());
    for await (const record of client.followLogs(app, { ...options, signal: stop.signal }))
      print(record);
  } finally {
    await client.close();
  }
}

export function registerLogs(program: Command, env: CliEnv): void {
  const command = program
    .command("logs")
    .description("print what an application's functions wrote (console, stdout, stderr, errors)")
    .argument("<app>", "application name")
    .argument("[process]", "only this process's lines")
    .option("--follow", "keep printing new lines until interrupted")
    .option("--since <when>", "only lines since a duration back (30s, 5m, 2h) or an ISO time");
  addClientOptions(command).action((app: string, proc: string | undefined, flags: LogsFlags) =>
    logs(app, proc, flags, env),
  );
}
