/**
 * Waiting for a process we just started to dial in and register over the control link. Behind
 * a proxy its link may land on another replica: that one writes the connection (with the token
 * we gave the process) and its own id into the record, and the wait ends there too.
 */
import { PraaSError } from "../protocol/index.js";
import type { MetadataStore, ProcessRecord } from "../storage/index.js";
import type { Registration } from "./control-link-server.js";

/** A registration, and which other replica took it (absent: this one). */
export type Registered = Registration & { replica?: string | undefined };

interface Waiter {
  token: string;
  resolve(registration: Registered): void;
  reject(error: PraaSError): void;
}

export class Registrations {
  readonly #waiters = new Map<string, Waiter>();
  readonly #store: MetadataStore;

  constructor(store: MetadataStore) {
    this.#store = store;
  }

  /**
   * Resolves at the next registration of app/name here, or when the record shows the process
   * (known by `token`) registered at another replica; rejects after `timeoutMs`.
   */
  expect(
    app: string,
    name: string,
    token: string,
    timeoutMs: number,
  ): { registered: Promise<Registered>; cancel(): void } {
    const id = `${app}/${name}`;
    let timer: NodeJS.Timeout | undefined;
    let waiter: Waiter | undefined;
    const registered = new Promise<Registered>((resolve, reject) => {
      waiter = { token, resolve, reject };
      this.#waiters.set(id, waiter);
      timer = setTimeout(() => {
        reject(
          new PraaSError("BACKEND_ERROR", `process ${id} did not register within ${timeoutMs} ms`),
        );
      }, timeoutMs);
    });
    registered.catch(() => undefined);
    const unsubscribe = this.#watchElsewhere(app, name, waiter!);
    unsubscribe.catch(() => undefined); // the store failing leaves the local registration
    const cancel = (): void => {
      clearTimeout(timer);
      if (this.#waiters.get(id) === waiter) this.#waiters.delete(id);
      void unsubscribe.then((off) => off()).catch(() => undefined);
    };
    void registered.finally(cancel).catch(() => undefined);
    return { registered, cancel };
  }

  /**
   * Hands a registration to its waiter; false when nobody waited for this one (a reconnect,
   * or an earlier instance of the process re-dialling while a new one starts: its token differs).
   */
  deliver(registration: Registration): boolean {
    const id = `${registration.app}/${registration.name}`;
    const waiter = this.#waiters.get(id);
    if (!waiter || waiter.token !== registration.token) return false;
    this.#waiters.delete(id);
    waiter.resolve(registration);
    return true;
  }

  /** Whether this replica is starting app/name now (waiting for its registration). */
  starting(app: string, name: string): boolean {
    return this.#waiters.has(`${app}/${name}`);
  }

  /** Watches the record for the waiter's token arriving through another replica. */
  async #watchElsewhere(app: string, name: string, waiter: Waiter): Promise<() => Promise<void>> {
    const check = (record: ProcessRecord | undefined): void => {
      const connection = record?.connection;
      if (record?.replica === undefined || connection?.token !== waiter.token) return;
      waiter.resolve({ app, name, ...connection, replica: record.replica });
    };
    const off = await this.#store.subscribe((change) => {
      if (change.app === app && change.name === name) check(change.record);
    });
    check(await this.#store.getProcess(app, name));
    return off;
  }
}
