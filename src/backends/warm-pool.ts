/**
 * The local backend's warm pool: runtimes started ahead of demand (`main.js --warm`, see
 * src/runtime/warm-slot.ts), their sandbox made and their workers booted, waiting for a process
 * to become. A create or resume whose process fits the pool's slot (same workers, memory,
 * payload limit, and no permissions beyond the defaults) takes one and pays only for loading
 * its bundle; anything else starts a runtime of its own. Each take is made good in the
 * background a moment after the taken runtime serves (so the refill does not compete for the
 * CPU with it, nor with its client's first connection and call). A member serves one process and is never returned: a slot that held an application
 * never holds another. `close` discards every idle member and any still starting.
 *
 * The pool follows demand: a create or resume that misses only because its process has another
 * size (workers, memory) switches the pool to that size, discarding idle members of the old one
 * (they hold nothing). Applications usually give their processes one size in `praas.json`, so
 * from the second start on they hit, whatever size the pool was started with.
 */
import { NO_PERMISSIONS } from "../protocol/index.js";
import { WarmRuntime, type SlotLaunchOptions } from "../runtime/launch.js";

/** After a member failed to start, wait this long before trying again (no spinning). */
const RETRY_MS = 1000;
/**
 * How long after a taken runtime serves its replacement starts: its client connects and makes
 * its first call within a few ms, and a refill (two Node starts, spawned from our own event
 * loop) at that moment would slow exactly those.
 */
const REFILL_DELAY_MS = 100;

export interface WarmPoolOptions {
  /** Idle members to keep; 0 turns the pool off. */
  size: number;
  /** The slot every member is started with. */
  slot: SlotLaunchOptions;
  log(message: string, fields?: Record<string, unknown>): void;
}

/** What `praas up` and `/metrics` show. */
export interface WarmPoolStats {
  size: number;
  idle: number;
  takes: number;
  misses: number;
  workers: number;
  memoryMiB: number;
}

export class WarmPool {
  readonly #options: WarmPoolOptions;
  /** The size members are started with now (it follows demand). */
  #slot: SlotLaunchOptions;
  #idle: WarmRuntime[] = [];
  /** Members being started, so that closing can discard them when they come up. */
  readonly #starting = new Set<Promise<WarmRuntime | undefined>>();
  #takes = 0;
  #misses = 0;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;
  #delayedRefill: NodeJS.Timeout | undefined;

  constructor(options: WarmPoolOptions) {
    this.#options = options;
    this.#slot = options.slot;
    this.refill();
  }

  get stats(): WarmPoolStats {
    const { size } = this.#options;
    const { workers, memoryMiB } = this.#slot;
    return {
      size,
      idle: this.#idle.length,
      takes: this.#takes,
      misses: this.#misses,
      workers,
      memoryMiB,
    };
  }

  /**
   * An idle member for a process started with `slot`, or undefined (a miss) when none fits or
   * none is idle. The caller assigns it and calls `refillSoon` once it serves.
   */
  take(slot: SlotLaunchOptions): WarmRuntime | undefined {
    const fits = this.#fits(slot);
    const member = fits ? this.#idle.shift() : undefined;
    if (member === undefined) this.#misses++;
    else this.#takes++;
    if (!fits && canServe(slot, this.#slot)) this.#follow(slot);
    return member;
  }

  /** From now on members are of `slot`'s size; idle ones of the old size are discarded. */
  #follow(slot: SlotLaunchOptions): void {
    this.#slot = { ...this.#slot, workers: slot.workers, memoryMiB: slot.memoryMiB };
    for (const member of this.#idle.splice(0)) void member.discard();
  }

  /** Starts members until the pool holds `size`, idle or starting. */
  refill(): void {
    while (!this.#closed && this.#idle.length + this.#starting.size < this.#options.size) {
      const starting = this.#startMember();
      this.#starting.add(starting);
      void starting.finally(() => this.#starting.delete(starting));
    }
  }

  /** Refills a moment from now (see REFILL_DELAY_MS); one refill for several takes. */
  refillSoon(): void {
    this.#delayedRefill ??= setTimeout(() => {
      this.#delayedRefill = undefined;
      this.refill();
    }, REFILL_DELAY_MS).unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    clearTimeout(this.#delayedRefill);
    const idle = this.#idle.splice(0);
    const late = await Promise.all(this.#starting);
    const members = [...idle, ...late].filter((member) => member !== undefined);
    await Promise.all(members.map((member) => member.discard()));
  }

  async #startMember(): Promise<WarmRuntime | undefined> {
    try {
      const member = await WarmRuntime.start(this.#slot, true);
      if (this.#closed) return member; // close() discards it
      if (!sameSize(member.slot, this.#slot)) {
        // The pool changed size while it started: of no use now, and another is due.
        void member.discard();
        setImmediate(() => this.refill());
        return undefined;
      }
      this.#idle.push(member);
      void member.exited.then(() => this.#lost(member));
    } catch (error) {
      this.#options.log("a warm-pool member failed to start; retrying", { err: String(error) });
      this.#retry ??= setTimeout(() => {
        this.#retry = undefined;
        this.refill();
      }, RETRY_MS).unref();
    }
    return undefined;
  }

  /** An idle member died (killed from outside): forget it and start another. */
  #lost(member: WarmRuntime): void {
    const index = this.#idle.indexOf(member);
    if (index < 0) return; // taken: its process's exit is the backend's business
    this.#idle.splice(index, 1);
    this.#options.log("an idle warm-pool member exited; replacing it");
    this.refill();
  }

  #fits(slot: SlotLaunchOptions): boolean {
    return sameSize(slot, this.#slot) && canServe(slot, this.#slot);
  }
}

function sameSize(a: SlotLaunchOptions, b: SlotLaunchOptions): boolean {
  return a.workers === b.workers && a.memoryMiB === b.memoryMiB;
}

/**
 * Pooled runtimes have no permissions beyond the defaults (they are fixed at the workers' spawn)
 * and the platform's payload limit.
 */
function canServe(slot: SlotLaunchOptions, pool: SlotLaunchOptions): boolean {
  const plain = !Object.values({ ...NO_PERMISSIONS, ...slot.permissions }).includes(true);
  return plain && slot.maxPayloadBytes === pool.maxPayloadBytes;
}
