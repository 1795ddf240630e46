/** Stored records → the JSON the API returns (secrets never leave the control plane). */
import type {
  AlarmInfo,
  AppInfo,
  AppVersionInfo,
  ProcessInfo,
  ProcessStatus,
} from "../protocol/index.js";
import type { AlarmRecord, AppRecord, AppVersionRecord, ProcessRecord } from "../storage/index.js";

/** The kept versions; a record written before versions were kept knows only its current one. */
export function versionsOf(record: AppRecord): AppVersionRecord[] {
  return record.history ?? [currentVersion(record)];
}

export function currentVersion(record: AppRecord): AppVersionRecord {
  const { version, bundleKey, functions, defaults, env, permissions, serialize } = record;
  const deployedAt = record.updatedAt;
  return { version, bundleKey, functions, defaults, env, permissions, serialize, deployedAt };
}

function toVersionInfo(entry: AppVersionRecord): AppVersionInfo {
  const info: AppVersionInfo = {
    version: entry.version,
    functions: [...entry.functions],
    deployedAt: new Date(entry.deployedAt).toISOString(),
  };
  if (entry.rollbackOf !== undefined) info.rollbackOf = entry.rollbackOf;
  return info;
}

export function toAppInfo(record: AppRecord): AppInfo {
  return {
    name: record.name,
    version: record.version,
    functions: [...record.functions],
    defaults: copyDefaults(record.defaults),
    versions: versionsOf(record).map(toVersionInfo),
    ...(record.secrets ? { secrets: Object.keys(record.secrets).sort() } : {}),
    createdAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
  };
}

/** Which list of `GET /apps/:app/processes` a process appears in (a deleted one in none). */
export function listGroupOf(status: ProcessStatus): "active" | "swapped" | "failed" | undefined {
  if (status === "swapped" || status === "failed") return status;
  return status === "deleted" ? undefined : "active";
}

export function toProcessInfo(record: ProcessRecord): ProcessInfo {
  const info: ProcessInfo = {
    app: record.app,
    name: record.name,
    status: record.status,
    resources: { ...record.resources },
    limits: { ...record.limits },
    durability: record.durability ?? "memory",
    ...(record.version === undefined ? {} : { version: record.version }),
    createdAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
  };
  if (record.connection && record.status === "active") info.connection = { ...record.connection };
  if (record.backendId && record.status === "active") info.backendId = record.backendId;
  if (record.stateSize !== undefined) info.stateSize = record.stateSize;
  if (record.error !== undefined) info.error = record.error;
  if (record.autoAllocated) info.auto = true;
  if (record.idleSwapMs !== undefined) info.idleSwapMs = record.idleSwapMs;
  if (record.status === "swapped" && record.swapReason) info.swapReason = record.swapReason;
  if (record.status === "swapped" && record.idleSince !== undefined)
    info.idleSince = new Date(record.idleSince).toISOString();
  if (record.lastFailure !== undefined) {
    const { at, reason } = record.lastFailure;
    info.lastFailure = { at: new Date(at).toISOString(), reason };
  }
  if (record.alarms && record.alarms.length > 0) info.alarms = toAlarmInfos(record.alarms);
  return info;
}

/** Earliest first, without the payloads (they may hold what only the function should see). */
function toAlarmInfos(alarms: readonly AlarmRecord[]): AlarmInfo[] {
  return [...alarms]
    .sort((a, b) => a.at - b.at)
    .map(({ fn, at, attempts }) => ({
      function: fn,
      at: new Date(at).toISOString(),
      ...(attempts ? { attempts } : {}),
    }));
}

function copyDefaults(defaults: AppRecord["defaults"]): AppInfo["defaults"] {
  const copy = { ...defaults };
  if (defaults.limits) copy.limits = { ...defaults.limits };
  return copy;
}

export function snapshotKey(app: string, name: string): string {
  return `swaps/${app}/${name}`;
}
