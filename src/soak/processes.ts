/**
 * Creating the soak's processes, and replacing those that cannot come back: today a SIGKILLed
 * process with no stored snapshot stays `failed` for good (every use is INVALID_STATE), which
 * would leave a long run with nothing to load. Such a process is retired in the ledger (its
 * data is reported as held by an unusable process) and created anew under the same name.
 */
import { APP, codeOf, type SoakClient } from "./client.js";
import type { Ledger } from "./ledger.js";
import { sleep, type Stopper } from "./load.js";
import type { Durability } from "./options.js";

export const PROCESS_MEMORY_MIB = 256;
const REPLACE_EVERY_MS = 2_000;
const NO_SNAPSHOT = /no swapped state/;

export interface DurabilityUsed {
  asked: Durability;
  used: Durability;
  note?: string;
}

/** Under `log`, a small compaction threshold: the log is compacted while faults hit it. */
const WAL_COMPACT_BYTES = 64 * 1024;

function createBody(durability: Durability) {
  const limits = {
    invocationTimeoutMs: 2_000,
    ...(durability === "log" ? { walCompactBytes: WAL_COMPACT_BYTES } : {}),
  };
  return { vcpus: 2, memory: PROCESS_MEMORY_MIB, limits, durability };
}

/**
 * Creates the processes with the asked durability; a control plane that does not know the
 * `durability` field refuses it (BAD_REQUEST), and then the soak runs with `memory` and says so.
 */
export async function createProcesses(
  client: SoakClient,
  names: string[],
  asked: Durability,
): Promise<DurabilityUsed> {
  let used = asked;
  let note: string | undefined;
  for (const name of names) {
    try {
      await client.praas.createProcess(APP, name, createBody(used));
    } catch (error) {
      if (codeOf(error) !== "BAD_REQUEST" || used === "memory") throw error;
      note = `durability "${asked}" refused by this control plane (${(error as Error).message}): ran with memory`;
      used = "memory";
      await client.praas.createProcess(APP, name, createBody(used));
    }
  }
  return { asked, used, ...(note === undefined ? {} : { note }) };
}

export async function replaceUnrecoverable(
  client: SoakClient,
  ledger: Ledger,
  names: readonly string[],
  durability: DurabilityUsed,
  stop: Stopper,
): Promise<void> {
  while (!stop.stopped) {
    await sleep(REPLACE_EVERY_MS);
    const list = await client.call("replace.list", () => client.praas.listProcesses(APP));
    const failed = (list?.failed ?? []).map((info) => info.name).filter((n) => names.includes(n));
    for (const name of failed) await replaceIfUnrecoverable(client, ledger, name, durability.used);
  }
}

async function replaceIfUnrecoverable(
  client: SoakClient,
  ledger: Ledger,
  name: string,
  durability: Durability,
): Promise<void> {
  const resumed = await client.attempt("replace.resume", () => client.praas.resume(APP, name));
  if (resumed.code !== "INVALID_STATE" || !NO_SNAPSHOT.test(resumed.message ?? "")) return;
  ledger.retire(name, resumed.message ?? "");
  await client.call("replace.delete", () => client.praas.deleteProcess(APP, name));
  await client.call("replace.create", () =>
    client.praas.createProcess(APP, name, createBody(durability)),
  );
}
