/**
 * The page's only way to the control plane: the same HTTP API the SDK and CLI use, with the
 * API token (when the control plane has one) on every call. The token is asked for once, when
 * a call answers 401, and kept in sessionStorage: gone when the tab closes, never in the URL.
 */
import type {
  AppInfo,
  AppMetricsSummary,
  ProcessInfo,
  ProcessListInfo,
  ProcessStateInfo,
} from "../protocol/api.js";
import type { LogRecord } from "../protocol/logs.js";

const TOKEN_KEY = "praas.token";

/** A failed call, as the API described it (`{error: {code, message}}`). */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const isUnauthorized = (error: unknown): boolean =>
  error instanceof ApiError && error.code === "UNAUTHORIZED";

export function saveToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

async function failure(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const { error } = JSON.parse(text) as { error: { code: string; message: string } };
    return new ApiError(error.code, error.message);
  } catch {
    return new ApiError("UNAVAILABLE", `${response.status} ${text.slice(0, 200)}`);
  }
}

async function call(method: string, path: string, body?: BodyInit): Promise<Response> {
  const response = await fetch(path, { method, headers: headers(), ...(body ? { body } : {}) });
  if (!response.ok) throw await failure(response);
  return response;
}

async function json<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: headers() };
  if (body !== undefined) {
    init.headers = headers({ "content-type": "application/json" });
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  return (await response.json()) as T;
}

const app = (name: string) => `/apps/${encodeURIComponent(name)}`;
const proc = (name: string, process: string) =>
  `${app(name)}/processes/${encodeURIComponent(process)}`;

export const api = {
  apps: async () => (await json<{ apps: AppInfo[] }>("GET", "/apps")).apps,
  processes: (name: string) => json<ProcessListInfo>("GET", `${app(name)}/processes`),
  metrics: (name: string) => json<AppMetricsSummary>("GET", `${app(name)}/metrics`),
  state: (name: string, process: string) =>
    json<ProcessStateInfo>("GET", `${proc(name, process)}/state`),
  create: (name: string, process: string, body: { vcpus?: number; memory?: number }) =>
    json<ProcessInfo>("PUT", proc(name, process), body),
  swap: (name: string, process: string) => json<ProcessInfo>("POST", `${proc(name, process)}/swap`),
  resume: (name: string, process: string) =>
    json<ProcessInfo>("POST", `${proc(name, process)}/resume`),
  remove: (name: string, process: string) => call("DELETE", proc(name, process)),
  /** The function's output as text (the page shows it; binary output shows as replacement characters). */
  invoke: async (name: string, fn: string, process: string, payload: string) => {
    const path = `${app(name)}/invoke/${encodeURIComponent(fn)}?process=${encodeURIComponent(process)}`;
    return (await call("POST", path, payload)).text();
  },
};

/**
 * Follows a process's log lines (the last 5 minutes first) until `signal` aborts: the JSON-lines
 * form of `GET /apps/:app/logs?follow=1`, read with fetch, because EventSource cannot send
 * the Authorization header.
 */
export async function followLogs(
  name: string,
  process: string,
  onRecord: (record: LogRecord) => void,
  signal: AbortSignal,
): Promise<void> {
  const query = `process=${encodeURIComponent(process)}&since=5m&follow=1`;
  const response = await fetch(`${app(name)}/logs?${query}`, { headers: headers(), signal });
  if (!response.ok || !response.body) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let partial = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    const lines = (partial + value).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") onRecord(JSON.parse(line) as LogRecord);
  }
}
