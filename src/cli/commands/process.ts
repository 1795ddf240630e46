/** `praas process create|ls|get|state|swap|resume|rm`: the lifecycle of cloud processes. */
import { InvalidArgumentError, type Command } from "commander";

import {
  parseDurability,
  type CreateProcessBody,
  type Durability,
  type ProcessLimits,
  type ProcessStateInfo,
} from "../../protocol/index.js";
import {
  collectLimit,
  parseDurationOption,
  parsePositiveInteger,
  parsePositiveNumber,
} from "../arguments.js";
import { addClientOptions, withClient, type CliEnv, type ClientFlags } from "../client-options.js";
import { formatBytes, printResult } from "../output.js";
import { withProgress } from "../progress.js";
import { renderProcess, renderProcessList } from "../render.js";

interface CreateFlags extends ClientFlags {
  vcpus?: number;
  memory?: number;
  limit?: ProcessLimits;
  durability?: Durability;
  idleSwap?: number;
}

function resources(flags: CreateFlags): CreateProcessBody {
  const body: CreateProcessBody = {};
  if (flags.vcpus !== undefined) body.vcpus = flags.vcpus;
  if (flags.memory !== undefined) body.memory = flags.memory;
  if (flags.limit !== undefined) body.limits = flags.limit;
  if (flags.durability !== undefined) body.durability = flags.durability;
  if (flags.idleSwap !== undefined) body.idleSwap = flags.idleSwap;
  return body;
}

async function create(app: string, name: string, flags: CreateFlags, env: CliEnv): Promise<void> {
  const handle = await withClient(flags, env, (client) =>
    withProgress(`starting ${app}/${name}`, () =>
      client.createProcess(app, name, resources(flags)),
    ),
  );
  printResult(flags, handle.info, renderProcess);
}

async function list(app: string, flags: ClientFlags, env: CliEnv): Promise<void> {
  const processes = await withClient(flags, env, (client) => client.listProcesses(app));
  printResult(flags, processes, renderProcessList);
}

async function get(app: string, name: string, flags: ClientFlags, env: CliEnv): Promise<void> {
  const handle = await withClient(flags, env, (client) => client.getProcess(app, name));
  printResult(flags, handle.info, renderProcess);
}

/** Prints a description to dial now (behind NAT: with a fresh single-use pairing ticket). */
async function connectInfo(
  app: string,
  name: string,
  flags: ClientFlags,
  env: CliEnv,
): Promise<void> {
  const info = await withClient(flags, env, (client) => client.connectionInfo(app, name));
  process.stdout.write(`${JSON.stringify(info)}\n`);
}

/** Lists the state's keys and value sizes, one per line (values stay in the process). */
async function state(app: string, name: string, flags: ClientFlags, env: CliEnv): Promise<void> {
  const listing = await withClient(flags, env, (client) => client.processState(app, name));
  printResult(flags, listing, renderState);
}

function renderState(listing: ProcessStateInfo): string {
  const lines = listing.keys.map((entry) => `${entry.key}  ${formatBytes(entry.size)}`);
  const shown = listing.keys.length < listing.totalKeys ? `, ${listing.keys.length} shown` : "";
  lines.push(`${listing.totalKeys} keys, ${formatBytes(listing.totalBytes)}${shown}`);
  return lines.join("\n");
}

async function swap(app: string, name: string, flags: ClientFlags, env: CliEnv): Promise<void> {
  const info = await withClient(flags, env, (client) =>
    withProgress(`swapping out ${app}/${name}`, () => client.swap(app, name)),
  );
  const size = info.stateSize === undefined ? "" : ` (${formatBytes(info.stateSize)} of state)`;
  printResult(flags, info, () => `swapped out ${app}/${name}${size}`);
}

async function resume(app: string, name: string, flags: ClientFlags, env: CliEnv): Promise<void> {
  const handle = await withClient(flags, env, (client) =>
    withProgress(`resuming ${app}/${name}`, () => client.resume(app, name)),
  );
  printResult(flags, handle.info, renderProcess);
}

async function upgrade(app: string, name: string, flags: ClientFlags, env: CliEnv): Promise<void> {
  const handle = await withClient(flags, env, (client) =>
    withProgress(`upgrading ${app}/${name}`, () => client.upgrade(app, name)),
  );
  printResult(flags, handle.info, renderProcess);
}

async function remove(app: string, name: string, flags: ClientFlags, env: CliEnv): Promise<void> {
  await withClient(flags, env, (client) =>
    withProgress(`deleting ${app}/${name}`, () => client.deleteProcess(app, name)),
  );
  printResult(flags, { deleted: name }, () => `deleted process ${app}/${name}`);
}

function durabilityFlag(value: string): Durability {
  try {
    return parseDurability(value, "--durability");
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
}

type ProcessAction = (app: string, name: string, flags: ClientFlags, env: CliEnv) => Promise<void>;

/** Adds `process <verb> <app> <name>` with the client options. */
function addNamed(group: Command, verb: string, description: string): Command {
  const command = group
    .command(verb)
    .description(description)
    .argument("<app>", "application name")
    .argument("<name>", "process name");
  return addClientOptions(command);
}

export function registerProcess(program: Command, env: CliEnv): void {
  const group = program
    .command("process")
    .description("create, inspect, swap and delete processes");
  addNamed(group, "create", "create a process and wait until it is active")
    .option("--vcpus <n>", "vCPUs (default: the application's)", parsePositiveNumber)
    .option("--memory <mib>", "memory in MiB (default: the application's)", parsePositiveInteger)
    .option(
      "--limit <key=value>",
      "a process limit, e.g. maxConnections=10 (repeatable; default: the application's)",
      collectLimit,
    )
    .option(
      "--durability <mode>",
      "memory (default: state survives swaps) or log (every acknowledged write survives a crash)",
      durabilityFlag,
    )
    .option(
      "--idle-swap <duration>",
      "swap out after this long unused, e.g. 10m, 30s (0: never; default: praas up --idle-swap)",
      parseDurationOption,
    )
    .action((app: string, name: string, flags: CreateFlags) => create(app, name, flags, env));
  addClientOptions(
    group
      .command("ls")
      .alias("list")
      .description("list an application's processes: active, swapped and failed")
      .argument("<app>", "application name"),
  ).action((app: string, flags: ClientFlags) => list(app, flags, env));
  const named: [string, string, ProcessAction, string?][] = [
    ["get", "describe a process: status, resources, endpoint, state size", get],
    [
      "connect",
      "print a connection description to dial now, as JSON (behind NAT: with a pairing ticket)",
      connectInfo,
    ],
    ["state", "list the state keys of an active process with their value sizes", state],
    ["swap", "swap a process out: store its state and release its resources", swap],
    ["resume", "swap a process back in and wait until it is active", resume],
    [
      "upgrade",
      "move an active process to the application's current version (state kept)",
      upgrade,
    ],
    ["rm", "stop a process (if active) and delete its stored state", remove, "delete"],
  ];
  for (const [verb, description, action, alias] of named) {
    const command = addNamed(group, verb, description);
    if (alias !== undefined) command.alias(alias);
    command.action((app: string, name: string, flags: ClientFlags) =>
      action(app, name, flags, env),
    );
  }
}
