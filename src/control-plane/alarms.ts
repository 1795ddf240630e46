/**
 * Scheduled work: the alarms functions set with `ctx.setAlarm`, kept in their process's record
 * (so they survive a swap-out, a crash and a control-plane restart) and fired by whichever
 * replica claims them first.
 *
 * Every replica keeps the alarms of all records in memory (a scan at start and every few
 * seconds, plus the store's change notices) and one timer for the earliest. A due alarm is
 * claimed with a compare-and-set on the record that moves its time to the end of a lease: only
 * one replica wins, and if that replica dies the alarm is due again when the lease ends (at
 * least once). The winner invokes the function sticky, as `POST /apps/:app/invoke/:fn?process=`
 * does (a swapped process is resumed for it), then removes the alarm, unless the function set it
 * again meanwhile. A failed firing is put back after 1, 2, 4 … retry delays, and dropped with a
 * warning after the last attempt.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import {
  MAX_ALARMS_PER_PROCESS,
  PraaSError,
  type AlarmReply,
  type AlarmRequest,
} from "../protocol/index.js";
import type { AlarmRecord, MetadataStore, ProcessRecord } from "../storage/index.js";
import { getProcessOrThrow } from "./lifecycle.js";

/** How many times an alarm is fired before a failing one is dropped. */
export const MAX_ALARM_ATTEMPTS = 6;
/** Compare-and-set rounds before an edit gives up (the record changes that often). */
const EDIT_ROUNDS = 20;

export interface AlarmsOptions {
  store: MetadataStore;
  log: Logger;
  /** Invokes `fn` of process `name` (resumed first when swapped); rejects when it failed. */
  fire(app: string, name: string, fn: string, payload: Buffer): Promise<void>;
  /** How long a claim holds an alarm: longer than a resume plus an invocation. */
  leaseMs: number;
  /** The first retry delay; it doubles at each further failure. */
  retryMs: number;
  /** How often every record is read again (alarms set through other replicas). */
  scanIntervalMs: number;
}

/** The edit of a process's alarms: the new list, or undefined to leave the record as it is. */
type AlarmEdit = (alarms: readonly AlarmRecord[]) => AlarmRecord[] | undefined;

export class Alarms {
  /** The alarms of every record that has some, by `app/name`. */
  readonly #known = new Map<string, { app: string; name: string; alarms: AlarmRecord[] }>();
  /** The last edit queued for each `app/name`: this replica's edits of a record run in turn. */
  readonly #edits = new Map<string, Promise<unknown>>();
  /** `app/name/fn` of the alarms this replica is firing now. */
  readonly #firing = new Map<string, Promise<void>>();
  readonly #options: AlarmsOptions;
  #timer: NodeJS.Timeout | undefined;
  #scanTimer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => Promise<void>) | undefined;
  #stopped = false;

