/**
 * `praas up`'s NAT-traversal flags: how processes are reached (`--process-reach`), the
 * rendezvous hosted here (`--rendezvous PORT`) or elsewhere (`--rendezvous-url`), and, for the
 * local backend, the network namespaces processes start in (`--process-netns`).
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import type { ControlPlaneOptions, RendezvousOptions } from "../../control-plane/config.js";
import { MAX_PORT, PraaSError, parseInteger, parseProcessReach } from "../../protocol/index.js";

export interface NatFlags {
  processReach?: string;
  rendezvous?: string;
  rendezvousHost?: string;
  rendezvousPublic?: string;
  rendezvousUrl?: string;
  rendezvousSecretFile?: string;
  processNetns?: string;
}

export function addNatOptions(command: Command): Command {
  return command
    .option(
      "--process-reach <how>",
      "how clients and peers reach processes: direct (default), or behind NAT punch (hole " +
        "punching, relay fallback) or relay; punch/relay need a rendezvous",
    )
    .option("--rendezvous <port>", "host a NAT-traversal rendezvous server on this port")
    .option("--rendezvous-host <host>", "the hosted rendezvous's listen address", "0.0.0.0")
    .option(
      "--rendezvous-public <host:port>",
      "where clients and processes reach the hosted rendezvous (default: its listen address)",
    )
    .option("--rendezvous-url <host:port>", "use an external `praas rendezvous` instead")
    .option(
      "--rendezvous-secret-file <file>",
      "ticket secret shared with the rendezvous (default: $PRAAS_RENDEZVOUS_SECRET; random " +
        "when hosted here)",
    )
    .option(
      "--process-netns <ns,...>",
      "local backend: start processes in these network namespaces (root; each new process in " +
        "the one running the fewest)",
    );
}

export async function natOptions(
  flags: NatFlags,
  env: NodeJS.ProcessEnv,
): Promise<Pick<ControlPlaneOptions, "processReach" | "rendezvous" | "processNetns">> {
  return {
    ...(flags.processReach === undefined
      ? {}
      : { processReach: parseProcessReach(flags.processReach, "--process-reach") }),
    ...(flags.processNetns ? { processNetns: flags.processNetns.split(",") } : {}),
    ...(await rendezvousOptions(flags, env)),
  };
}

async function rendezvousOptions(
  flags: NatFlags,
  env: NodeJS.ProcessEnv,
): Promise<{ rendezvous?: RendezvousOptions }> {
  const hosted = flags.rendezvous !== undefined;
  if (!hosted && !flags.rendezvousUrl) return {};
  if (hosted && flags.rendezvousUrl !== undefined)
    throw new PraaSError("BAD_REQUEST", "give --rendezvous or --rendezvous-url, not both");
  const secret = await secretOf(flags, env, hosted);
  if (!hosted) return { rendezvous: { secret, address: flags.rendezvousUrl } };
  return {
    rendezvous: {
      secret,
      port: parseInteger(flags.rendezvous ?? "", "--rendezvous", 0, MAX_PORT),
      host: flags.rendezvousHost,
      address: flags.rendezvousPublic,
    },
  };
}

/** A hosted rendezvous may keep its secret to itself; an external one must share ours. */
async function secretOf(flags: NatFlags, env: NodeJS.ProcessEnv, hosted: boolean) {
  if (flags.rendezvousSecretFile !== undefined)
    return (await readFile(flags.rendezvousSecretFile, "utf8")).trim();
  const fromEnv = env.PRAAS_RENDEZVOUS_SECRET;
  if (fromEnv) return fromEnv;
  if (hosted) return randomBytes(24).toString("base64url");
  throw new PraaSError(
    "BAD_REQUEST",
    "--rendezvous-url needs --rendezvous-secret-file or PRAAS_RENDEZVOUS_SECRET",
  );
}
