/**
 * The input gate of a process (praas.json `"serialize"`): invocations of the serialized
 * functions run one at a time, in arrival order, across all workers, so code that does
 * get-then-put needs no transaction. Calls wait here, in the process, before a worker is
 * picked; a call that waits past its deadline leaves the queue with TIMEOUT.
 */
import { PraaSError, type SerializeSetting } from "../protocol/index.js";

interface Waiter {
  admit: () => void;
}

export class InputGate {
  readonly #all: boolean;
  readonly #functions: ReadonlySet<string>;
  readonly #queue: Waiter[] = [];
  #busy = false;

  constructor(setting: SerializeSetting) {
    this.#all = setting === true;
    this.#functions = new Set(Array.isArray(setting) ? setting : []);
  }

  gates(functionName: string): boolean {
    return this.#all || this.#functions.has(functionName);
  }

  /**
   * Resolves to the function that lets the next call in, once it is this call's turn; at once
   * (with a no-op) for a function that is not serialized. TIMEOUT after `timeoutMs` in the queue.
   */
  enter(functionName: string, timeoutMs: number): Promise<() => void> {
    if (!this.gates(functionName)) return Promise.resolve(noop);
    if (!this.#busy) {
      this.#busy = true;
      return Promise.resolve(this.#releaser());
    }
    return this.#wait(functionName, timeoutMs);
  }

  #wait(functionName: string, timeoutMs: number): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        admit: () => {
          clearTimeout(timer);
          resolve(this.#releaser());
        },
      };
      const timer = setTimeout(() => {
        this.#queue.splice(this.#queue.indexOf(waiter), 1);
        const message = `${functionName} waited ${timeoutMs} ms for its turn (serialized) and timed out`;
        reject(new PraaSError("TIMEOUT", message));
      }, timeoutMs);
      this.#queue.push(waiter);
    });
  }

  /** Lets the next waiter in, or opens the gate; a second call does nothing. */
  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      if (next) next.admit();
      else this.#busy = false;
    };
  }
}

function noop(): void {}
