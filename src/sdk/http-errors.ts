/**
 * How control-plane HTTP failures become PraaSErrors: a JSON error body is rebuilt as sent;
 * anything else (a proxy's HTML page, a refused connection, a timeout) gets a code from the
 * status or the socket error, and a message that says where the request was going.
 */
import { PraaSError, type ErrorCode } from "../protocol/errors.js";

/** The longest piece of a non-JSON error body quoted in a message. */
const BODY_SNIPPET_CHARS = 200;

const TLS_ERROR_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** The `{ error: { code, message } }` record in `text`, if it is one. */
function parseErrorRecord(text: string): ErrorRecordFields {
  const body: unknown = JSON.parse(text);
  const record = isRecord(body) ? body.error : undefined;
  if (!isRecord(record) || typeof record.code !== "string" || typeof record.message !== "string") {
    throw new TypeError("not an error body");
  }
  const errorName = typeof record.errorName === "string" ? record.errorName : undefined;
  const stack = typeof record.stack === "string" ? record.stack : undefined;
  return { code: record.code, message: record.message, errorName, stack };
}

interface ErrorRecordFields {
  code: string;
  message: string;
  errorName?: string | undefined;
  stack?: string | undefined;
}

// Only used when the body is not ours (e.g. a load balancer answered).
function codeForStatus(status: number): ErrorCode {
  if (status === 401 || status === 403) return "UNAUTHORIZED";
  if (status === 413) return "PAYLOAD_TOO_LARGE";
  if (status === 429) return "TOO_MANY_REQUESTS";
  if (status === 507) return "STATE_FULL";
  if (status === 502 || status === 503) return "UNAVAILABLE";
  if (status === 504) return "TIMEOUT";
  if (status >= 400 && status < 500) return "BAD_REQUEST";
  return "INTERNAL";
}

/** The error an HTTP response with a failure `status` and body `text` stands for. */
export function errorFromResponse(status: number, text: string, target: string): PraaSError {
  try {
    return PraaSError.fromRecord(parseErrorRecord(text));
  } catch {
    const snippet = text.trim().slice(0, BODY_SNIPPET_CHARS);
    const detail = snippet === "" ? "" : `: ${snippet}`;
    return new PraaSError(codeForStatus(status), `${target} answered HTTP ${status}${detail}`);
  }
}

function errorCode(error: unknown): string | undefined {
  const code = isRecord(error) ? error.code : undefined;
  return typeof code === "string" ? code : undefined;
}

// Dialling every address of a name fails with an AggregateError whose own message is empty.
function describe(error: unknown): string {
  if (error instanceof AggregateError && error.message === "") {
    return error.errors.map(describe).join("; ");
  }
  return error instanceof Error ? error.message : String(error);
}

/** The error a failed request (no HTTP answer at all) stands for. */
export function errorFromNetwork(error: unknown, baseUrl: string, timeoutMs: number): PraaSError {
  if (error instanceof PraaSError) return error;
  const code = errorCode(error);
  const message = describe(error);
  if (code === "UND_ERR_INVALID_ARG") {
    // The request itself was unusable (e.g. a body undici cannot send): nothing was sent.
    return new PraaSError("BAD_REQUEST", `invalid request to ${baseUrl}: ${message}`, {
      cause: error,
    });
  }
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    const text = `control plane at ${baseUrl} did not answer within ${timeoutMs} ms`;
    return new PraaSError("TIMEOUT", text, { cause: error });
  }
  const hint =
    code !== undefined && TLS_ERROR_CODES.has(code)
      ? " (the server's certificate is not trusted: pass the CA certificate that signed it)"
      : "";
  const text = `cannot reach control plane at ${baseUrl}: ${message}${hint}`;
  return new PraaSError("UNAVAILABLE", text, { cause: error });
}