  constructor(options: AlarmsOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    this.#unsubscribe = await this.#options.store.subscribe(({ app, name, record }) =>
      this.#remember(app, name, record),
    );
    await this.#scanLogged();
    this.#scanTimer = setInterval(() => void this.#scanLogged(), this.#options.scanIntervalMs);
    this.#scanTimer.unref();
  }

  /** Stops firing; firings under way are waited for by {@link settled}. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#scanTimer);
    await this.#unsubscribe?.();
  }

  /** Resolves once the firings under way ended (each put its alarm back or removed it). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#firing.values()]);
  }

  /** A process sets or cancels an alarm: resolves once the record stores the change. */
  async request(app: string, name: string, request: AlarmRequest): Promise<AlarmReply> {
    let existed = false;
    await this.#edit(app, name, (alarms) => {
      const others = alarms.filter((alarm) => alarm.fn !== request.function);
      existed = others.length !== alarms.length;
      if (request.op === "cancel") return existed ? others : undefined;
      if (others.length >= MAX_ALARMS_PER_PROCESS)
        throw new PraaSError(
          "BAD_REQUEST",
          `a process may have at most ${MAX_ALARMS_PER_PROCESS} alarms set`,
        );
      const payload = request.payload.toString("base64");
      return [...others, { fn: request.function, at: request.at, payload }];
    });
    return { existed };
  }

  /**
   * Applies `edit` with compare-and-set until it sticks; resolves the stored record (undefined
   * when the edit changed nothing). Also updates what this replica knows, and re-arms.
   */
  #edit(app: string, name: string, edit: AlarmEdit): Promise<ProcessRecord | undefined> {
    // In turn, so that this replica's own edits (many calls setting alarms at once) do not
    // spend each other's compare-and-set rounds: those are for other replicas and other
    // changes of the record.
    const id = `${app}/${name}`;
    const previous = this.#edits.get(id) ?? Promise.resolve();
    const next = previous.then(
      () => this.#editNow(app, name, edit),
      () => this.#editNow(app, name, edit),
    );
    const tail = next.catch(() => undefined);
    this.#edits.set(id, tail);
    void tail.then(() => {
      if (this.#edits.get(id) === tail) this.#edits.delete(id);
    });
    return next;
  }

  async #editNow(app: string, name: string, edit: AlarmEdit): Promise<ProcessRecord | undefined> {
    const { store } = this.#options;
    for (let round = 0; round < EDIT_ROUNDS; round++) {
      const record = await getProcessOrThrow(store, app, name);
      const alarms = edit(record.alarms ?? []);
      if (alarms === undefined) {
        // What this replica knew may be older than the record (a scan raced a change).
        this.#remember(app, name, record);
        return undefined;
      }
      const patch = { alarms: alarms.length === 0 ? undefined : alarms };
      const updated = await store.updateProcess(app, name, record.revision, patch);
      if (updated) {
        this.#remember(app, name, updated);
        return updated;
      }
    }
    throw new PraaSError("UNAVAILABLE", `process ${app}/${name} is changing too often; try again`);
  }

  #remember(app: string, name: string, record: ProcessRecord | undefined): void {
    const id = `${app}/${name}`;
    const alarms = record?.status === "deleted" ? undefined : record?.alarms;
    if (alarms && alarms.length > 0) this.#known.set(id, { app, name, alarms });
    else this.#known.delete(id);
    this.#arm();
  }

  async #scanLogged(): Promise<void> {
    try {
      await this.#scan();
    } catch (error) {
      if (!this.#stopped) this.#options.log.warn({ err: String(error) }, "alarm scan failed");
    }
  }

  async #scan(): Promise<void> {
    const { store } = this.#options;
    for (const app of await store.listApps()) {
      for (const record of await store.listProcesses(app.name))
        this.#remember(app.name, record.name, record);
    }
  }

  /** One timer, for the earliest alarm not being fired here; at most a scan interval away. */
  #arm(): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    const next = this.#earliest();
    if (next === undefined) return;
    const delay = Math.min(Math.max(next - Date.now(), 0), this.#options.scanIntervalMs);
    this.#timer = setTimeout(() => this.#fireDue(), delay);
    this.#timer.unref();
  }

  #earliest(): number | undefined {
    let earliest: number | undefined;
    for (const { app, name, alarms } of this.#known.values()) {
      for (const alarm of alarms) {
        if (this.#firing.has(`${app}/${name}/${alarm.fn}`)) continue;
        if (earliest === undefined || alarm.at < earliest) earliest = alarm.at;
      }
    }
    return earliest;
  }

  #fireDue(): void {
    const now = Date.now();
    for (const { app, name, alarms } of [...this.#known.values()]) {
      for (const alarm of alarms) {
        const id = `${app}/${name}/${alarm.fn}`;
        if (alarm.at > now || this.#firing.has(id)) continue;
        const firing = this.#fireLogged(app, name, alarm.fn).finally(() => {
          this.#firing.delete(id);
          this.#arm();
        });
        this.#firing.set(id, firing);
      }
    }
    this.#arm();
  }

  async #fireLogged(app: string, name: string, fn: string): Promise<void> {
    try {
      await this.#fire(app, name, fn);
    } catch (error) {
      // The store failed, or the process is gone: the next scan finds what is left.
      this.#options.log.warn({ app, name, fn, err: String(error) }, "alarm not fired");
      this.#postpone(app, name, fn);
    }
  }

  /** Not due here again before the next scan: a store that is down is not asked in a loop. */
  #postpone(app: string, name: string, fn: string): void {
    const known = this.#known.get(`${app}/${name}`);
    if (!known) return;
    const at = Date.now() + this.#options.scanIntervalMs;
    known.alarms = known.alarms.map((alarm) => (alarm.fn === fn ? { ...alarm, at } : alarm));
  }

  async #fire(app: string, name: string, fn: string): Promise<void> {
    const claimed = await this.#claim(app, name, fn);
    if (!claimed) return; // another replica won it, or it was replaced or cancelled
    const { log } = this.#options;
    log.info({ app, name, fn, attempt: claimed.attempts }, "alarm firing");
    try {
      await this.#options.fire(app, name, fn, Buffer.from(claimed.payload, "base64"));
    } catch (error) {
      await this.#failed(app, name, claimed, error);
      return;
    }
    await this.#edit(app, name, (alarms) => without(alarms, claimed));
  }

  /** Moves a due alarm's time to the end of a lease; undefined when it is not ours to fire. */
  async #claim(app: string, name: string, fn: string): Promise<AlarmRecord | undefined> {
    let claimed: AlarmRecord | undefined;
    await this.#edit(app, name, (alarms) => {
      claimed = undefined; // a round that lost the compare-and-set claimed nothing
      const alarm = alarms.find((candidate) => candidate.fn === fn);
      const now = Date.now();
      if (!alarm || alarm.at > now) return undefined;
      const attempts = (alarm.attempts ?? 0) + 1;
      claimed = { ...alarm, at: now + this.#options.leaseMs, attempts, claim: randomUUID() };
      return alarms.map((candidate) =>
        candidate === alarm ? claimed : candidate,
      ) as AlarmRecord[];
    });
    return claimed;
  }

  /** Puts a failed alarm back for a later attempt, or drops it after the last. */
  async #failed(app: string, name: string, claimed: AlarmRecord, error: unknown): Promise<void> {
    const attempts = claimed.attempts ?? 1;
    const { log, retryMs } = this.#options;
    const err = String(error);
    if (attempts >= MAX_ALARM_ATTEMPTS) {
      log.warn({ app, name, fn: claimed.fn, attempts, err }, "alarm failed; dropped");
      await this.#edit(app, name, (alarms) => without(alarms, claimed));
      return;
    }
    const at = Date.now() + retryMs * 2 ** (attempts - 1);
    log.info({ app, name, fn: claimed.fn, attempts, err }, "alarm failed; will retry");
    await this.#edit(app, name, (alarms) =>
      alarms.some((alarm) => alarm.claim === claimed.claim)
        ? alarms.map((alarm) => (alarm.claim === claimed.claim ? unclaimed(alarm, at) : alarm))
        : undefined,
    );
  }
}

/** `alarms` without the claimed one; undefined when it was replaced or cancelled meanwhile. */
function without(alarms: readonly AlarmRecord[], claimed: AlarmRecord): AlarmRecord[] | undefined {
  const rest = alarms.filter((alarm) => alarm.claim !== claimed.claim);
  return rest.length === alarms.length ? undefined : rest;
}

/** A claimed alarm put back to fire again at `at`. */
function unclaimed(alarm: AlarmRecord, at: number): AlarmRecord {
  const { fn, payload, attempts } = alarm;
  return { fn, at, payload, attempts };
}
