/**
 * `ctx.invoke` of a function of the worker's own process, run in the calling worker: a function
 * call, not two trips through the process. It behaves as the trip would: the callee gets its own
 * copy of the payload, the caller its own copy of the result; a failure arrives as the same error
 * record (no stack unless the process shows stacks); the process's limits on calls in flight,
 * payload size and the deadline hold; the call's writes are acknowledged by the process before
 * its result is seen, as when another worker ran it. The process is told of the call as of a
 * direct one (connection LOCAL_CONNECTION), so it counts, meters and times it and a swap waits
 * for it. Serialized functions still go through the process: the input gate is there.
 */
import { PraaSError, exportedName, nextU32, overLimit } from "../../protocol/index.js";
import type { CallNotices } from "./call-notices.js";
import { gates } from "./direct.js";
import { userErrorRecord } from "./user-stack.js";

/** The connection number of calls a worker runs for its own functions (clients' start at 1). */
export const LOCAL_CONNECTION = 0;

/** What the process tells a worker with LOAD, for the calls it may run itself. */
export interface LocalCallSettings {
  serialize: boolean | readonly string[];
  errorStacks: boolean;
  maxInflight: number;
  invocationTimeoutMs: number;
}

export interface LocalHost {
  notices: CallNotices;
  maxPayloadBytes: number;
  /** Whether the bundle exports the function. */
  has(functionName: string): boolean;
  /** Invocations this worker runs now, whoever asked. */
  running(): number;
  /** Runs an invocation; its writes are acknowledged by the process when this resolves. */
  run(callName: string, payload: Buffer, invocationId: string): Promise<Uint8Array>;
  nextInvocation(): number;
  invocationId(invocation: number): string;
}

export class LocalCalls {
  /** Absent until LOAD: nothing runs here before the process said how. */
  settings: LocalCallSettings | undefined;
  readonly #host: LocalHost;
  #calls = 0;

  constructor(host: LocalHost) {
    this.#host = host;
  }

  /** Runs the call here; undefined when it must go through the process. */
  tryRun(callName: string, payload: Uint8Array): Promise<Uint8Array> | undefined {
    const settings = this.settings;
    const name = exportedName(callName);
    if (settings === undefined || !this.#host.has(name) || gates(settings.serialize, name))
      return undefined;
    return this.#run(callName, payload, settings);
  }

  async #run(
    callName: string,
    payload: Uint8Array,
    settings: LocalCallSettings,
  ): Promise<Uint8Array> {
    this.#admit(payload.length, settings.maxInflight);
    const invocation = this.#host.nextInvocation();
    const requestId = (this.#calls = nextU32(this.#calls));
    this.#host.notices.started(LOCAL_CONNECTION, requestId, exportedName(callName), invocation);
    this.#host.notices.sendThisTick();
    const started = performance.now();
    try {
      const invocationId = this.#host.invocationId(invocation);
      const running = this.#host.run(callName, Buffer.from(payload), invocationId);
      const result = Buffer.from(await deadline(running, callName, settings.invocationTimeoutMs));
      this.#host.notices.endedSince(LOCAL_CONNECTION, requestId, started);
      return result;
    } catch (error) {
      const failure = PraaSError.fromRecord(userErrorRecord(error));
      this.#host.notices.endedSince(LOCAL_CONNECTION, requestId, started, failure);
      throw settings.errorStacks ? failure : failure.withoutStack();
    }
  }

  /** The checks the process makes before it runs a call. */
  #admit(bytes: number, maxInflight: number): void {
    const limit = this.#host.maxPayloadBytes;
    if (bytes > limit) throw overLimit(`payload of ${bytes} bytes`, limit);
    if (this.#host.running() >= maxInflight) {
      throw new PraaSError(
        "TOO_MANY_REQUESTS",
        `the process has ${maxInflight} invocations in flight`,
      );
    }
  }
}

/** The call's result, or TIMEOUT once `ms` passed (the function runs on; its result is dropped). */
function deadline<T>(running: Promise<T>, callName: string, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const name = exportedName(callName);
      reject(new PraaSError("TIMEOUT", `${name} did not finish within ${ms} ms`));
    }, ms);
  });
  running.catch(() => undefined);
  return Promise.race([running, late]).finally(() => clearTimeout(timer));
}
