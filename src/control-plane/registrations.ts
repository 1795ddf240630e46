/** Waiting for a process we just started to dial in and register over the control link. */
import { PraaSError } from "../protocol/index.js";
import type { Registration } from "./control-link-server.js";

interface Waiter {
  resolve(registration: Registration): void;
  reject(error: PraaSError): void;
}

export class Registrations {
  readonly #waiters = new Map<string, Waiter>();

  /** Resolves at the next registration of app/name, or rejects after `timeoutMs`. */
  expect(
    app: string,
    name: string,
    timeoutMs: number,
  ): { registered: Promise<Registration>; cancel(): void } {
    const id = `${app}/${name}`;
    let timer: NodeJS.Timeout | undefined;
    const registered = new Promise<Registration>((resolve, reject) => {
      this.#waiters.set(id, { resolve, reject });
      timer = setTimeout(() => {
        this.#waiters.delete(id);
        reject(
          new PraaSError("BACKEND_ERROR", `process ${id} did not register within ${timeoutMs} ms`),
        );
      }, timeoutMs);
    });
    registered.catch(() => undefined);
    const cancel = (): void => {
      clearTimeout(timer);
      this.#waiters.delete(id);
    };
    void registered.finally(() => clearTimeout(timer)).catch(() => undefined);
    return { registered, cancel };
  }

  /** Hands a registration to its waiter; false when nobody was waiting (a reconnect). */
  deliver(registration: Registration): boolean {
    const id = `${registration.app}/${registration.name}`;
    const waiter = this.#waiters.get(id);
    if (!waiter) return false;
    this.#waiters.delete(id);
    waiter.resolve(registration);
    return true;
  }
}
