/**
 * A worker's call notices (CallStarted / CallEnded of the calls it runs itself), read from
 * their own socket in sweeps rather than as they come: with the socket's kernel reads stopped,
 * a notice costs the process nothing until it looks. The worker wakes the reader once
 * (NoticesWaiting on its link); the reader then sweeps every SWEEP_MS until a sweep finds
 * nothing and the worker confirms it wrote nothing more (NoticesRead), after which the next
 * notice wakes it again. Whoever needs every notice up to a point (a swap's drain, a dead
 * worker's connections) reads up to it at once.
 */
import type { Socket } from "node:net";
import type { Frame } from "../protocol/index.js";
import { FrameLink, startKernelReads, stopKernelReads } from "../transport/index.js";

/**
 * How often a woken reader sweeps: what a notice may wait to be seen (the metering of a
 * direct call, the kill of a worker blocked past a call's deadline, idleness).
 */
const SWEEP_MS = 10;

export interface NoticeReaderOptions {
  maxPayloadBytes: number;
  /** One notice frame, in the order the worker wrote them. */
  onNotice(frame: Frame): void;
  /** Tells the worker we read everything (NoticesRead); resolves with the frames it wrote. */
  caughtUp(): Promise<number>;
}

interface Waiter {
  count: number;
  resolve: () => void;
}

export class NoticeReader {
  readonly #socket: Socket;
  readonly #options: NoticeReaderOptions;
  #read = 0;
  /** Reasons to read now: a sweep in progress, or waiters. */
  #listening = 0;
  #timer: NodeJS.Timeout | undefined;
  /** A NoticesRead in flight, and whether the worker woke us while it was. */
  #asking = false;
  #wokenSinceAsked = false;
  #closed = false;
  readonly #waiters = new Set<Waiter>();

  constructor(socket: Socket, options: NoticeReaderOptions) {
    this.#socket = socket;
    this.#options = options;
    new FrameLink(socket, {
      maxPayloadBytes: options.maxPayloadBytes,
      onRequest: (frame) => this.#take(frame),
      onClose: () => this.#onClose(),
    });
    stopKernelReads(socket);
  }

  /** Notice frames read so far. */
  get read(): number {
    return this.#read;
  }

  /** Woken and sweeping (until the worker confirms we read everything). */
  get sweeping(): boolean {
    return this.#timer !== undefined;
  }

  /** The worker wrote notices since it last confirmed: sweep until it confirms again. */
  woken(): void {
    this.#wokenSinceAsked = true;
    if (this.#closed) return;
    this.#timer ??= setInterval(() => this.#sweep(), SWEEP_MS).unref();
  }

  /** Resolves once `count` notice frames were read (or the socket closed). */
  readUpTo(count: number): Promise<void> {
    if (this.#read >= count || this.#closed) return Promise.resolve();
    this.#listen();
    return new Promise((resolve) => {
      this.#waiters.add({ count, resolve });
    });
  }

  /** Reads every notice until the socket closes (the worker died), or `boundMs` passed. */
  async readToEnd(boundMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, boundMs)));
    await Promise.race([this.readUpTo(Number.POSITIVE_INFINITY), bound]);
    clearTimeout(timer);
  }

  #take(frame: Frame): void {
    this.#read++;
    this.#options.onNotice(frame);
    for (const waiter of this.#waiters) {
      if (this.#read >= waiter.count) this.#release(waiter);
    }
  }

  /** Reads what the kernel holds in one turn of the event loop (it reports it in this poll). */
  #sweep(): void {
    const before = this.#read;
    this.#listen();
    setImmediate(() => {
      this.#unlisten();
      if (this.#read === before) void this.#askCaughtUp();
    });
  }

  /**
   * Stops sweeping once the worker confirms it wrote no more than we read; a wake-up that came
   * while it answered means it wrote more since. A worker that does not answer (blocked or
   * dead) keeps us sweeping: that is how its calls' deadlines and its death are seen.
   */
  async #askCaughtUp(): Promise<void> {
    if (this.#asking) return;
    this.#asking = true;
    this.#wokenSinceAsked = false;
    try {
      const written = await this.#options.caughtUp();
      if (this.#read >= written && !this.#wokenSinceAsked) this.#rest();
    } catch {
      // Not answered: sweep on.
    } finally {
      this.#asking = false;
    }
  }

  #rest(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #listen(): void {
    if (this.#listening++ === 0) startKernelReads(this.#socket);
  }

  #unlisten(): void {
    if (--this.#listening === 0 && !this.#closed) stopKernelReads(this.#socket);
  }

  #release(waiter: Waiter): void {
    this.#waiters.delete(waiter);
    this.#unlisten();
    waiter.resolve();
  }

  #onClose(): void {
    this.#closed = true;
    this.#rest();
    for (const waiter of this.#waiters) this.#release(waiter);
  }
}
