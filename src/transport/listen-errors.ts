import { PraaSError } from "../protocol/index.js";

/**
 * A listen that failed because its address is taken becomes an `UNAVAILABLE` that names the
 * port and the setting that moves it, instead of an `INTERNAL` carrying the bare system error.
 */
export function listenFailure(error: Error, what: string, setting: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== "EADDRINUSE" && code !== "EACCES") return error;
  const address = (error as { address?: string; port?: number }).address ?? "";
  const port = (error as { port?: number }).port ?? "";
  const reason = code === "EADDRINUSE" ? "is in use" : "may not be opened by this user";
  return new PraaSError(
    "UNAVAILABLE",
    `${what} port ${address}:${port} ${reason}; choose another with ${setting}`,
  );
}
