/**
 * Piping the bytes of a relayed connection between two sockets, each direction held to a
 * bandwidth cap (and to the receiver's pace: a slow reader pauses its sender).
 */
import type { Socket } from "node:net";

/** Bytes a direction may send at once after being idle, as a share of one second's rate. */
const BURST_MS = 100;

/** Milliseconds to wait before more bytes may pass, given a byte rate. */
export class RateLimit {
  readonly #bytesPerSecond: number;
  #freeAt = 0;

  constructor(bytesPerSecond: number) {
    this.#bytesPerSecond = bytesPerSecond;
  }

  take(bytes: number, now: number): number {
    this.#freeAt = Math.max(this.#freeAt, now - BURST_MS) + (bytes * 1000) / this.#bytesPerSecond;
    return Math.max(0, this.#freeAt - now);
  }
}

export interface RelayDirection {
  bytesPerSecond: number;
  onBytes(count: number): void;
}

export function relayOneWay(from: Socket, to: Socket, options: RelayDirection): void {
  const limit = new RateLimit(options.bytesPerSecond);
  const holds = new Set<string>();
  let rateTimer: NodeJS.Timeout | undefined;
  const hold = (reason: string): void => {
    holds.add(reason);
    from.pause();
  };
  const lift = (reason: string): void => {
    if (holds.delete(reason) && holds.size === 0) from.resume();
  };
  from.on("data", (chunk: Buffer) => {
    options.onBytes(chunk.length);
    if (!to.write(chunk) && !holds.has("drain")) {
      hold("drain");
      to.once("drain", () => lift("drain"));
    }
    const waitMs = limit.take(chunk.length, Date.now());
    if (waitMs > 0 && !holds.has("rate")) {
      hold("rate");
      rateTimer = setTimeout(() => lift("rate"), waitMs);
    }
  });
  from.on("end", () => to.end());
  // A clean close already ended `to` (after its queued bytes); a broken one drops it at once.
  from.on("close", (hadError: boolean) => {
    clearTimeout(rateTimer);
    if (hadError) to.destroy();
  });
}
