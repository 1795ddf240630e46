/**
 * Samples the deployment from /proc while the soak runs: peak resident memory of the control
 * plane and of each cloud process (with its workers), and every process seen, so that the
 * shutdown can be checked for leftovers.
 */
import { APP } from "./client.js";
import type { Deployment } from "./deployment.js";
import { groupMembers } from "../runtime/proc-table.js";
import type { PraaS } from "../sdk/index.js";
import {
  ProcessRegistry,
  childrenOf,
  cloudProcesses,
  residentBytes,
  type CloudProcessPid,
} from "./procs.js";

const SAMPLE_EVERY_MS = 250;

export class Monitor {
  readonly registry = new ProcessRegistry();
  controlPlanePeakBytes = 0;
  readonly processPeakBytes = new Map<string, number>();
  readonly #deployment: Deployment;
  readonly #client: PraaS;
  #timer: NodeJS.Timeout | undefined;
  #sampling: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(deployment: Deployment, client: PraaS) {
    this.#deployment = deployment;
    this.#client = client;
    this.#next();
  }

  /** Samples once more, then no longer. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#sampling;
    await this.sample();
  }

  /** One sample after another, never two at once (a sample waits for the API). */
  #next(): void {
    this.#sampling = this.sample().finally(() => {
      if (!this.#stopped) this.#timer = setTimeout(() => this.#next(), SAMPLE_EVERY_MS);
    });
  }

  async sample(): Promise<void> {
    const controlPlane = this.#deployment.controlPlanePid;
    if (controlPlane !== undefined) {
      this.registry.track(controlPlane, "praas up");
      this.controlPlanePeakBytes = Math.max(
        this.controlPlanePeakBytes,
        residentBytes(controlPlane),
      );
      // Warm-pool runtimes and processes alike, named or not yet.
      for (const child of childrenOf(controlPlane)) this.registry.track(child, "runtime");
    }
    // While the control plane is down (a fault), processes are sampled by pid only.
    const running = await cloudProcesses(this.#client, APP).catch(() => []);
    this.#sampleProcesses(running);
  }

  #sampleProcesses(running: readonly CloudProcessPid[]): void {
    const members = groupMembers(new Set(running.map((proc) => proc.pid)));
    for (const proc of running) {
      const group = members.filter((member) => member.pgid === proc.pid);
      for (const member of group)
        this.registry.track(member.pid, `${proc.name} (group of ${proc.pid})`);
      const bytes = group.reduce((sum, member) => sum + residentBytes(member.pid), 0);
      this.processPeakBytes.set(
        proc.name,
        Math.max(this.processPeakBytes.get(proc.name) ?? 0, bytes),
      );
    }
  }
}
