/**
 * Answers the context calls workers make on behalf of running functions: state, mailbox,
 * function-to-function invocation and the process list. All state lives here, in the process,
 * so every worker sees the same state and mailbox.
 */
import {
  FrameType,
  PraaSError,
  SELF,
  decodeCommit,
  decodeFields,
  decodeReadSet,
  ensurePraaSError,
  parseAlarmFields,
  type AlarmRequest,
  type Frame,
  type ProcessList,
} from "../protocol/index.js";
import type { FrameLink } from "../transport/index.js";
import type { Mailbox } from "./mailbox.js";
import type { StateOp, StateStore } from "./state-store.js";

export interface CallTarget {
  readonly name: string;
  readonly state: StateStore;
  readonly mailbox: Mailbox;
  readonly defaultGetTimeoutMs: number;
  /** Runs a function here (`process` empty or this process) or in a peer. */
  invoke(functionName: string, payload: Buffer, process: string): Promise<Buffer>;
  /** Sends a mailbox message to a peer. */
  sendToPeer(peer: string, key: string, value: Buffer): Promise<void>;
  processes(): ProcessList;
  /** Sets or cancels an alarm through the control plane; resolves whether one was set before. */
  alarm?(request: AlarmRequest): Promise<boolean>;
  /** `key` changed: workers other than `from` (absent: all) must drop their cached copies. */
  stateChanged(key: string, from?: FrameLink): void;
  /**
   * Makes applied state changes as durable as the process promises; the worker's call is
   * answered only after this resolves. When they cannot be made durable, `undo` takes them
   * back before this rejects. Every handler that changes state calls it, through `applyDurably`.
   */
  persist(ops: readonly StateOp[], undo: () => void): Promise<void>;
}

type Reply = { payload?: Uint8Array; fields?: string[] } | undefined;
type Handler = (
  target: CallTarget,
  fields: string[],
  payload: Buffer,
  from: FrameLink,
) => Reply | Promise<Reply>;

const handlers: Partial<Record<FrameType, Handler>> = {
  [FrameType.StateGet]: (t, [key = ""]) => {
    const value = t.state.get(key);
    return value === undefined ? { fields: ["absent"] } : { payload: value };
  },
  [FrameType.StatePut]: async (t, [key = ""], value, from) => {
    const bytes = ownBytes(value);
    await applyDurably(t, [key], from, () => t.state.put(key, bytes));
    return undefined;
  },
  [FrameType.StateDelete]: async (t, [key = ""], _value, from) => {
    if (t.state.get(key) === undefined) return { fields: [] };
    await applyDurably(t, [key], from, () => t.state.delete(key));
    return { fields: ["deleted"] };
  },
  [FrameType.StateKeys]: (t) => ({ payload: json(t.state.keys()) }),
  [FrameType.TxRead]: (t, [key = ""], readSet) => txRead(t, key, readSet),
  [FrameType.TxCommit]: (t, _fields, record, from) => txCommit(t, record, from),
  [FrameType.StateIncrement]: (t, [key = "", delta = ""], _payload, from) =>
    increment(t, key, delta, from),
  [FrameType.MailPut]: (t, [destination = "", key = ""], value) =>
    mailPut(t, destination, key, value),
  [FrameType.MailGet]: (t, [source = "", key = "", timeout = ""], _payload, from) =>
    mailGet(t, { source, key, timeout }, from),
  [FrameType.Call]: async (t, [fn = "", process = ""], payload) => ({
    payload: await t.invoke(fn, payload, process),
  }),
  [FrameType.Processes]: (t) => ({ payload: json(t.processes()) }),
  [FrameType.Alarm]: async (t, fields, payload) => {
    if (!t.alarm) throw new PraaSError("UNAVAILABLE", "alarms need a control plane");
    const existed = await t.alarm(parseAlarmFields(fields, ownBytes(payload)));
    return { fields: existed ? ["existed"] : [] };
  },
};

export function answerWorkerCall(target: CallTarget, frame: Frame, link: FrameLink): void {
  const handler = handlers[frame.type];
  if (handler === undefined) {
    link.replyError(
      frame.id,
      new PraaSError("PROTOCOL_ERROR", `unknown worker call ${frame.type}`),
    );
    return;
  }
  Promise.resolve()
    .then(() => handler(target, decodeFields(frame.meta), frame.payload, link))
    .then(
      (reply) => link.reply(frame.id, reply?.payload, reply?.fields),
      (error: unknown) => link.replyError(frame.id, ensurePraaSError(error)),
    );
}

