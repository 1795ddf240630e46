/**
 * The calls a worker runs without the process dispatching them (on a client connection it
 * serves, or a `ctx.invoke` it runs itself), told to the process: each call's start
 * (CallStarted) and end (CallEnded), many calls to a frame (records: protocol/call-notices.ts).
 * The process counts them in flight (a swap drains them), times them (it kills a worker blocked
 * past a call's deadline), meters them, and fails them when the worker dies.
 *
 * They go on a socket of their own that the process reads in sweeps, not as they come: a
 * notice per call must not cost the process a wake-up per call. A start is in the kernel before
 * the function runs, so a worker that then blocks cannot hide it. The first notice after the
 * process said it had read them all (NoticesRead) also sends NoticesWaiting on the link, which
 * starts the sweeps again.
 */
import { FrameType, NoticeRecords, type PraaSError } from "../../protocol/index.js";
import type { FrameLink } from "../../transport/index.js";

/** How long a CallEnded notice may wait for a frame to ride with. */
const END_NOTICE_MS = 5;

export class CallNotices {
  readonly #starts = new NoticeRecords();
  readonly #ends = new NoticeRecords();
  /** Sends the ends noted, unless starts take them along first. */
  #endTimer: NodeJS.Timeout | undefined;
  #tickScheduled = false;
  /** Notice frames written to the notice socket. */
  #written = 0;
  /** The process sweeps the notice socket: it was woken since it last read everything. */
  #sweeping = false;

  /** `channel`: the notice socket's link; without one (in-process tests), notices go on `link`. */
  constructor(
    readonly link: FrameLink,
    readonly channel: FrameLink = link,
  ) {}

  /** Notice frames written so far: the process has seen every call once it read this many. */
  get written(): number {
    return this.#written;
  }

  /** The process read everything up to now (NoticesRead): the next notice wakes it again. */
  caughtUp(): number {
    this.#sweeping = false;
    return this.#written;
  }

  /**
   * Notes a start; `send` (or `sendThisTick`) tells the process. `invocation`: the worker's
   * number for it (0: none, a forwarded call gets the pool's).
   */
  started(
    connection: number,
    requestId: number,
    fn: string,
    invocation: number,
    forwarded = false,
  ): void {
    this.#starts.start(connection, requestId, fn, invocation, forwarded);
  }

  /**
   * A call's end is told with the next starts (in a run of calls) or within END_NOTICE_MS:
   * what it settles in the process (metrics, the call's deadline, idleness, a swap's drain)
   * can wait that long, and the process reads one frame, not one per call. The timer is left
   * armed when starts take the ends along: in a run of calls it fires once per END_NOTICE_MS,
   * not set and cleared per call.
   */
  ended(connection: number, requestId: number, seconds?: number, error?: PraaSError): void {
    this.#ends.end(connection, requestId, seconds, error);
    this.#endTimer ??= setTimeout(() => this.#sendEnds(), END_NOTICE_MS);
  }

  /** Notes the end of a call that started at `started` (performance.now()), and how it failed. */
  endedSince(connection: number, requestId: number, started: number, error?: PraaSError): void {
    this.ended(connection, requestId, (performance.now() - started) / 1000, error);
  }

  /** Writes the ends noted so far now, not within END_NOTICE_MS (the timer finds none). */
  flushEnds(): void {
    if (!this.#ends.empty) this.send();
  }

  #sendEnds(): void {
    this.#endTimer = undefined;
    this.flushEnds();
  }

  /** Sends what was noted once this tick's work is done: every start of the tick in one frame. */
  sendThisTick(): void {
    if (this.#tickScheduled) return;
    this.#tickScheduled = true;
    process.nextTick(() => {
      this.#tickScheduled = false;
      this.send();
    });
  }

  /**
   * Every start and end noted so far, written now. Starts go first: a call that started and
   * ended since the last frame must be known before its end, and the count in flight must not
   * touch zero (and release a swap's drain) between the two.
   */
  send(): void {
    if (!this.#starts.empty) this.#report(FrameType.CallStarted, this.#starts);
    if (!this.#ends.empty) this.#report(FrameType.CallEnded, this.#ends);
    this.channel.flush();
    this.link.flush();
  }

  #report(type: FrameType, records: NoticeRecords): void {
    this.channel.send(type, 0, undefined, records.take());
    if (this.channel === this.link) return;
    this.#written++;
    if (this.#sweeping) return;
    this.#sweeping = true;
    this.link.send(FrameType.NoticesWaiting, 0);
  }
}
