/**
 * Optimistic state transactions, worker side. Reads go to the process and come back with the
 * key's version; each read carries the versions read before it, and the process refuses it
 * (CONFLICT) when one of them is stale, so a body never sees states that never coexisted.
 * Writes stay here until the body returns; then one commit frame takes the read and write sets
 * to the process, which applies every write at once if no read is stale, or answers CONFLICT,
 * and the body runs again after a short jittered pause. Committed transactions are serializable:
 * each one behaves as if it ran alone at the moment it committed.
 */
import {
  FrameType,
  PraaSError,
  assertKey,
  decodeFields,
  encodeCommit,
  encodeFields,
  encodeReadSet,
  toBytes,
  type Transaction,
  type TransactionOptions,
  type TxRead,
  type Value,
} from "../../protocol/index.js";
import type { FrameLink } from "../../transport/index.js";
import type { StateCache } from "./state-cache.js";

export const DEFAULT_MAX_ATTEMPTS = 10;
/** The longest pause between attempts: contention is between invocations of one process. */
const MAX_BACKOFF_MS = 50;
const NO_FIELDS = encodeFields([]);

/** What transactions of one worker share: its link to the process and its state cache. */
export interface TxSession {
  readonly link: FrameLink;
  readonly cache: StateCache;
}

interface Seen {
  value: Buffer | undefined;
  version: number;
}

class BufferedTransaction implements Transaction {
  readonly #reads = new Map<string, Seen>();
  readonly #writes = new Map<string, Buffer | undefined>();
  /** Reads run one after another, so each one is checked against all reads before it. */
  #lastRead: Promise<unknown> = Promise.resolve();
  #finished = false;
  /** A read was refused: whatever the body does with that, this attempt cannot commit. */
  #doomed: PraaSError | undefined;

  constructor(readonly session: TxSession) {}

  get(key: string): Promise<Uint8Array | undefined> {
    assertKey(key);
    this.#checkOpen();
    const read = this.#lastRead.then(() => this.#read(key));
    this.#lastRead = read.catch(() => undefined);
    return read;
  }

  put(key: string, value: Value): void {
    assertKey(key);
    this.#checkOpen();
    const bytes = Buffer.from(toBytes(value));
    const limit = this.session.cache.maxValueBytes;
    if (bytes.length > limit) {
      throw new PraaSError(
        "PAYLOAD_TOO_LARGE",
        `state value of ${bytes.length} bytes exceeds ${limit}`,
      );
    }
    this.#writes.set(key, bytes);
  }

  delete(key: string): void {
    assertKey(key);
    this.#checkOpen();
    this.#writes.set(key, undefined);
  }

