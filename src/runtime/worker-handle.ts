/**
 * One worker subprocess as the process sees it: its frame link on fd 3, its in-flight count,
 * and why it died. Worker stdout/stderr are forwarded to the process's stderr, and scanned for
 * V8's out-of-memory report so a crash can say what happened.
 */
import type { ChildProcess } from "node:child_process";
import type { Socket } from "node:net";
import {
  FrameType,
  PraaSError,
  decodeFields,
  encodeFields,
  ensurePraaSError,
  invocationIdOf,
  readCallEnds,
  readCallStarts,
  type AppEnv,
  type CallEndRecord,
  type CallStartRecord,
  type ErrorCode,
  type Frame,
} from "../protocol/index.js";
import { FrameLink, decodeErrorFrame } from "../transport/index.js";
import type { HandOff } from "./worker/direct.js";
import type { LocalCallSettings } from "./worker/local-calls.js";
import {
  isPeerLinkRequest,
  type PeerLinkAnswer,
  type PeerLinkRequest,
  type PeerMoved,
} from "./worker/peer-links.js";
import { DirectLedger, type DirectCall, type LeftCall } from "./direct-ledger.js";
import type { MemoryVerdict } from "./memory-guard.js";
import { NoticeReader } from "./notice-reader.js";
import {
  spawnWorker,
  type SpawnedWorker,
  type WorkerExit,
  type WorkerSlot,
} from "./worker-spawn.js";

const READY_TIMEOUT_MS = 30_000;
/** How long the worker has to answer NoticesRead and Drain before it is asked again. */
const ASK_TIMEOUT_MS = 1000;
/** How long a dead worker's last notices may take to be read. */
const LAST_NOTICES_MS = 2000;
/** How long an aborted worker's last output may take to arrive (it says whether memory ran out). */
const LAST_OUTPUT_MS = 1000;
/** How long a worker that asked to be replaced has to answer what it runs before it is killed. */
const RETIRE_GRACE_MS = 2000;
/** V8's last words when the heap, or the process's own allocations, ran out. */
const OUT_OF_MEMORY_REPORTS = ["heap out of memory", "process out of memory"];

/** What a worker learns when a process takes it (the LOAD frame), and how it is answered. */
export interface WorkerAssignment {
  application: string;
  processId: string;
  /** The process logs acknowledged writes: a worker's `state.put` waits for the answer. */
  durable?: boolean;
  /** The whole environment of the application's functions (the worker starts with TMPDIR only). */
  appEnv: Readonly<AppEnv>;
  /** Answers the worker's context calls (state, mailbox, invoke...). */
  onCall(frame: Frame, link: FrameLink): void;
  /** Knows whether a worker that died was killed for the process's memory limit. */
  memory?: MemoryVerdict | undefined;
  /** Takes the worker's raw stdout/stderr (function logs); default: the process's stderr. */
  onOutput?: ((stream: "stdout" | "stderr", chunk: Buffer) => void) | undefined;
  /**
   * Opens an authenticated connection to a peer process and lets go of it, for the worker to
   * use as its own; undefined: that peer is reached through the process only.
   */
  peerLink?(peer: string): Promise<PeerSocket | undefined>;
  /** Lets the worker run `ctx.invoke` of its own process's functions itself, as told here. */
  localCalls?: LocalCallSettings;
  /** Deadline of a call on a handed-over connection; absent: no deadline. */
  invocationTimeoutMs?: number;
  /** Calls on handed-over connections that the worker runs started (+n) or ended (-n). */
  directCalls?(delta: number): void;
  /** A call on a handed-over connection passed its deadline. */
  directDeadline?(worker: WorkerHandle, call: DirectCall): void;
  /** A call on a handed-over connection started (or was passed to the process, `forwarded`). */
  directCallStarted?(): void;
  /**
   * It ended, after `seconds`; `error`: how it failed (then `invocationId` names it, else it is
   * empty: the id is built only for a failure's log line).
   */
  directCallEnded?(
    call: DirectCall,
    seconds: number,
    error?: PraaSError,
    invocationId?: string,
  ): void;
}

