/** Stored records → the JSON the API returns (secrets never leave the control plane). */
import type { AppInfo, ProcessInfo } from "../protocol/index.js";
import type { AppRecord, ProcessRecord } from "../storage/index.js";

export function toAppInfo(record: AppRecord): AppInfo {
  return {
    name: record.name,
    version: record.version,
    functions: [...record.functions],
    defaults: copyDefaults(record.defaults),
    createdAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
  };
}

export function toProcessInfo(record: ProcessRecord): ProcessInfo {
  const info: ProcessInfo = {
    app: record.app,
    name: record.name,
    status: record.status,
    resources: { ...record.resources },
    limits: { ...record.limits },
    durability: record.durability ?? "memory",
    createdAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
  };
  if (record.connection && record.status === "active") info.connection = { ...record.connection };
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
  return info;
}

function copyDefaults(defaults: AppRecord["defaults"]): AppInfo["defaults"] {
  const copy = { ...defaults };
  if (defaults.limits) copy.limits = { ...defaults.limits };
  return copy;
}

export function snapshotKey(app: string, name: string): string {
  return `swaps/${app}/${name}`;
}
