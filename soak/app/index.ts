// The soak application: functions that carry the soak's load (acknowledged writes, messages)
// and functions that hurt their own worker on purpose (the worker faults of `npm run soak`).
import { writeSync } from "node:fs";
import type { Context } from "praas";

const MESSAGE_KEY = "m";
const decoder = new TextDecoder();

function text(input: Uint8Array): string {
  return decoder.decode(input);
}

/** Stores write number `seq` under its own key, so the soak can later check each one. */
export async function write(input: Uint8Array, ctx: Context): Promise<string> {
  const seq = text(input);
  await ctx.state.put(`w:${seq}`, seq);
  return seq;
}

/** Every key in the state (writes `w:N`, received messages `r:SENDER:N`). */
export async function keys(_input: Uint8Array, ctx: Context): Promise<string[]> {
  return (await ctx.state.keys()).map((entry) => entry.key);
}

/** Sends message `{to, seq}` to another process's mailbox. */
export async function send(input: Uint8Array, ctx: Context): Promise<string> {
  const { to, seq } = JSON.parse(text(input)) as { to: string; seq: number };
  await ctx.put(to, MESSAGE_KEY, `${ctx.processId}:${seq}`);
  return "sent";
}

/**
 * Consumes up to `max` messages, recording each in the state before returning: a message whose
 * reply is lost (the caller's connection died) is still found by the final check.
 */
export async function receive(input: Uint8Array, ctx: Context): Promise<string[]> {
  const { max, timeoutMs, budgetMs } = JSON.parse(text(input)) as {
    max: number;
    timeoutMs: number;
    budgetMs: number;
  };
  const received: string[] = [];
  const stopAt = Date.now() + budgetMs;
  while (received.length < max && Date.now() < stopAt) {
    const message = await nextMessage(ctx, timeoutMs);
    if (message === undefined) break;
    await ctx.state.put(`r:${message}`, "1");
    received.push(message);
  }
  return received;
}

async function nextMessage(ctx: Context, timeoutMs: number): Promise<string | undefined> {
  try {
    return text(await ctx.get("ANY", MESSAGE_KEY, { timeoutMs }));
  } catch (error) {
    if ((error as { code?: string }).code === "TIMEOUT") return undefined;
    throw error;
  }
}

export function echo(input: Uint8Array): Uint8Array {
  return input;
}

/** Fault: the worker exits in the middle of a call. */
export function crashExit(): never {
  process.exit(7);
}

/** Fault: an exception thrown from a timer, outside any invocation. */
export async function crashTimer(): Promise<string> {
  setTimeout(() => {
    throw new Error("soak: uncaught throw from a timer");
  }, 0);
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  return "survived";
}

/** Fault: a synchronous endless loop (the invocation times out, the worker is replaced). */
export function hang(): never {
  for (;;) {
    // spin
  }
}

/** Fault: the worker's heap runs out. */
export function exhaustHeap(): number {
  const hoard: number[][] = [];
  for (;;) hoard.push(new Array<number>(1_000_000).fill(hoard.length));
}

/** Fault: garbage on the worker's own link to its process (fd 3). */
export function garbage(input: Uint8Array): string {
  const bytes = input.length > 0 ? input : new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3]);
  try {
    writeSync(3, bytes);
    return "written";
  } catch (error) {
    return `refused: ${String(error)}`;
  }
}
