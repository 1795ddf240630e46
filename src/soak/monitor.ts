/**
 * Samples the deployment from /proc while the soak runs: peak resident memory of the control
 * plane and of each cloud process (with its workers), and every process seen, so that the
 * shutdown can be checked for leftovers.
 */
import { APP } from "./client.js";
import type { Deployment } from "./deployment.js";
import { groupMembers } from "../runtime/proc-table.js";
import { ProcessRegistry, cloudProcesses, residentBytes } from "./procs.js";

const SAMPLE_EVERY_MS = 250;

export class Monitor {
  readonly registry = new ProcessRegistry();
  controlPlanePeakBytes = 0;
  readonly processPeakBytes = new Map<string, number>();
  readonly #deployment: Deployment;
  readonly #timer: NodeJS.Timeout;

  constructor(deployment: Deployment) {
    this.#deployment = deployment;
    this.sample();
    this.#timer = setInterval(() => this.sample(), SAMPLE_EVERY_MS);
  }

  sample(): void {
    const controlPlane = this.#deployment.controlPlanePid;
    if (controlPlane !== undefined) {
      this.registry.track(controlPlane, "praas up");
      this.controlPlanePeakBytes = Math.max(
        this.controlPlanePeakBytes,
        residentBytes(controlPlane),
      );
    }
    const running = cloudProcesses(APP, this.#deployment.controlAddress);
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

  stop(): void {
    clearInterval(this.#timer);
  }
}
