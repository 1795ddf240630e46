/**
 * The options every client command shares (`--url`, `--token`, `--ca`, `--json`) and the SDK
 * client they configure. Environment defaults arrive as a {@link CliEnv} read by main.ts.
 */
import { readFile } from "node:fs/promises";

import type { Command } from "commander";

import { PraaSError } from "../protocol/errors.js";
import type { PraaS } from "../sdk/client.js";
import type { OutputFlags } from "./output.js";

/** `PRAAS_URL`, `PRAAS_API_TOKEN` and `PRAAS_CA`, as main.ts found them. */
export interface CliEnv {
  url?: string | undefined;
  token?: string | undefined;
  ca?: string | undefined;
}

export interface ClientFlags extends OutputFlags {
  url?: string;
  token?: string;
  ca?: string;
}

export const DEFAULT_URL = "http://127.0.0.1:8080";

export function addClientOptions(command: Command): Command {
  return command
    .option("--url <URL>", `control-plane URL (default: $PRAAS_URL, else ${DEFAULT_URL})`)
    .option("--token <TOKEN>", "API token (default: $PRAAS_API_TOKEN)")
    .option("--ca <FILE>", "PEM CA certificate that signed the server's (default: $PRAAS_CA)")
    .option("--json", "print the result as JSON");
}

// An empty variable (`PRAAS_URL= praas ...`) counts as unset.
function firstSet(...values: (string | undefined)[]): string | undefined {
  return values.find((value) => value !== undefined && value !== "");
}

async function readCa(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new PraaSError("BAD_REQUEST", `cannot read CA certificate ${path}: ${reason}`);
  }
}

export async function openClient(flags: ClientFlags, env: CliEnv): Promise<PraaS> {
  const url = firstSet(flags.url, env.url) ?? DEFAULT_URL;
  const token = firstSet(flags.token, env.token);
  const caPath = firstSet(flags.ca, env.ca);
  const ca = caPath === undefined ? undefined : await readCa(caPath);
  // Loaded on use, so that `--help`, `--version` and usage errors answer at once.
  const { PraaS } = await import("../sdk/client.js");
  return new PraaS(url, { ...(token ? { token } : {}), ...(ca ? { ca } : {}) });
}

/** Runs `use` with a client and closes it afterwards, so keep-alive sockets do not hold the CLI. */
export async function withClient<T>(
  flags: ClientFlags,
  env: CliEnv,
  use: (client: PraaS) => Promise<T>,
): Promise<T> {
  const client = await openClient(flags, env);
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}
