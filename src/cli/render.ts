/** Human-readable forms of the control plane's answers (`--json` prints them as they are). */
import type {
  AppDefaultsInfo,
  AppInfo,
  AppVersionInfo,
  ProcessInfo,
  ProcessLimits,
  ProcessListInfo,
} from "../protocol/index.js";
import { formatBytes, formatFields, formatTable } from "./output.js";

/** `maxConnections=10, invocationTimeoutMs=500`; undefined when none is set. */
function formatLimits(limits: ProcessLimits | undefined): string | undefined {
  const parts = Object.entries(limits ?? {}).map(([key, value]) => `${key}=${value}`);
  return parts.length === 0 ? undefined : parts.join(", ");
}

function formatDefaults(defaults: AppDefaultsInfo): string | undefined {
  const parts = [
    defaults.vcpus === undefined ? undefined : `${defaults.vcpus} vCPU`,
    defaults.memory === undefined ? undefined : `${defaults.memory} MiB`,
    formatLimits(defaults.limits),
  ].filter((part) => part !== undefined);
  return parts.length === 0 ? undefined : parts.join(", ");
}

function versionLabel(entry: AppVersionInfo): string {
  return entry.rollbackOf === undefined
    ? String(entry.version)
    : `${entry.version} (= ${entry.rollbackOf})`;
}

export function renderApp(app: AppInfo): string {
  return formatFields([
    ["application", app.name],
    ["version", String(app.version)],
    ["kept versions", app.versions.map(versionLabel).join(", ")],
    ["functions", app.functions.join(", ") || "(none)"],
    ["defaults", formatDefaults(app.defaults)],
    ...(app.secrets ? [["secrets", app.secrets.join(", ")] as [string, string]] : []),
    ["created", app.createdAt],
    ["updated", app.updatedAt],
  ]);
}

export function renderAppList(apps: AppInfo[]): string {
  if (apps.length === 0) return "no applications";
  const rows = apps.map((app) => [
    app.name,
    String(app.version),
    app.functions.join(","),
    app.updatedAt,
  ]);
  return formatTable(["NAME", "VERSION", "FUNCTIONS", "UPDATED"], rows);
}

/** host:port, or for a process behind NAT how it is paired and where. */
function endpoint(info: ProcessInfo): string | undefined {
  const connection = info.connection;
  if (!connection) return undefined;
  const { path, rendezvous } = connection;
  if (path === undefined || path === "direct") return `${connection.host}:${connection.port}`;
  return `${path} via rendezvous ${rendezvous ? `${rendezvous.host}:${rendezvous.port}` : "?"}`;
}

/** `direct 2, punch 1, relay 0`: open data-plane connections by the path each took. */
function connectionCounts(info: ProcessInfo): string | undefined {
  const counts = info.connections;
  return (
    counts &&
    Object.entries(counts)
      .map(([path, n]) => `${path} ${n}`)
      .join(", ")
  );
}

function stateSize(info: ProcessInfo): string | undefined {
  return info.stateSize === undefined ? undefined : formatBytes(info.stateSize);
}

// The connection token is a secret: only `--json` shows it.
export function renderProcess(info: ProcessInfo): string {
  return formatFields([
    ["process", `${info.app}/${info.name}`],
    ["status", info.status],
    ["resources", `${info.resources.vcpus} vCPU, ${info.resources.memory} MiB`],
    ["limits", formatLimits(info.limits)],
    ["durability", info.durability],
    ["version", info.version === undefined ? undefined : String(info.version)],
    ["allocated", info.auto ? "auto (for invocations without --process)" : undefined],
    ["idle swap", idleSwap(info)],
    ["endpoint", endpoint(info)],
    ["connections", connectionCounts(info)],
    ["state size", stateSize(info)],
    ["swapped", swapped(info)],
    ["error", info.error],
    ["last failure", info.lastFailure && `${info.lastFailure.at}: ${info.lastFailure.reason}`],
    ["alarms", alarms(info)],
    ["created", info.createdAt],
    ["updated", info.updatedAt],
  ]);
}

/** `after 10 min unused`, `never`; undefined for records that predate idle swap-out. */
function idleSwap(info: ProcessInfo): string | undefined {
  if (info.idleSwapMs === undefined) return undefined;
  if (info.idleSwapMs === 0) return "never";
  const ms = info.idleSwapMs;
  const amount =
    ms % 60_000 === 0 ? `${ms / 60_000} min` : ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
  return `after ${amount} unused`;
}

/** `alarm at 2026-…, tick at …`; undefined when none is set. */
function alarms(info: ProcessInfo): string | undefined {
  if (!info.alarms || info.alarms.length === 0) return undefined;
  return info.alarms
    .map((alarm) => {
      const retry = alarm.attempts ? ` (after ${alarm.attempts} attempts)` : "";
      return `${alarm.function} at ${alarm.at}${retry}`;
    })
    .join(", ");
}

/** `idle (unused since …)`, `request`; undefined unless swapped. */
function swapped(info: ProcessInfo): string | undefined {
  if (info.swapReason === undefined) return undefined;
  if (info.swapReason !== "idle" || info.idleSince === undefined) return info.swapReason;
  return `idle (unused since ${info.idleSince})`;
}

function processRow(info: ProcessInfo): string[] {
  return [
    info.auto ? `${info.name} (auto)` : info.name,
    info.status,
    String(info.resources.vcpus),
    `${info.resources.memory} MiB`,
    info.version === undefined ? "-" : String(info.version),
    endpoint(info) ?? "-",
    stateSize(info) ?? "-",
  ];
}

export function renderProcessList(list: ProcessListInfo): string {
  const all = [...list.active, ...list.swapped, ...list.failed];
  if (all.length === 0) return "no processes";
  const headers = ["NAME", "STATUS", "VCPUS", "MEMORY", "VERSION", "ENDPOINT", "STATE"];
  return formatTable(headers, all.map(processRow));
}
