/** Fields the manager writes into process records. */
import type { ConnectionInfo } from "../../protocol/index.js";
import type { ProcessPatch } from "../../storage/index.js";
import type { Registration } from "../control-link-server.js";

/** Where clients reach a registered process, and how (a path only when it is not direct). */
export function connectionOf(registration: Registration, token: string): ConnectionInfo {
  const { host, port, path } = registration;
  return path === undefined || path === "direct"
    ? { host, port, token }
    : { host, port, token, path };
}

/** A record becoming failed: why, now and kept for later (lastFailure), and no connection. */
export function failedPatch(reason: string): ProcessPatch {
  return { error: reason, lastFailure: { at: Date.now(), reason }, connection: undefined };
}
