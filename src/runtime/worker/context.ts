/**
 * The `Context` a function receives inside a worker: every call is a request to the process.
 * Classes with prototype methods, so an invocation allocates two small objects, not a dozen
 * closures.
 */
import {
  ANY,
  DEFAULT_ALARM_FUNCTION,
  alarmTime,
  checkAlarmFunction,
  checkAlarmPayload,
  type AlarmOptions,
  FrameType,
  PraaSError,
  SELF,
  assertKey,
  decodeFields,
  encodeFields,
  ensurePraaSError,
  storedEntryBytes,
  toBytes,
  type Context,
  type Frame,
  type GetOptions,
  type InvokeOptions,
  type ProcessList,
  type ProcessState,
  type StateKey,
  type Transaction,
  type TransactionOptions,
  type Value,
} from "../../protocol/index.js";
import type { FrameLink } from "../../transport/index.js";
import type { LocalCalls } from "./local-calls.js";
import type { PeerLinks } from "./peer-links.js";
import type { StateCache } from "./state-cache.js";
import type { Reservation, StorageBudget } from "./storage-budget.js";
import { compareAndSet, increment, runTransaction, update } from "./transaction.js";

/** The longest `get` timeout a timer can wait (Node fires longer ones after 1 ms). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export interface InvocationInfo {
  invocationId: string;
  processId: string;
  application: string;
  functionName: string;
}

/** Requests to the process unanswered, or bytes unsent, past which a put waits for its answer. */
const MAX_UNANSWERED = 1024;
const MAX_UNSENT_BYTES = 4 * 1024 * 1024;

function call(
  link: FrameLink,
  type: FrameType,
  fields: string[],
  payload?: Uint8Array,
): Promise<Frame> {
  return link.request(type, encodeFields(fields), payload);
}

class State implements ProcessState {
  constructor(
    readonly link: FrameLink,
    readonly cache: StateCache,
    readonly budget: StorageBudget,
    /** The process logs writes: a put resolves only once it is on disk. */
    readonly durable = false,
  ) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    assertKey(key);
    const cached = this.cache.lookup(key);
    if (cached !== undefined) return cached === null ? undefined : Buffer.from(cached);
    const version = this.cache.version(key);
    const reply = await call(this.link, FrameType.StateGet, [key]);
    const value = decodeFields(reply.meta)[0] === "absent" ? null : Buffer.from(reply.payload);
    this.cache.remember(key, value, version);
    return value === null ? undefined : Buffer.from(value);
  }

  /**
   * Cached here and sent to the process without waiting for its answer: the frame is handed to
   * the kernel before this resolves, and everything this worker sends later queues behind it.
   * In a durable process it resolves on the process's answer instead: the write is on disk; so
   * does a put too near the storage limit for this worker to tell whether it fits.
   */
  put(key: string, value: Value): Promise<void> {
    assertKey(key);
    const bytes = Buffer.from(toBytes(value));
    // Refused here, since nobody waits for the process's answer to a put.
    if (bytes.length > this.cache.maxValueBytes) {
      const limit = this.cache.maxValueBytes;
      return Promise.reject(
        new PraaSError(
          "PAYLOAD_TOO_LARGE",
          `state value of ${bytes.length} bytes exceeds ${limit}`,
        ),
      );
    }
    let reservation: Reservation;
    try {
      reservation = this.budget.reserve(this.#growth(key, bytes));
    } catch (error) {
      return Promise.reject(ensurePraaSError(error));
    }
    this.cache.write(key, bytes);
    const sent = call(this.link, FrameType.StatePut, [key], bytes);
    // A durable put waits for its answer anyway: leave it in this tick's batch, so concurrent
    // puts reach the process in one write and share one sync of its log.
    if (!this.durable) this.link.flush();
    sent.catch(() => this.cache.forget(key));
    const awaited = this.durable || reservation === "ask" || this.#backedUp();
    this.budget.track(sent, awaited);
    return awaited ? sent.then(() => undefined) : Promise.resolve();
  }

  /**
   * Whether the process is behind on this worker's requests: a put then waits for its answer,
   * so a loop of puts (each resolved at once) cannot outrun the process and fill the worker's
   * memory with frames and unanswered requests.
   */
  #backedUp(): boolean {
    const link = this.link;
    return link.pendingCount >= MAX_UNANSWERED || link.socket.writableLength >= MAX_UNSENT_BYTES;
  }

  /** What storing `bytes` at `key` adds at most: all of it unless the old value is cached. */
  #growth(key: string, bytes: Buffer): number {
    const cached = this.cache.lookup(key);
    const old = cached ? storedEntryBytes(key, cached.length) : 0;
    return storedEntryBytes(key, bytes.length) - old;
  }

  /**
   * Cached as absent only if nothing changed the key while the delete was in flight: another
   * worker's later put is announced (StateChanged) before our reply arrives, and must win.
   */
  async delete(key: string): Promise<boolean> {
    assertKey(key);
    const version = this.cache.invalidate(key);
    const reply = await call(this.link, FrameType.StateDelete, [key]);
    this.cache.remember(key, null, version);
    return decodeFields(reply.meta)[0] === "deleted";
  }

  async keys(): Promise<StateKey[]> {
    return parseJson<StateKey[]>((await call(this.link, FrameType.StateKeys, [])).payload);
  }

  transaction<T>(
    body: (tx: Transaction) => T | Promise<T>,
    options?: TransactionOptions,
  ): Promise<T> {
    return runTransaction(this, body, options);
  }

  increment(key: string, delta = 1): Promise<number> {
    return increment(this, key, delta);
  }

  update(
    key: string,
    fn: (current: Uint8Array | undefined) => Value | undefined | Promise<Value | undefined>,
  ): Promise<Uint8Array | undefined> {
    return update(this, key, fn);
  }

  compareAndSet(
    key: string,
    expected: Value | undefined,
    next: Value | undefined,
  ): Promise<boolean> {
    return compareAndSet(this, key, expected, next);
  }
}

