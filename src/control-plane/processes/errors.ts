/** How the manager tells apart the errors its operations meet. */
import { PraaSError } from "../../protocol/index.js";

/** An operation's error as a record's reason: with its code when it has one. */
export function reasonOf(error: unknown): string {
  return error instanceof PraaSError ? `${error.code}: ${error.message}` : String(error);
}

/** The store could not be reached (Redis down): the same write may work later. */
export function storeUnreachable(error: unknown): boolean {
  return error instanceof PraaSError && error.code === "UNAVAILABLE";
}

/**
 * A resume refused because the record was no longer swapped or failed when its turn came: some
 * other operation moved it (it is active, swapping or resuming now), so looking again decides.
 */
export function lostRace(error: unknown): boolean {
  return error instanceof PraaSError && error.code === "INVALID_STATE";
}

/**
 * A command or call that lost its connection to the process before the answer (the process
 * exited or was killed meanwhile): the same code, with a message saying whose and what it
 * means (`what`), the transport's own words kept at the end. Other errors pass unchanged.
 */
export function cutOff(error: unknown, what: string): unknown {
  if (!(error instanceof PraaSError) || error.code !== "CONNECTION_CLOSED") return error;
  return new PraaSError("CONNECTION_CLOSED", `${what} (${error.message})`);
}
