/**
 * Inside a worker: who is running (an AsyncLocalStorage scope around each invocation when the
 * code can log, so concurrent invocations interleaved at their awaits are told apart) and
 * console.* patched to send each call as one `Log` frame tagged with that invocation. Plain
 * writes to stdout/stderr that bypass console still reach the process through the worker's
 * pipes, untagged.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { formatWithOptions } from "node:util";
import {
  FrameType,
  encodeFields,
  truncateLogMessage,
  type LogLevelName,
  type LogStream,
} from "../../protocol/index.js";
import type { FrameLink } from "../../transport/index.js";

export interface InvocationTag {
  functionName: string;
  invocationId: string;
}

const scope = new AsyncLocalStorage<InvocationTag>();

/**
 * Whether invocations run in `scope`. Its hooks cost every promise of every call (about a
 * tenth of a worker's CPU per call), so a worker turns it on only for a bundle that mentions
 * `console`: code that never names it has no console lines to tag.
 */
let tracking = false;

/** Invocations running untracked: a line written then belongs to the only one, if only one. */
const untracked = new Set<InvocationTag>();

/** From now on, every invocation runs in its own scope (console lines across awaits are told apart). */
export function trackInvocations(): void {
  tracking = true;
}

/** Runs `body` as the invocation `tag`: console output in it (and what it awaits) carries the tag. */
export async function runAs<T>(tag: InvocationTag, body: () => Promise<T>): Promise<T> {
  if (tracking) return scope.run(tag, body);
  untracked.add(tag);
  try {
    return await body();
  } finally {
    untracked.delete(tag);
  }
}

/** The invocation running now: its scope's, or the only one running untracked. */
function currentTag(): InvocationTag | undefined {
  const tag = scope.getStore();
  if (tag !== undefined || untracked.size !== 1) return tag;
  return untracked.values().next().value;
}

type ConsoleMethod = "log" | "info" | "debug" | "warn" | "error" | "trace";

const LEVELS: Record<ConsoleMethod, LogLevelName> = {
  log: "info",
  info: "info",
  debug: "debug",
  warn: "warn",
  error: "error",
  trace: "debug",
};

function streamOf(level: LogLevelName): LogStream {
  return level === "warn" || level === "error" ? "stderr" : "stdout";
}

/** Sends one line to the process, tagged with `tag` (by default, the invocation running now). */
export function sendLog(
  link: FrameLink,
  level: LogLevelName,
  message: string,
  tag: InvocationTag | undefined = currentTag(),
): void {
  const fields = [level, streamOf(level), tag?.functionName ?? "", tag?.invocationId ?? ""];
  link.send(FrameType.Log, 0, encodeFields(fields), Buffer.from(truncateLogMessage(message)));
}

/** Replaces console's printing methods with ones that send tagged records over `link`. */
export function captureConsole(link: FrameLink): void {
  for (const method of Object.keys(LEVELS) as ConsoleMethod[]) {
    const level = LEVELS[method];
    // eslint-disable-next-line no-console -- replacing console is the point: its lines become records
    console[method] = (...args: unknown[]): void => {
      const text = formatWithOptions({ colors: false }, ...args);
      sendLog(link, level, method === "trace" ? traceText(text) : text);
    };
  }
}

function traceText(text: string): string {
  const stack = new Error().stack?.split("\n").slice(3).join("\n") ?? "";
  return `Trace: ${text}\n${stack}`;
}