class WorkerContext implements Context {
  readonly invocationId: string;
  readonly processId: string;
  readonly application: string;
  readonly functionName: string;
  readonly state: ProcessState;

  constructor(
    readonly link: FrameLink,
    info: InvocationInfo,
    cache: StateCache,
    budget: StorageBudget,
    durable: boolean,
    readonly local: LocalCalls | undefined,
    readonly peers: PeerLinks | undefined,
  ) {
    this.invocationId = info.invocationId;
    this.processId = info.processId;
    this.application = info.application;
    this.functionName = info.functionName;
    this.state = new State(link, cache, budget, durable);
  }

  async put(destination: string, key: string, value: Value): Promise<void> {
    checkPeer(destination, "destination", false);
    assertKey(key);
    const bytes = toBytes(value);
    const peers = this.#isSelf(destination) ? undefined : this.peers;
    if (await peers?.put(this.processId, destination, key, bytes)) return;
    await call(this.link, FrameType.MailPut, [destination, key], bytes);
  }

  async get(source: string, key: string, options?: GetOptions): Promise<Uint8Array> {
    checkPeer(source, "source", true);
    assertKey(key);
    const timeout = options?.timeoutMs === undefined ? "" : String(checkTimeout(options.timeoutMs));
    return (await call(this.link, FrameType.MailGet, [source, key, timeout])).payload;
  }

  async invoke(
    functionName: string,
    payload?: Value,
    options?: InvokeOptions,
  ): Promise<Uint8Array> {
    const process = options?.process ?? "";
    const bytes = toBytes(payload);
    const here = process === "" || this.#isSelf(process);
    const direct = here
      ? this.local?.tryRun(functionName, bytes)
      : this.peers?.invoke(process, functionName, bytes);
    const result = await direct;
    if (result !== undefined) return result;
    return (await call(this.link, FrameType.Call, [functionName, process], bytes)).payload;
  }

  #isSelf(process: string): boolean {
    return process === SELF || process === this.processId;
  }

  async processes(): Promise<ProcessList> {
    return parseJson<ProcessList>((await call(this.link, FrameType.Processes, [])).payload);
  }

  async setAlarm(at: Date | number, options?: AlarmOptions): Promise<void> {
    const ms = alarmTime(at);
    const fn = checkAlarmFunction(options?.function ?? DEFAULT_ALARM_FUNCTION);
    const payload = toBytes(options?.payload);
    checkAlarmPayload(payload.length);
    await call(this.link, FrameType.Alarm, ["set", fn, String(ms)], payload);
  }

  async cancelAlarm(functionName: string = DEFAULT_ALARM_FUNCTION): Promise<boolean> {
    const reply = await call(this.link, FrameType.Alarm, [
      "cancel",
      checkAlarmFunction(functionName),
    ]);
    return decodeFields(reply.meta)[0] === "existed";
  }
}

export function createContext(
  link: FrameLink,
  info: InvocationInfo,
  cache: StateCache,
  budget: StorageBudget,
  durable = false,
  local?: LocalCalls,
  peers?: PeerLinks,
): Context {
  return new WorkerContext(link, info, cache, budget, durable, local, peers);
}

function checkTimeout(ms: unknown): number {
  if (typeof ms !== "number" || !Number.isInteger(ms) || ms < 0 || ms > MAX_TIMEOUT_MS) {
    throw new PraaSError(
      "BAD_REQUEST",
      `timeoutMs must be an integer in [0, ${MAX_TIMEOUT_MS}], got ${String(ms)}`,
    );
  }
  return ms;
}

function checkPeer(name: unknown, what: string, allowAny: boolean): void {
  if (typeof name !== "string" || name.length === 0 || (!allowAny && name === ANY)) {
    const choices = `${SELF}${allowAny ? ` or ${ANY}` : ""}`;
    throw new PraaSError("BAD_REQUEST", `${what} must be a process name or ${choices}`);
  }
}

function parseJson<T>(bytes: Uint8Array): T {
  return JSON.parse(Buffer.from(bytes).toString("utf8")) as T;
}
