/**
 * MetadataStore on Redis, shared by every control-plane replica. Layout, with the default
 * prefix `praas:`:
 *
 * - `praas:apps`         hash: app name → AppRecord JSON
 * - `praas:proc:<app>`   hash: process name → ProcessRecord JSON
 * - `praas:changes`      pub/sub channel: ProcessChange JSON (`record: null` for a delete)
 * - `praas:replica:<id>` string: ReplicaRecord JSON, expiring (PX) unless its heartbeat renews it
 * - `praas:secret`       string: the cluster secret replicas present to each other (SET NX)
 *
 * Process writes run as Lua scripts that also publish the change (see redis-scripts.ts).
 * Pub/sub is fire-and-forget: a subscriber that is disconnected misses the notices of that time,
 * so every reconnect of the subscriber tells the subscriptions (`onGap`) to rebuild what they
 * built from notices (Redis may even have come back empty).
 *
 * While Redis is unreachable every command fails within about a second with UNAVAILABLE (no
 * command waits in the offline queue past the next failed reconnect attempt, and none waits for
 * a reply longer than the command timeout); ioredis keeps reconnecting, and re-subscribes the
 * change channel once Redis is back.
 */
import { Redis, type RedisOptions } from "ioredis";
import { PraaSError } from "../protocol/errors.js";
import { assertName } from "../protocol/names.js";
import type {
  AppRecord,
  MetadataStore,
  ProcessChange,
  ProcessPatch,
  ProcessRecord,
  ReplicaRecord,
} from "./metadata-store.js";
import { randomBytes } from "node:crypto";
import type { ChangeListener } from "./records.js";
import { applyPatch, assertProcessId, byName, notifyAll } from "./records.js";
import { CREATE_PROCESS, DELETE_PROCESS, PUT_APP_IF, UPDATE_PROCESS } from "./redis-scripts.js";
import { storageError } from "./storage-error.js";

/** Longest wait for any one reply; a command past it fails with UNAVAILABLE. */
const COMMAND_TIMEOUT_MS = 5_000;
/** Longest pause between reconnect attempts while Redis is down. */
const MAX_RECONNECT_DELAY_MS = 1_000;

const CONNECTION_OPTIONS: RedisOptions = {
  // Queued commands fail at the first failed reconnect attempt instead of after 20.
  maxRetriesPerRequest: 0,
  commandTimeout: COMMAND_TIMEOUT_MS,
  retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
};

/** Messages of ioredis errors that mean "no connection to Redis right now". */
const CONNECTION_FAILURE =
  /max retries per request|connection is closed|stream isn't writeable|command timed out|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|^LOADING/i;

export interface RedisMetadataStoreOptions {
  /** e.g. `redis://127.0.0.1:6379/0`. */
  url: string;
  /** Prepended to every key and the channel; default `praas:`. */
  prefix?: string | undefined;
}