export type WorkerSpec = WorkerSlot & WorkerAssignment;

/** A connection let go of by its link: its socket and what was read past its last frame. */
export interface PeerSocket {
  socket: Socket;
  rest: Buffer;
}

type Exit = WorkerExit;

interface Cause {
  code: ErrorCode;
  text: string;
}

export class WorkerHandle {
  readonly child: ChildProcess;
  readonly link: FrameLink;
  readonly exited: Promise<Exit>;
  readonly ready: Promise<string[]>;
  /** Invocations the worker is running, including those whose caller already got TIMEOUT. */
  inflight = 0;
  /** Client connections handed to this worker, and their calls in flight. */
  readonly direct = new DirectLedger(
    (call) => this.#callLate(call),
    (call, error, seconds) => this.#callEnded(call, error, seconds),
  );
  /** The starts and ends of the calls the worker runs itself, on their own socket. */
  readonly notices: NoticeReader;
  #alive = true;
  #stopped = false;
  #isReady = false;
  #outOfMemory = false;
  /** Resolves once the worker's stdout and stderr ended (a program it started may hold them). */
  #outputEnded: Promise<unknown> = Promise.resolve();
  #memoryKill: boolean | undefined;
  /** A ping in flight: an invocation here timed out and the worker may be blocked. */
  #probe: Promise<boolean> | undefined;
  #crashReport: PraaSError | undefined;
  #killReason: string | undefined;
  #readyResolve!: (names: string[]) => void;
  #readyReject!: (error: PraaSError) => void;
  #assignment: WorkerAssignment | undefined;

