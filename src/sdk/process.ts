/**
 * A handle on one cloud process as the control plane last described it. Its `connect()` opens
 * the direct data-plane connection, so invocations skip the control plane.
 */
import type { ProcessInfo, ProcessStatus } from "../protocol/api.js";
import { PraaSError } from "../protocol/errors.js";
import { connect, type ConnectOptions, type ProcessConnection } from "./connection.js";

export class Process {
  readonly info: ProcessInfo;
  readonly app: string;
  readonly name: string;
  /** The status when this handle was made; ask the client again for a fresh one. */
  readonly status: ProcessStatus;

  constructor(info: ProcessInfo) {
    this.info = info;
    this.app = info.app;
    this.name = info.name;
    this.status = info.status;
  }

  /** Opens a direct connection; rejects with INVALID_STATE unless the process was active. */
  async connect(options?: ConnectOptions): Promise<ProcessConnection> {
    const connection = this.info.connection;
    if (connection === undefined) {
      throw new PraaSError(
        "INVALID_STATE",
        `process ${this.app}/${this.name} is ${this.status} and has no connection (resume it first)`,
      );
    }
    return connect(connection, options);
  }
}
