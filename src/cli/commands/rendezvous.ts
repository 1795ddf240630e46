/**
 * `praas rendezvous --port P [--host H] [--secret-file F]`: the NAT-traversal rendezvous
 * server (src/rendezvous). The secret signs pairing tickets; the control plane that issues them
 * must hold the same one. It comes from --secret-file (whitespace trimmed) or from
 * PRAAS_RENDEZVOUS_SECRET. Ctrl-C / SIGTERM stop it.
 */
import { readFile } from "node:fs/promises";

import type { Command } from "commander";

import { PraaSError } from "../../protocol/errors.js";
import { integerOption } from "../arguments.js";
import { printError } from "../output.js";

interface RendezvousFlags {
  host: string;
  port: number;
  secretFile?: string;
  maxPending?: number;
  maxRelays?: number;
  relayRate?: number;
  json?: boolean;
}

export function registerRendezvous(program: Command): void {
  program
    .command("rendezvous")
    .description("pair processes and clients behind NAT: hole punching, relay fallback")
    .requiredOption("--port <port>", "TCP port (0: any free port)", integerOption(0, 65535))
    .option("--host <host>", "listen address", "0.0.0.0")
    .option("--secret-file <file>", "ticket signing secret (else PRAAS_RENDEZVOUS_SECRET)")
    .option("--max-pending <n>", "pairings waiting for their second party", integerOption(1))
    .option("--max-relays <n>", "relayed connections at once", integerOption(1))
    .option("--relay-rate <bytes>", "bytes/s per direction of a relay", integerOption(1))
    .option("--json", "print the listening address as a JSON line")
    .action(async (flags: RendezvousFlags) => {
      try {
        await runRendezvous(flags);
      } catch (error) {
        printError(error);
        process.exit(1);
      }
    });
}

async function readSecret(flags: RendezvousFlags): Promise<string> {
  if (flags.secretFile !== undefined) return (await readFile(flags.secretFile, "utf8")).trim();
  const secret = process.env.PRAAS_RENDEZVOUS_SECRET;
  if (secret === undefined || secret === "") {
    throw new PraaSError("BAD_REQUEST", "give --secret-file or PRAAS_RENDEZVOUS_SECRET");
  }
  return secret;
}

async function runRendezvous(flags: RendezvousFlags): Promise<void> {
  // Loaded here, not at the top: the other commands should not pay for it.
  const { RendezvousServer } = await import("../../rendezvous/index.js");
  const server = await RendezvousServer.start({
    host: flags.host,
    port: flags.port,
    secret: await readSecret(flags),
    ...(flags.maxPending === undefined ? {} : { maxPendingPairings: flags.maxPending }),
    ...(flags.maxRelays === undefined ? {} : { maxRelays: flags.maxRelays }),
    ...(flags.relayRate === undefined ? {} : { relayBytesPerSecond: flags.relayRate }),
  });
  const stop = (): void => void server.close().finally(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const { host, port } = server.address;
  const line = flags.json
    ? JSON.stringify({ event: "listening", host, port })
    : `PraaS rendezvous listening on ${host}:${port} (Ctrl-C to stop)`;
  process.stdout.write(`${line}\n`);
}
