/**
 * The calls a worker runs without the process dispatching them (on a client connection it
 * serves, or a `ctx.invoke` it runs itself), told to the process: each call's start
 * (CallStarted) and end (CallEnded), five fields apiece, many calls to a frame. The process
 * counts them in flight (a swap drains them), times them (it kills a worker blocked past a
 * call's deadline), meters them, and fails them when the worker dies.
 *
 * They go on a socket of their own that the process reads in sweeps, not as they come: a
 * notice per call must not cost the process a wake-up per call. A start is in the kernel before
 * the function runs, so a worker that then blocks cannot hide it. The first notice after the
 * process said it had read them all (NoticesRead) also sends NoticesWaiting on the link, which
 * starts the sweeps again.
 */
import { FrameType, encodeFields, type PraaSError } from "../../protocol/index.js";
import type { FrameLink } from "../../transport/index.js";

/** How long a CallEnded notice may wait for a frame to ride with. */
const END_NOTICE_MS = 5;

export class CallNotices {
  #starts: string[] = [];
  #ends: string[] = [];
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

  /** Notes a start; `send` (or `sendThisTick`) tells the process. */
  started(fields: readonly string[]): void {
    for (const field of fields) this.#starts.push(field);
  }

  /**
   * A call's end is told with the next starts (in a run of calls) or within END_NOTICE_MS:
   * what it settles in the process (metrics, the call's deadline, idleness, a swap's drain)
   * can wait that long, and the process reads one frame, not one per call. The timer is left
   * armed when starts take the ends along: in a run of calls it fires once per END_NOTICE_MS,
   * not set and cleared per call.
   */
  ended(fields: readonly string[]): void {
    for (const field of fields) this.#ends.push(field);
    this.#endTimer ??= setTimeout(() => this.#sendEnds(), END_NOTICE_MS);
  }

  /** Notes the end of call `ids` that started at `started` (performance.now()), and how it failed. */
  endedSince(ids: readonly string[], started: number, error?: PraaSError): void {
    const seconds = String((performance.now() - started) / 1000);
    this.ended([ids[0] ?? "", ids[1] ?? "", seconds, error?.code ?? "", error?.message ?? ""]);
  }

  /** Writes the ends noted so far now, not within END_NOTICE_MS (the timer finds none). */
  flushEnds(): void {
    if (this.#ends.length > 0) this.send();
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
    if (this.#starts.length > 0) this.#report(FrameType.CallStarted, this.#starts);
    if (this.#ends.length > 0) this.#report(FrameType.CallEnded, this.#ends);
    this.#starts = [];
    this.#ends = [];
    this.channel.flush();
    this.link.flush();
  }

  #report(type: FrameType, fields: string[]): void {
    this.channel.send(type, 0, encodeFields(fields));
    if (this.channel === this.link) return;
    this.#written++;
    if (this.#sweeping) return;
    this.#sweeping = true;
    this.link.send(FrameType.NoticesWaiting, 0);
  }
}