/**
 * A transaction's read: refused with CONFLICT when an earlier read of the same transaction is
 * stale already, so a function never sees a mix of states that never existed together.
 */
function txRead(t: CallTarget, key: string, readSet: Buffer): Reply {
  t.state.validate(decodeReadSet(readSet));
  const { value, version } = t.state.read(key);
  const fields = value === undefined ? [String(version), "absent"] : [String(version)];
  return { payload: value, fields };
}

/**
 * Applies a change of `keys` (apply throws: nothing changed), tells the other workers, and
 * makes it durable. If it cannot be made durable it is undone, and every worker is told again,
 * before the caller hears of the failure: nobody keeps seeing a write that was refused.
 */
async function applyDurably<T>(
  t: CallTarget,
  keys: readonly string[],
  from: FrameLink,
  apply: () => T,
): Promise<T> {
  const { result, undo } = t.state.undoable(keys, apply);
  for (const key of keys) t.stateChanged(key, from);
  const ops = keys.map((key) => ({ key, value: t.state.get(key) }));
  await t.persist(ops, () => {
    undo();
    for (const key of keys) t.stateChanged(key);
  });
  return result;
}

/** Validates and applies a transaction in one synchronous step, then makes it durable. */
async function txCommit(t: CallTarget, record: Buffer, from: FrameLink): Promise<Reply> {
  const { reads, writes } = decodeCommit(record);
  const keys = writes.map(({ key }) => key);
  await applyDurably(t, keys, from, () => t.state.commit(reads, writes));
  return undefined;
}

async function increment(
  t: CallTarget,
  key: string,
  delta: string,
  from: FrameLink,
): Promise<Reply> {
  const amount = Number(delta);
  if (delta.trim() === "" || !Number.isFinite(amount)) {
    throw new PraaSError("BAD_REQUEST", `increment by ${JSON.stringify(delta)}: not a number`);
  }
  const sum = await applyDurably(t, [key], from, () => t.state.increment(key, amount));
  return { payload: Buffer.from(String(sum), "utf8") };
}

async function mailPut(
  t: CallTarget,
  destination: string,
  key: string,
  value: Buffer,
): Promise<Reply> {
  if (destination === SELF || destination === t.name) {
    await t.mailbox.put({ key, source: t.name, value: ownBytes(value) });
  } else {
    await t.sendToPeer(destination, key, value);
  }
  return undefined;
}

interface MailRequest {
  source: string;
  key: string;
  timeout: string;
}

/**
 * A waiting get belongs to the worker that asked: when that worker dies its waiter goes too,
 * and a message taken for a worker that is already gone is put back, so no message is lost.
 */
async function mailGet(t: CallTarget, request: MailRequest, from: FrameLink): Promise<Reply> {
  const { source, key, timeout } = request;
  const timeoutMs = timeout === "" ? t.defaultGetTimeoutMs : Number(timeout);
  // Node runs a timer above 2^31-1 ms after 1 ms: refuse rather than time out at once.
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > 2 ** 31 - 1) {
    throw new PraaSError(
      "BAD_REQUEST",
      `timeoutMs must be an integer in [0, ${2 ** 31 - 1}], got ${timeout}`,
    );
  }
  if (from.closed) throw new PraaSError("CONNECTION_CLOSED", "the worker is gone");
  dropWaitersOnClose(t.mailbox, from);
  const message = await t.mailbox.get(source === SELF ? t.name : source, key, timeoutMs, from);
  if (from.closed) {
    t.mailbox.putBack(message);
    throw new PraaSError("CONNECTION_CLOSED", "the worker is gone");
  }
  return { payload: message.value, fields: [message.source] };
}

const watchedLinks = new WeakSet<FrameLink>();

function dropWaitersOnClose(mailbox: Mailbox, link: FrameLink): void {
  if (watchedLinks.has(link)) return;
  watchedLinks.add(link);
  link.socket.once("close", () =>
    mailbox.dropWaitersOf(link, new PraaSError("CONNECTION_CLOSED", "the worker is gone")),
  );
}

/**
 * A value kept beyond this call: copy it out of a larger socket buffer so a few stored bytes
 * do not pin a whole 64 KiB read chunk in memory.
 */
export function ownBytes(value: Buffer): Buffer {
  return value.buffer.byteLength > value.length * 2 ? Buffer.from(value) : value;
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}