  /**
   * Starts the worker without user code (or takes over one `spawned` for this slot already);
   * `assign` gives it its process and loads the bundle.
   */
  constructor(
    readonly spec: WorkerSlot,
    spawned: SpawnedWorker = spawnWorker(spec),
  ) {
    this.child = spawned.child;
    this.#forwardOutput();
    this.link = new FrameLink(childSocket(this.child, 3), {
      maxPayloadBytes: spec.maxPayloadBytes,
      // A committed batch of durable puts: one acknowledgement frame, not one per put.
      coalesceEmptyReplies: true,
      onRequest: (frame, link) => this.#onFrame(frame, link),
      onClose: () => void this.#failDirect(),
    });
    this.notices = new NoticeReader(childSocket(this.child, 5), {
      maxPayloadBytes: spec.maxPayloadBytes,
      onNotice: (frame) => this.#onNotice(frame),
      caughtUp: () => this.#writtenNotices(FrameType.NoticesRead),
    });
    // The IPC channel only carries sockets between us; it must not keep the process alive.
    this.child.channel?.unref();
    this.child.on("message", (message: unknown) => {
      if (isPeerLinkRequest(message)) void this.#openPeerLink(message);
    });
    this.ready = new Promise((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    this.ready.catch(() => undefined);
    this.exited = spawned.exited.then((exit) => {
      const error = spawned.startError();
      if (error)
        this.#crashReport ??= new PraaSError(
          "WORKER_CRASHED",
          `worker not started: ${error.message}`,
        );
      return exit;
    });
    void this.#watchExit();
  }

  /** Binds the worker to its process and has it load the bundle; `ready` settles after. */
  assign(assignment: WorkerAssignment): void {
    this.#assignment = assignment;
    if (this.child.pid !== undefined) assignment.memory?.adopt(this.child.pid);
    const durability = assignment.durable ? "durable" : "memory";
    const local = assignment.localCalls === undefined ? "" : JSON.stringify(assignment.localCalls);
    const { application, processId } = assignment;
    const fields = encodeFields([application, processId, durability, local]);
    this.link.send(FrameType.Load, 0, fields, Buffer.from(JSON.stringify(assignment.appEnv)));
    this.#guardReady();
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** Ready and not condemned: may take new invocations. */
  get usable(): boolean {
    return this.#alive && this.#isReady && this.#killReason === undefined && !this.#probe;
  }

  get wasReady(): boolean {
    return this.#isReady;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Kills the worker; in-flight invocations will fail with a crash error naming `reason`. */
  kill(reason: string): void {
    this.#killReason ??= reason;
    this.child.kill("SIGKILL");
  }

  /**
   * Asks the worker to stop, escalating to SIGKILL after `graceMs`; `reason` is what calls it
   * leaves are told.
   */
  async stop(graceMs: number, reason = "the process is stopping"): Promise<void> {
    this.#stopped = true;
    if (!this.#alive) return;
    this.#killReason ??= reason;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /**
   * Resolves whether the worker's event loop answers a ping within `timeoutMs`; one ping at a
   * time, callers meanwhile share its answer. Meanwhile the worker takes no new invocations: a
   * blocked worker would never run them.
   */
  probe(timeoutMs: number): Promise<boolean> {
    this.#probe ??= this.link.request(FrameType.Ping, undefined, undefined, timeoutMs).then(
      () => this.#probeDone(true),
      () => this.#probeDone(false),
    );
    return this.#probe;
  }

  /** The answer of the ping in flight, if one is. */
  get probing(): Promise<boolean> | undefined {
    return this.#probe;
  }

  #probeDone(responsive: boolean): boolean {
    this.#probe = undefined;
    return responsive;
  }

  /** The error for an invocation that was running when this worker died. */
  async crashError(functionName: string): Promise<PraaSError> {
    const exit = await Promise.race([this.exited, delay(2000)]);
    // V8 aborts when memory runs out, and so does process.abort(): only its report tells them apart.
    if (exit?.signal === "SIGABRT") await Promise.race([this.#outputEnded, delay(LAST_OUTPUT_MS)]);
    const cause = this.#cause(exit);
    return new PraaSError(cause.code, `worker running ${functionName} died: ${cause.text}`);
  }

  #cause(exit: Exit | undefined): Cause {
    if (this.#killReason) return { code: "WORKER_CRASHED", text: this.#killReason };
    if (this.#crashReport) return { code: "WORKER_CRASHED", text: this.#crashReport.message };
    return this.#memoryCause(exit) ?? { code: "WORKER_CRASHED", text: exitText(exit) };
  }

  #memoryCause(exit: Exit | undefined): Cause | undefined {
    if (exit?.signal === "SIGKILL" && this.#killedForMemory()) {
      const limit = this.#assignment?.memory?.limitMiB ?? 0;
      const text = `out of memory: it exceeded the process memory limit of ${limit} MiB`;
      return { code: "OUT_OF_MEMORY", text };
    }
    if (this.#outOfMemory) {
      return { code: "OUT_OF_MEMORY", text: `out of memory (heap limit ${this.spec.heapMiB} MiB)` };
    }
    return undefined;
  }

  /** Asked once per worker: the guard counts each kill only once. */
  #killedForMemory(): boolean {
    const pid = this.child.pid;
    const memory = this.#assignment?.memory;
    this.#memoryKill ??= pid !== undefined && (memory?.killedForMemory(pid) ?? false);
    return this.#memoryKill;
  }

  /**
   * Hands an authenticated client connection to this worker (it answers HELLO); false when the
   * worker cannot take it. The socket stays open here too, unread, to answer for a dead worker.
   */
  handOff(socket: Socket, message: HandOff, released: () => void): void {
    this.direct.hold(message.connection, socket, released);
    // Without this, Node would have the server's close() poll the worker over IPC for the
    // socket (as its cluster module does), and wait forever for a worker that died. The
    // server still counts the connection until our copy of the socket is closed.
    (socket as unknown as { server: unknown }).server = null;
    this.child.send(message, socket, { keepOpen: true }, (error) => {
      if (error) this.direct.closed(message.connection);
    });
  }

  /** The worker asked for its own connection to a peer: opened here, handed over (or why not). */
  async #openPeerLink({ id, peer }: PeerLinkRequest): Promise<void> {
    const answer: PeerLinkAnswer = { kind: "praas-peer", id };
    try {
      const opened = await this.#assignment?.peerLink?.(peer);
      if (opened === undefined) answer.throughProcess = true;
      else answer.rest = opened.rest.toString("base64");
      this.#sendToWorker(answer, opened?.socket);
    } catch (error) {
      this.#sendToWorker({ ...answer, error: ensurePraaSError(error).toRecord() });
    }
  }

  /** Tells the worker that `peer` moved or left (its own connection to it is stale). */
  peerMoved(peer: string): void {
    const notice: PeerMoved = { kind: "praas-peer-moved", peer };
    if (this.child.connected) this.child.send(notice);
  }

  /** An IPC message (and the socket it carries: ours is closed once sent). */
  #sendToWorker(message: PeerLinkAnswer, socket?: Socket): void {
    if (!this.child.connected) {
      socket?.destroy();
      return;
    }
    this.child.send(message, socket, { keepOpen: false }, () => socket?.destroy());
  }

  /** Usable, and its IPC channel is open to take a connection. */
  get canTake(): boolean {
    return this.usable && this.child.connected;
  }

  /**
   * Makes the worker refuse (`on`) or take again new calls on its connections; resolves once
   * every call it started before is read here.
   */
  async drain(on: boolean): Promise<void> {
    const written = await this.#writtenNotices(FrameType.Drain, [on ? "on" : "off"]);
    await this.notices.readUpTo(written);
  }

  /** Asks the worker (Drain or NoticesRead) and resolves with the notice frames it wrote. */
  async #writtenNotices(type: FrameType, fields: string[] = []): Promise<number> {
    const reply = await this.link.request(type, encodeFields(fields), undefined, ASK_TIMEOUT_MS);
    return Number(decodeFields(reply.meta)[0] ?? "0");
  }

  #onFrame(frame: Frame, link: FrameLink): void {
    if (frame.type === FrameType.NoticesWaiting) this.notices.woken();
    else if (frame.type === FrameType.CallStarted || frame.type === FrameType.CallEnded)
      this.#onNotice(frame);
    else if (frame.type === FrameType.ConnectionClosed)
      this.direct.closed(Number(decodeFields(frame.meta)[0] ?? ""));
    else if (frame.type === FrameType.Ready) this.#onReady(decodeFields(frame.meta));
    else if (frame.type === FrameType.Retire) this.#retire(decodeFields(frame.meta));
    else if (frame.type === FrameType.Error && frame.id === 0)
      this.#onReport(decodeErrorFrame(frame));
    else this.#assignment?.onCall(frame, link);
  }

