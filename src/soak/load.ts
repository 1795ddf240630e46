/**
 * The mixed load: per process, acknowledged writes over the direct connection and through the
 * control plane, messages to the next process and their receipt; for all, swaps and resumes.
 * Each loop runs until `stop` is set; a failed request is recorded and the loop goes on.
 */
import { APP, type SoakClient } from "./client.js";
import type { Ledger } from "./ledger.js";

export interface LoadOptions {
  names: readonly string[];
  /** Pause between two requests of one loop, so six engineers' machine stays usable. */
  paceMs: number;
  swapEveryMs: number;
}

export interface Stopper {
  stopped: boolean;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function runLoad(
  client: SoakClient,
  ledger: Ledger,
  options: LoadOptions,
  stop: Stopper,
): Promise<unknown> {
  const loops = options.names.flatMap((name, index) => {
    const next = options.names[(index + 1) % options.names.length] ?? name;
    const each = (step: () => Promise<unknown>) => repeat(step, options.paceMs, stop);
    return [
      each(() => writeOnce(client, ledger, name, "direct")),
      each(() => writeOnce(client, ledger, name, "http")),
      each(() => sendOnce(client, ledger, name, next)),
      each(() => receiveOnce(client, ledger, name)),
    ];
  });
  loops.push(repeat(swapper(client, ledger, options.names), options.swapEveryMs, stop));
  return Promise.all(loops);
}

async function repeat(step: () => Promise<unknown>, paceMs: number, stop: Stopper): Promise<void> {
  while (!stop.stopped) {
    await step();
    await sleep(paceMs);
  }
}

async function writeOnce(
  client: SoakClient,
  ledger: Ledger,
  name: string,
  via: "direct" | "http",
): Promise<void> {
  const history = ledger.process(name);
  const seq = history.nextSeq++;
  const output =
    via === "direct"
      ? await client.direct("write", name, "write", String(seq))
      : await client.http("write", name, "write", String(seq));
  if (output !== undefined) history.writes.set(seq, Date.now());
}

async function sendOnce(
  client: SoakClient,
  ledger: Ledger,
  from: string,
  to: string,
): Promise<void> {
  const seq = ledger.process(from).nextMessage++;
  const payload = JSON.stringify({ to, seq });
  const sentAt = Date.now();
  const output = await client.direct("send", from, "send", payload);
  if (output !== undefined)
    ledger.process(to).messages.set(`${from}:${seq}`, { sentAt, ackedAt: Date.now() });
}

export async function receiveOnce(
  client: SoakClient,
  ledger: Ledger,
  name: string,
  max = 50,
): Promise<number | undefined> {
  const payload = JSON.stringify({ max, timeoutMs: 100, budgetMs: 1_000 });
  const { code, value: output } = await client.attempt(
    "receive.http",
    () => client.praas.invoke(APP, "receive", payload, { process: name }),
    `receive on ${name}`,
  );
  // When it ended: a message sent before then may have been handed to it.
  if (MAY_HAVE_RUN.includes(code))
    ledger.process(name).failedReceives.push({ at: Date.now(), code });
  if (output === undefined) return undefined;
  const received = JSON.parse(Buffer.from(output).toString()) as string[];
  for (const id of received) ledger.process(name).received.add(id);
  return received.length;
}

/**
 * Failures after which the function may have run (and consumed messages it never recorded):
 * besides crashes, a write that failed after a `get` took a message (a full disk refuses the
 * `r:` record with STORAGE_ERROR; the function then fails as a whole).
 */
const MAY_HAVE_RUN = [
  "WORKER_CRASHED",
  "OUT_OF_MEMORY",
  "TIMEOUT",
  "CONNECTION_CLOSED",
  "INTERNAL",
  "SOAK_HUNG",
  "STORAGE_ERROR",
  "STATE_FULL",
  "FUNCTION_ERROR",
];

/** Swaps the processes out in turn; every other one is resumed explicitly, the rest on use. */
function swapper(
  client: SoakClient,
  ledger: Ledger,
  names: readonly string[],
): () => Promise<void> {
  let turn = 0;
  return async () => {
    const name = names[turn % names.length];
    turn++;
    if (name === undefined) return;
    await swapOnce(client, ledger, name, "swap");
    if (turn % 2 === 0) await client.call("resume", () => client.praas.resume(APP, name));
  };
}

export async function swapOnce(
  client: SoakClient,
  ledger: Ledger,
  name: string,
  kind: string,
): Promise<boolean> {
  const start = Date.now();
  const swapped = await client.call(kind, () => client.praas.swap(APP, name), `swap of ${name}`);
  if (swapped !== undefined) ledger.process(name).swaps.push({ start, end: Date.now() });
  return swapped !== undefined;
}