  /** Sends the commit; CONFLICT when a read is stale. A read-only body needs none. */
  async commit(): Promise<void> {
    this.#finished = true;
    if (this.#doomed) throw this.#doomed;
    if (this.#writes.size === 0) return;
    const writes = [...this.#writes].map(([key, value]) => ({ key, value }));
    const record = encodeCommit({ reads: this.#readSet(), writes });
    const { cache, link } = this.session;
    if (record.length > cache.maxValueBytes) {
      throw new PraaSError("PAYLOAD_TOO_LARGE", `transaction of ${record.length} bytes too large`);
    }
    // Cached copies of written keys are stale from now until the answer says what holds.
    const versions = writes.map(({ key }) => cache.invalidate(key));
    await link.request(FrameType.TxCommit, NO_FIELDS, record);
    writes.forEach(({ key, value }, i) => cache.remember(key, value ?? null, versions[i] ?? 0));
  }

  /** After a conflict: what this worker cached of the keys read may be stale as well. */
  forgetReads(): void {
    for (const key of this.#reads.keys()) this.session.cache.forget(key);
  }

  finish(): void {
    this.#finished = true;
  }

  async #read(key: string): Promise<Uint8Array | undefined> {
    if (this.#writes.has(key)) return copy(this.#writes.get(key));
    const seen = this.#reads.get(key) ?? (await this.#fetch(key));
    return copy(seen.value);
  }

  async #fetch(key: string): Promise<Seen> {
    const readSet = encodeReadSet(this.#readSet());
    try {
      const reply = await this.session.link.request(FrameType.TxRead, encodeFields([key]), readSet);
      const [version = "0", absent = ""] = decodeFields(reply.meta);
      const value = absent === "absent" ? undefined : Buffer.from(reply.payload);
      const seen = { value, version: Number(version) };
      this.#reads.set(key, seen);
      return seen;
    } catch (error) {
      if (isConflict(error)) this.#doomed = error;
      throw error;
    }
  }

  #readSet(): TxRead[] {
    return [...this.#reads].map(([key, { version }]) => ({ key, version }));
  }

  #checkOpen(): void {
    if (this.#finished) {
      throw new PraaSError("BAD_REQUEST", "the transaction is over: use tx only inside its body");
    }
  }
}

/** Runs `body` until it commits, up to `maxAttempts` times; see ProcessState.transaction. */
export async function runTransaction<T>(
  session: TxSession,
  body: (tx: Transaction) => T | Promise<T>,
  options?: TransactionOptions,
): Promise<T> {
  const maxAttempts = attemptsOf(options);
  for (let attempt = 1; ; attempt++) {
    const tx = new BufferedTransaction(session);
    try {
      const result = await body(tx);
      await tx.commit();
      return result;
    } catch (error) {
      if (!isConflict(error)) throw error;
      tx.forgetReads();
      if (attempt >= maxAttempts) throw gaveUp(error, maxAttempts);
    } finally {
      tx.finish();
    }
    await backoff(attempt);
  }
}

/** Adds `delta` in one step of the process; the new value is cached here. */
export async function increment(session: TxSession, key: string, delta: number): Promise<number> {
  assertKey(key);
  if (typeof delta !== "number" || !Number.isFinite(delta)) {
    throw new PraaSError("BAD_REQUEST", `increment by ${String(delta)}: not a finite number`);
  }
  const version = session.cache.invalidate(key);
  const fields = encodeFields([key, String(delta)]);
  const reply = await session.link.request(FrameType.StateIncrement, fields);
  const value = Buffer.from(reply.payload);
  session.cache.remember(key, value, version);
  return Number(value.toString("utf8"));
}

export function update(
  session: TxSession,
  key: string,
  fn: (current: Uint8Array | undefined) => Value | undefined | Promise<Value | undefined>,
): Promise<Uint8Array | undefined> {
  assertKey(key);
  return runTransaction(session, async (tx) => {
    const next = await fn(await tx.get(key));
    return write(tx, key, next);
  });
}

export function compareAndSet(
  session: TxSession,
  key: string,
  expected: Value | undefined,
  next: Value | undefined,
): Promise<boolean> {
  assertKey(key);
  const wanted = expected === undefined ? undefined : Buffer.from(toBytes(expected));
  return runTransaction(session, async (tx) => {
    const current = await tx.get(key);
    if (!sameBytes(current, wanted)) return false;
    write(tx, key, next);
    return true;
  });
}

/** Puts `value`, or deletes the key when it is undefined; returns the bytes now there. */
function write(tx: Transaction, key: string, value: Value | undefined): Uint8Array | undefined {
  if (value === undefined) {
    tx.delete(key);
    return undefined;
  }
  const bytes = Buffer.from(toBytes(value));
  tx.put(key, bytes);
  return bytes;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

function copy(value: Buffer | undefined): Uint8Array | undefined {
  return value === undefined ? undefined : Buffer.from(value);
}

function isConflict(error: unknown): error is PraaSError {
  return error instanceof PraaSError && error.code === "CONFLICT";
}

function attemptsOf(options: TransactionOptions | undefined): number {
  const attempts = options?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new PraaSError("BAD_REQUEST", `maxAttempts must be a positive integer, got ${attempts}`);
  }
  return attempts;
}

function gaveUp(last: PraaSError, attempts: number): PraaSError {
  const tries = attempts === 1 ? "1 attempt" : `${attempts} attempts`;
  return new PraaSError("CONFLICT", `transaction gave up after ${tries}: ${last.message}`);
}

/** Jittered and growing, so transactions that collided once do not collide again in step. */
function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(MAX_BACKOFF_MS, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
