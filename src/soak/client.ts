/**
 * The soak's side of the wire: the control-plane client, one direct connection per process
 * (reopened, resuming the process first, whenever it broke), and `call`, which bounds every
 * request and records its outcome and wait in the ledger.
 */
import { PraaS, PraaSError, type ProcessConnection } from "../sdk/index.js";
import { HUNG, OK, type Ledger } from "./ledger.js";

export const APP = "soak";

export class SoakClient {
  readonly praas: PraaS;
  readonly #ledger: Ledger;
  readonly #hungAfterMs: number;
  readonly #connections = new Map<string, Promise<ProcessConnection>>();

  constructor(url: string, ledger: Ledger, hungAfterMs: number) {
    this.praas = new PraaS(url, { timeoutMs: hungAfterMs });
    this.#ledger = ledger;
    this.#hungAfterMs = hungAfterMs;
  }

  /** Runs `op`, records `kind` → OK or the error code; undefined when it failed. */
  async call<T>(kind: string, op: () => Promise<T>, what?: string): Promise<T | undefined> {
    return (await this.attempt(kind, op, what)).value;
  }

  /** Like `call`, and says the outcome's code. */
  async attempt<T>(
    kind: string,
    op: () => Promise<T>,
    what = "",
  ): Promise<{ code: string; value?: T; message?: string }> {
    const started = performance.now();
    const [code, value, message] = await this.#bounded(op, what);
    this.#ledger.outcome(kind, code, performance.now() - started, message);
    return code === OK ? { code, value: value as T } : { code, message: message ?? "" };
  }

  async #bounded<T>(op: () => Promise<T>, what: string): Promise<[string, T | undefined, string?]> {
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<[string, undefined, string]>((resolve) => {
      const started = new Date().toISOString();
      const message = `no answer to ${what} sent at ${started}`;
      timer = setTimeout(() => resolve([HUNG, undefined, message]), this.#hungAfterMs);
    });
    const done = op().then(
      (value): [string, T] => [OK, value],
      (error: unknown): [string, undefined, string] => [codeOf(error), undefined, String(error)],
    );
    try {
      return await Promise.race([done, hung]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Invokes `fn` over the process's direct connection (opened or reopened as needed). */
  async direct(
    kind: string,
    name: string,
    fn: string,
    payload: string | Uint8Array,
  ): Promise<Uint8Array | undefined> {
    const connection = await this.call(`${kind}.connect`, () => this.connection(name));
    if (connection === undefined) return undefined;
    const output = await this.call(
      `${kind}.direct`,
      () => connection.invoke(fn, payload),
      `${fn} on ${name}`,
    );
    if (output === undefined && connection.closed) this.#forget(name, connection);
    return output;
  }

  /** Invokes `fn` in process `name` through the control plane (sticky: resumes it if needed). */
  http(
    kind: string,
    name: string,
    fn: string,
    payload: string | Uint8Array,
  ): Promise<Uint8Array | undefined> {
    return this.call(
      `${kind}.http`,
      () => this.praas.invoke(APP, fn, payload, { process: name }),
      `${fn} on ${name}`,
    );
  }

  connection(name: string): Promise<ProcessConnection> {
    const cached = this.#connections.get(name);
    if (cached !== undefined) return cached;
    const opening = this.#open(name);
    this.#connections.set(name, opening);
    opening.catch(() => this.#connections.delete(name));
    return opening;
  }

  #forget(name: string, connection: ProcessConnection): void {
    void this.#connections.get(name)?.then(
      (current) => {
        if (current === connection) this.#connections.delete(name);
      },
      () => undefined, // a failed open removes itself
    );
  }

  async #open(name: string): Promise<ProcessConnection> {
    let process = await this.praas.getProcess(APP, name);
    if (process.status !== "active") process = await this.praas.resume(APP, name);
    const connection = await process.connect({ timeoutMs: 5_000 });
    return connection;
  }

  async close(): Promise<void> {
    const connections = await Promise.allSettled(this.#connections.values());
    for (const settled of connections) {
      if (settled.status === "fulfilled") await settled.value.close();
    }
    await this.praas.close();
  }
}

export function codeOf(error: unknown): string {
  if (error instanceof PraaSError) return error.code;
  return "SOAK_CLIENT_ERROR";
}
