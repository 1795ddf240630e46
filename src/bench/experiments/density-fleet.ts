/**
 * The density experiment's fleet: a control plane of its own (memory metadata store, disk blobs
 * under the run's work directory) whose store the bench also holds, so that it can read the
 * pids of the processes (their backend ids) and add swapped processes by copying one record and
 * its snapshot blob. `stop()` waits for the operations under way, then stops the plane and with
 * it every process it started; the run's cleanup (also on SIGINT) calls it.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { inspect } from "node:util";
import { parseLocalBackendId } from "../../backends/local-pids.js";
import { ControlPlane } from "../../control-plane/control-plane.js";
import { snapshotKey } from "../../control-plane/records.js";
import { PraaS } from "../../sdk/index.js";
import {
  openBlobStore,
  openMetadataStore,
  type BlobStore,
  type MetadataStore,
} from "../../storage/index.js";
import type { Environment } from "../environment.js";
import { expectLength, payloadOf } from "./shared.js";

const APP = "bench-echo";
const PAYLOAD = payloadOf(10);
/** The density process: 1 vCPU (one worker), 128 MiB. */
const RESOURCES = { vcpus: 1, memory: 128 };

/** Snapshot copies written at once (each is fsynced, as a swap-out's is). */
const CLONE_CONCURRENCY = 32;

/** Runs `task` on every item, `limit` at a time; resolves each item's outcome, in order. */
export async function inBatches<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<unknown>,
): Promise<PromiseSettledResult<unknown>[]> {
  const outcomes: PromiseSettledResult<unknown>[] = [];
  for (let i = 0; i < items.length; i += limit)
    outcomes.push(...(await Promise.allSettled(items.slice(i, i + limit).map(task))));
  return outcomes;
}

/** The first failure among outcomes, if any, as an Error. */
export function firstFailure(outcomes: PromiseSettledResult<unknown>[]): Error | undefined {
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
  if (failed === undefined) return undefined;
  const reason: unknown = failed.reason;
  return reason instanceof Error ? reason : new Error(inspect(reason));
}

export class Fleet {
  readonly app = APP;
  readonly plane: ControlPlane;
  readonly client: PraaS;
  readonly #store: MetadataStore;
  readonly #blobs: BlobStore;
  readonly #underway = new Set<Promise<unknown>>();
  #stopping: Promise<void> | undefined;

  private constructor(plane: ControlPlane, store: MetadataStore, blobs: BlobStore) {
    this.plane = plane;
    this.client = new PraaS(plane.url);
    this.#store = store;
    this.#blobs = blobs;
  }

  /** Starts the plane, deploys the echo app, and registers `stop` as the experiment's cleanup. */
  static async start(env: Environment): Promise<Fleet> {
    let store: MetadataStore | undefined;
    const plane = await ControlPlane.start(
      {
        port: 0,
        dataDir: path.join(env.workDir, "density"),
        store: { kind: "memory" },
        logLevel: "warn",
        warmPoolMemoryMiB: 128, // the fleet's class, so creates take pooled runtimes
      },
      { metadataStore: async (config) => (store = await openMetadataStore(config.store)) },
    );
    const blobs = await openBlobStore(plane.config.blobs);
    const fleet = new Fleet(plane, store!, blobs);
    env.defer(() => fleet.stop());
    await fleet.client.deploy(APP, await env.deployable("echo"));
    return fleet;
  }

  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  create(name: string): Promise<unknown> {
    return this.#track(this.client.createProcess(APP, name, RESOURCES));
  }

  /** One echo through the control plane (a swapped process is resumed first). */
  invoke(name: string): Promise<void> {
    return this.#track(
      this.client
        .invoke(APP, "echo", PAYLOAD, { process: name })
        .then((output) => expectLength(output, PAYLOAD)),
    );
  }

  swap(name: string): Promise<unknown> {
    return this.#track(this.client.swap(APP, name));
  }

  resume(name: string): Promise<unknown> {
    return this.#track(this.client.resume(APP, name));
  }

  /** The process group (the cloud process's pid) of each active process, by name. */
  async groups(names: readonly string[]): Promise<Map<string, number>> {
    const groups = new Map<string, number>();
    for (const name of names) {
      const record = await this.#store.getProcess(APP, name);
      const ref = parseLocalBackendId(record?.backendId ?? "");
      if (record?.status === "active" && ref !== undefined) groups.set(name, ref.pid);
    }
    return groups;
  }

  /**
   * Makes `names` swapped processes like `template` (swapped): its record under a new name and
   * secret, and a copy of its snapshot, written through the stores the control plane uses.
   */
  async cloneSwapped(template: string, names: readonly string[]): Promise<void> {
    const record = await this.#store.getProcess(APP, template);
    const snapshot = await this.#blobs.getBytes(snapshotKey(APP, template));
    if (record?.status !== "swapped" || snapshot === undefined)
      throw new Error(`${template} is not a swapped process with a snapshot`);
    const outcomes = await inBatches(names, CLONE_CONCURRENCY, async (name) => {
      if (this.stopping) return;
      await this.#track(this.#blobs.put(snapshotKey(APP, name), snapshot));
      const now = Date.now();
      const secret = randomBytes(24).toString("base64url");
      const clone = { ...record, name, secret, createdAt: now, updatedAt: now, revision: 0 };
      if (!(await this.#store.createProcess(clone))) throw new Error(`${name} exists already`);
    });
    const failure = firstFailure(outcomes);
    if (failure !== undefined) throw failure;
  }

  /** Waits for what is under way (bounded by each request's own timeout), then stops it all. */
  stop(): Promise<void> {
    this.#stopping ??= Promise.allSettled([...this.#underway])
      .then(() => this.client.close())
      .then(() => this.plane.stop())
      .then(() => this.#blobs.close());
    return this.#stopping;
  }

  #track<T>(operation: Promise<T>): Promise<T> {
    this.#underway.add(operation);
    const untrack = (): boolean => this.#underway.delete(operation);
    operation.then(untrack, untrack);
    return operation;
  }
}
