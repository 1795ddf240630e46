/**
 * After the load: drains every mailbox, reads every process's keys (resuming it if swapped or
 * failed) and compares them with what was acknowledged. Under `memory`, data the process may
 * have lost in a kill (see `mayBeLost`) is counted apart from data lost without excuse.
 */
import { APP, type SoakClient } from "./client.js";
import { mayBeLost, type Ledger, type ProcessHistory } from "./ledger.js";
import { receiveOnce, sleep } from "./load.js";
import type { Durability } from "./options.js";

export interface LossCount {
  acknowledged: number;
  found: number;
  /** Lost, but after the last swap of a process that was then killed (memory only). */
  lostExcused: number;
  /** Messages consumed by a `receive` that then failed (its worker died before recording them). */
  lostInFailedReceive: number;
  /** Lost with no excuse: an invariant failure. */
  lostUnexcused: number;
  /** A few of the unexcused ones, for the report. */
  examples: string[];
}

export interface Verification {
  writes: LossCount;
  messages: LossCount;
  /** Acknowledged writes and messages held by processes that could not be read at all. */
  heldByUnusable: { writes: number; messages: number };
  /** Processes whose keys could not be read at all, with the last error. */
  unreadable: Record<string, string>;
}

export async function verify(
  client: SoakClient,
  ledger: Ledger,
  durability: Durability,
  settleBoundMs: number,
): Promise<Verification> {
  const writes = emptyCount();
  const messages = emptyCount();
  const unreadable: Record<string, string> = {};
  const heldByUnusable = { writes: 0, messages: 0 };
  for (const [index, { name, reason, history }] of ledger.retired.entries()) {
    unreadable[`${name} (replaced, #${index + 1})`] = reason;
    heldByUnusable.writes += history.writes.size;
    heldByUnusable.messages += history.messages.size;
  }
  for (const name of ledger.names) {
    const history = ledger.process(name);
    const read = await readKeys(client, ledger, name, settleBoundMs);
    if (read.keys === undefined) {
      unreadable[name] = read.error ?? "";
      heldByUnusable.writes += history.writes.size;
      heldByUnusable.messages += history.messages.size;
      continue;
    }
    const present = read.keys;
    const excusable = (ackedAt: number) => durability === "memory" && mayBeLost(history, ackedAt);
    const describe = (what: string, ackedAt: number) =>
      `${name} ${what} (acked at ${ackedAt - ledger.startedAt} ms; ${timeline(history, ledger.startedAt)})`;
    for (const [seq, ackedAt] of history.writes) {
      tally(writes, present.has(`w:${seq}`), excusable(ackedAt), describe(`w:${seq}`, ackedAt));
    }
    for (const [id, { sentAt, ackedAt }] of history.messages) {
      const found = history.received.has(id) || present.has(`r:${id}`);
      if (!found && history.failedReceives.some(({ at }) => at > sentAt)) {
        messages.acknowledged++;
        messages.lostInFailedReceive++;
      } else {
        const what = `message ${id} (sent at ${sentAt - ledger.startedAt} ms)`;
        tally(messages, found, excusable(ackedAt), describe(what, ackedAt));
      }
    }
  }
  return { writes, messages, heldByUnusable, unreadable };
}

function emptyCount(): LossCount {
  return {
    acknowledged: 0,
    found: 0,
    lostExcused: 0,
    lostInFailedReceive: 0,
    lostUnexcused: 0,
    examples: [],
  };
}

function tally(count: LossCount, found: boolean, excusable: boolean, what: string): void {
  count.acknowledged++;
  if (found) count.found++;
  else if (excusable) count.lostExcused++;
  else {
    count.lostUnexcused++;
    if (count.examples.length < 10) count.examples.push(what);
  }
}

function timeline(history: ProcessHistory, startedAt: number): string {
  const kills = history.kills.map((at) => at - startedAt).join(", ");
  const swaps = history.swaps.map((swap) => `${swap.start - startedAt}-${swap.end - startedAt}`);
  const receives = history.failedReceives.map(({ at, code }) => `${at - startedAt} ${code}`);
  return (
    `killed at [${kills}] ms, swapped at [${swaps.join(", ")}] ms, ` +
    `receives failed at [${receives.join(", ")}] ms`
  );
}

/** A failure that retrying will not change: a killed process with nothing stored to resume. */
const PERMANENT = /no swapped state/;

/** Drains the mailbox, then lists the keys; retried (the process may be resuming) within a bound. */
async function readKeys(
  client: SoakClient,
  ledger: Ledger,
  name: string,
  boundMs: number,
): Promise<{ keys?: Set<string>; error?: string }> {
  const deadline = Date.now() + boundMs;
  let error = "not tried";
  while (Date.now() < deadline) {
    const drained = await drain(client, ledger, name, deadline);
    const read = await client.attempt("verify.keys.http", () =>
      client.praas.invoke(APP, "keys", "", { process: name }),
    );
    if (drained && read.value !== undefined) {
      return { keys: new Set(JSON.parse(Buffer.from(read.value).toString()) as string[]) };
    }
    error = `${read.code}: ${read.message ?? "mailbox not drained"}`;
    if (PERMANENT.test(error)) break;
    await sleep(500);
  }
  return { error };
}

async function drain(
  client: SoakClient,
  ledger: Ledger,
  name: string,
  deadline: number,
): Promise<boolean> {
  while (Date.now() < deadline) {
    const received = await receiveOnce(client, ledger, name, 1_000);
    if (received === undefined) return false;
    if (received === 0) return true;
  }
  return false;
}