  #onNotice(frame: Frame): void {
    if (frame.type === FrameType.CallStarted) readCallStarts(frame.payload, this.#callStarted);
    else if (frame.type === FrameType.CallEnded) readCallEnds(frame.payload, this.#callEndNotice);
  }

  readonly #callStarted = (notice: CallStartRecord): void => {
    const timeoutMs = this.#assignment?.invocationTimeoutMs;
    if (this.direct.started(notice, notice, timeoutMs) === undefined) return;
    this.#assignment?.directCallStarted?.();
    if (!notice.forwarded) this.#countDirect(1);
  };

  /** Told by the ledger: the worker's end notice, or the worker's death. */
  #callEnded(call: DirectCall, error?: PraaSError, seconds?: number): void {
    const took = seconds ?? (performance.now() - call.started) / 1000;
    const invocationId = error === undefined ? "" : this.invocationId(call.invocation);
    this.#assignment?.directCallEnded?.(call, took, error, invocationId);
  }

  /** The id the worker gave its invocation number `invocation` (see invocationIdOf). */
  invocationId(invocation: number): string {
    const processId = this.#assignment?.processId ?? "";
    return invocationIdOf(processId, this.child.pid ?? 0, invocation);
  }

  /**
   * As in the pool: the first late call on a worker gets TIMEOUT and starts the ping; a call
   * whose deadline passes during that ping shares the worker's fate.
   */
  #callLate(call: DirectCall): void {
    call.late = this.#probe === undefined;
    this.#assignment?.directDeadline?.(this, call);
  }

  readonly #callEndNotice = (notice: CallEndRecord): void => {
    const error = notice.error && PraaSError.fromRecord(notice.error);
    if (this.direct.ended(notice, error, notice.seconds)) this.#countDirect(-1);
  };

  #countDirect(delta: number): void {
    if (delta === 0) return;
    this.inflight += delta;
    this.#assignment?.directCalls?.(delta);
  }

  /**
   * The worker's link is gone, so is the worker: answer what it left on its connections, once
   * its last notices are read (a call it answered must not get a crash error).
   */
  async #failDirect(): Promise<void> {
    await this.notices.readToEnd(LAST_NOTICES_MS);
    const explain = (fn: string, call: LeftCall): Promise<PraaSError> =>
      this.#directError(fn, call);
    const counted = await this.direct.failAll(explain, this.spec.maxPayloadBytes);
    this.#countDirect(-counted);
  }

  /**
   * Only a call that never ran is refused as UNAVAILABLE when the process stops (it may be sent
   * again); one that was running was cut off, as on the process's own path (WORKER_CRASHED).
   */
  async #directError(fn: string, call: LeftCall): Promise<PraaSError> {
    if (call === "unread" && this.#stopped)
      return new PraaSError("UNAVAILABLE", this.#killReason ?? "the process is stopping");
    if (call !== "late") return this.crashError(fn);
    const ms = this.#assignment?.invocationTimeoutMs ?? 0;
    return new PraaSError("TIMEOUT", `${fn} did not finish within ${ms} ms`);
  }

  /**
   * A function changed the worker's built-ins: it stops gracefully (its clients are told to go
   * elsewhere), and the pool starts another when it has exited.
   */
  #retire([changed = "", fn = ""]: string[]): void {
    if (this.#stopped) return;
    const reason = `the worker was replaced: the built-in ${changed} was changed (found as ${fn} ended)`;
    void this.stop(RETIRE_GRACE_MS, reason);
  }

  #onReady(names: string[]): void {
    this.#isReady = true;
    this.#readyResolve(names);
  }

  #onReport(error: PraaSError): void {
    this.#crashReport = error;
    this.#readyReject(error);
  }

  async #watchExit(): Promise<void> {
    const exit = await this.exited;
    this.#alive = false;
    this.#readyReject(
      this.#crashReport ??
        new PraaSError(
          "BUILD_FAILED",
          `worker exited before it was ready: ${this.#cause(exit).text}`,
        ),
    );
  }

  #guardReady(): void {
    const timer = setTimeout(() => {
      this.#readyReject(
        new PraaSError("BUILD_FAILED", `worker not ready after ${READY_TIMEOUT_MS} ms`),
      );
      this.kill("it did not become ready in time");
    }, READY_TIMEOUT_MS);
    void this.ready.then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
  }

  #forwardOutput(): void {
    // Read at each chunk: a pooled worker gets its process (and its log sink) after it started.
    const sink = (name: "stdout" | "stderr", chunk: Buffer): void => {
      const onOutput = this.#assignment?.onOutput;
      if (onOutput) onOutput(name, chunk);
      else process.stderr.write(chunk);
    };
    const ended: Promise<unknown>[] = [];
    for (const name of ["stdout", "stderr"] as const) {
      const stream = this.child[name];
      if (stream === null) continue;
      stream.on("data", (chunk: Buffer) => {
        if (OUT_OF_MEMORY_REPORTS.some((report) => chunk.includes(report)))
          this.#outOfMemory = true;
        sink(name, chunk);
      });
      ended.push(new Promise((resolve) => stream.once("close", resolve)));
    }
    this.#outputEnded = Promise.all(ended);
  }
}

/** The socket on the worker's descriptor `fd` (spawned as a pipe). */
function childSocket(child: ChildProcess, fd: number): Socket {
  return (child.stdio as unknown as Socket[])[fd] as Socket;
}

function exitText(exit: Exit | undefined): string {
  if (exit === undefined) return "connection to the worker was lost";
  return exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());
}