export class RedisMetadataStore implements MetadataStore {
  readonly kind = "redis";
  readonly prefix: string;
  private readonly redis: Redis;
  private readonly listeners = new Set<ChangeListener>();
  /** Told when the subscriber connection came back: notices may have been missed. */
  private readonly gapListeners = new Set<() => void>();
  readonly #toldGap = (): void => {
    for (const gap of [...this.gapListeners]) gap();
  };
  /** The connection in subscriber mode, opened by the first `subscribe`. */
  private subscriber: Promise<Redis> | undefined;
  /** The health PING in flight: probes share it, so a hung Redis collects one, not one each. */
  private pendingPing: Promise<void> | undefined;

  constructor(options: RedisMetadataStoreOptions) {
    this.prefix = options.prefix ?? "praas:";
    this.redis = new Redis(options.url, CONNECTION_OPTIONS);
    // Failures reach callers as rejected commands; this only keeps ioredis from logging.
    this.redis.on("error", ignore);
  }

  /** A store whose server has answered a PING. */
  static async open(options: RedisMetadataStoreOptions): Promise<RedisMetadataStore> {
    const store = new RedisMetadataStore(options);
    try {
      await store.guarded(`connect to redis`, () => store.redis.ping());
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  async putApp(app: AppRecord): Promise<void> {
    assertName(app.name, "application");
    await this.guarded(`put app ${app.name}`, () =>
      this.redis.hset(this.appsKey, app.name, JSON.stringify(app)),
    );
  }

  async putAppIf(app: AppRecord, expectedVersion: number | undefined): Promise<boolean> {
    assertName(app.name, "application");
    const expected = expectedVersion === undefined ? "" : String(expectedVersion);
    const result = await this.guarded(`put app ${app.name}`, () =>
      this.redis.eval(PUT_APP_IF, 1, this.appsKey, app.name, expected, JSON.stringify(app)),
    );
    return result === 1;
  }

  async getApp(name: string): Promise<AppRecord | undefined> {
    assertName(name, "application");
    const json = await this.guarded(`get app ${name}`, () => this.redis.hget(this.appsKey, name));
    return parseRecord<AppRecord>(json);
  }

  async listApps(): Promise<AppRecord[]> {
    const values = await this.guarded("list apps", () => this.redis.hvals(this.appsKey));
    return values.map((json) => JSON.parse(json) as AppRecord).sort(byName);
  }

  async deleteApp(name: string): Promise<boolean> {
    assertName(name, "application");
    const count = await this.guarded(`delete app ${name}`, () =>
      this.redis.hdel(this.appsKey, name),
    );
    return count > 0;
  }

  async createProcess(record: ProcessRecord): Promise<boolean> {
    const { app, name } = record;
    assertProcessId(app, name);
    const json = JSON.stringify(record);
    const args = [name, json, this.channel, noticeJson(app, name, json)];
    return this.runScript(`create process ${app}/${name}`, CREATE_PROCESS, app, args);
  }

  async getProcess(app: string, name: string): Promise<ProcessRecord | undefined> {
    assertProcessId(app, name);
    const json = await this.guarded(`get process ${app}/${name}`, () =>
      this.redis.hget(this.processKey(app), name),
    );
    return parseRecord<ProcessRecord>(json);
  }

  async listProcesses(app: string): Promise<ProcessRecord[]> {
    assertName(app, "application");
    const values = await this.guarded(`list processes ${app}`, () =>
      this.redis.hvals(this.processKey(app)),
    );
    return values.map((json) => JSON.parse(json) as ProcessRecord).sort(byName);
  }

  /** Parsed afresh on every call: nothing to save by sharing. */
  listProcessesReadOnly(app: string): Promise<readonly ProcessRecord[]> {
    return this.listProcesses(app);
  }

  async updateProcess(
    app: string,
    name: string,
    revision: number,
    patch: ProcessPatch,
  ): Promise<ProcessRecord | undefined> {
    const current = await this.getProcess(app, name);
    if (current?.revision !== revision) return undefined;
    // The merge happens here; the script only swaps it in if the revision still matches.
    const next = applyPatch(current, patch);
    const json = JSON.stringify(next);
    const args = [name, String(revision), json, this.channel, noticeJson(app, name, json)];
    const swapped = await this.runScript(
      `update process ${app}/${name}`,
      UPDATE_PROCESS,
      app,
      args,
    );
    return swapped ? next : undefined;
  }

  async deleteProcess(app: string, name: string): Promise<boolean> {
    assertProcessId(app, name);
    const args = [name, this.channel, noticeJson(app, name, "null")];
    return this.runScript(`delete process ${app}/${name}`, DELETE_PROCESS, app, args);
  }

  async putReplica(replica: ReplicaRecord, ttlMs: number): Promise<void> {
    assertName(replica.id, "replica");
    const ttl = Math.max(1, Math.round(ttlMs));
    await this.guarded(`announce replica ${replica.id}`, () =>
      this.redis.set(this.replicaKey(replica.id), JSON.stringify(replica), "PX", ttl),
    );
  }

  async getReplica(id: string): Promise<ReplicaRecord | undefined> {
    const json = await this.guarded(`get replica ${id}`, () => this.redis.get(this.replicaKey(id)));
    return parseRecord<ReplicaRecord>(json);
  }

  async deleteReplica(id: string): Promise<void> {
    await this.guarded(`remove replica ${id}`, () => this.redis.del(this.replicaKey(id)));
  }

  /** Made by the first caller (SET NX), so every replica reads the same one. */
  async clusterSecret(): Promise<string> {
    const key = `${this.prefix}secret`;
    const fresh = randomBytes(24).toString("base64url");
    const stored = await this.guarded("read the cluster secret", async () => {
      await this.redis.set(key, fresh, "NX");
      return this.redis.get(key);
    });
    return stored ?? fresh;
  }

  async subscribe(
    listener: (change: ProcessChange) => void,
    onGap: () => void = () => undefined,
  ): Promise<() => Promise<void>> {
    const entry: ChangeListener = (change) => listener(change);
    const gap = (): void => onGap();
    this.listeners.add(entry);
    this.gapListeners.add(gap);
    const unsubscribe = (): Promise<void> => {
      this.listeners.delete(entry);
      this.gapListeners.delete(gap);
      return Promise.resolve();
    };
    try {
      await this.ensureSubscribed();
    } catch (error) {
      await unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  /**
   * One PING, bounded by `timeoutMs` rather than the 5 s command timeout: a health probe must
   * answer before its checker gives up, whether Redis refuses connections or hangs.
   */
  async ping(timeoutMs: number): Promise<void> {
    this.pendingPing ??= this.sharedPing();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      const why = `the metadata store (Redis) is unreachable: no reply to PING within ${timeoutMs} ms`;
      timer = setTimeout(() => reject(new PraaSError("UNAVAILABLE", why)), timeoutMs);
    });
    try {
      await Promise.race([this.pendingPing, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.gapListeners.clear();
    const subscriber = await this.subscriber?.catch(() => undefined);
    if (subscriber !== undefined) await quit(subscriber);
    await quit(this.redis);
  }

  private get appsKey(): string {
    return `${this.prefix}apps`;
  }

  private get channel(): string {
    return `${this.prefix}changes`;
  }

  private replicaKey(id: string): string {
    return `${this.prefix}replica:${id}`;
  }

  private processKey(app: string): string {
    return `${this.prefix}proc:${app}`;
  }

  /**
   * Runs `work`; the one place where Redis failures become errors: no connection (or no reply
   * in time) is UNAVAILABLE, anything else STORAGE_ERROR.
   */
  private async guarded<T>(action: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof PraaSError || !isConnectionFailure(error)) {
        throw storageError(action, error);
      }
      const reason = error instanceof Error ? error.message : String(error);
      throw new PraaSError(
        "UNAVAILABLE",
        `the metadata store (Redis) is unreachable: ${action} failed: ${reason}`,
        { cause: error },
      );
    }
  }

  private async sharedPing(): Promise<void> {
    try {
      await this.guarded("ping", () => this.redis.ping());
    } finally {
      // Cleared on either outcome, so the next probe after an answer or a failure asks afresh.
      this.pendingPing = undefined;
    }
  }

  private async runScript(action: string, script: string, app: string, args: string[]) {
    const result = await this.guarded(action, () =>
      this.redis.eval(script, 1, this.processKey(app), ...args),
    );
    return result === 1;
  }

  private ensureSubscribed(): Promise<Redis> {
    this.subscriber ??= this.openSubscriber().catch((error: unknown) => {
      this.subscriber = undefined; // let a later subscribe try again
      throw error;
    });
    return this.subscriber;
  }

  private async openSubscriber(): Promise<Redis> {
    // A connection in subscriber mode can run no other command, hence a second one.
    const subscriber = this.redis.duplicate();
    subscriber.on("error", ignore);
    subscriber.on("message", (_channel: string, message: string) => this.deliver(message));
    // ioredis subscribes again after each reconnect ("ready"); a SUBSCRIBE of our own is
    // answered after that one, so the gap is told once notices flow again.
    let connectedBefore = false;
    subscriber.on("ready", () => {
      if (connectedBefore)
        void subscriber.subscribe(this.channel).then(this.#toldGap, this.#toldGap);
      connectedBefore = true;
    });
    try {
      await this.guarded("subscribe to process changes", () => subscriber.subscribe(this.channel));
    } catch (error) {
      subscriber.disconnect();
      throw error;
    }
    return subscriber;
  }

  private deliver(message: string): void {
    const change = parseNotice(message);
    if (change !== undefined) notifyAll(this.listeners, change);
  }
}

/** The published notice, built around the record JSON exactly as stored. */
function noticeJson(app: string, name: string, recordJson: string): string {
  return `{"app":${JSON.stringify(app)},"name":${JSON.stringify(name)},"record":${recordJson}}`;
}

/** A notice from the channel; anything else published there is ignored, not thrown. */
function parseNotice(message: string): ProcessChange | undefined {
  try {
    const notice = JSON.parse(message) as { app: unknown; name: unknown; record: ProcessRecord };
    const { app, name, record } = notice;
    if (typeof app !== "string" || typeof name !== "string") return undefined;
    return { app, name, record: record ?? undefined }; // null marks a delete
  } catch {
    return undefined;
  }
}

function parseRecord<T>(json: string | null): T | undefined {
  return json === null ? undefined : (JSON.parse(json) as T);
}

async function quit(connection: Redis): Promise<void> {
  // quit() waits for replies to pending commands; a dead connection just disconnects.
  await connection.quit().catch(() => connection.disconnect());
}

function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (
    CONNECTION_FAILURE.test(error.message) ||
    (typeof code === "string" && CONNECTION_FAILURE.test(code))
  );
}

function ignore(): void {}
