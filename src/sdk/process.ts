/**
 * A handle on one cloud process as the control plane last described it. Its `connect()` opens
 * the direct data-plane connection, so invocations skip the control plane.
 */
import type { ConnectionInfo, ProcessInfo, ProcessStatus } from "../protocol/api.js";
import { PraaSError } from "../protocol/errors.js";
import { connect, type ConnectOptions, type ProcessConnection } from "./connection.js";

export class Process {
  readonly info: ProcessInfo;
  readonly app: string;
  readonly name: string;
  /** The status when this handle was made; ask the client again for a fresh one. */
  readonly status: ProcessStatus;
  /** Asks the control plane for a description with a fresh pairing ticket (behind NAT). */
  readonly #fresh: (() => Promise<ConnectionInfo>) | undefined;

  constructor(info: ProcessInfo, fresh?: () => Promise<ConnectionInfo>) {
    this.info = info;
    this.#fresh = fresh;
    this.app = info.app;
    this.name = info.name;
    this.status = info.status;
  }

  /**
   * Opens a direct connection; rejects with INVALID_STATE unless the process was active. A
   * process behind NAT (path punch or relay) is paired through the rendezvous with a fresh
   * ticket: by hole punching when the NATs allow it, else through the relay.
   */
  async connect(options?: ConnectOptions): Promise<ProcessConnection> {
    const connection = this.info.connection;
    if (connection === undefined) {
      throw new PraaSError(
        "INVALID_STATE",
        `process ${this.app}/${this.name} is ${this.status} and has no connection (resume it first)`,
      );
    }
    const behindNat = connection.path !== undefined && connection.path !== "direct";
    const dialable = behindNat && this.#fresh ? await this.#fresh() : connection;
    return connect(dialable, options);
  }
}
