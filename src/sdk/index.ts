/** The PraaS client SDK (`praas/sdk`). */
export {
  ProcessConnection,
  connect,
  type ConnectionInfo,
  type ConnectOptions,
} from "./connection.js";
export {
  PraaS,
  DEFAULT_TIMEOUT_MS,
  type InvocationResult,
  type InvokeOptions,
  type LogsOptions,
  type PraaSOptions,
} from "./client.js";
export { Process } from "./process.js";
export { PraaSError, ERROR_CODES, type ErrorCode } from "../protocol/index.js";
export type { LogRecord, LogLevelName, LogStream } from "../protocol/logs.js";
export type { ProcessLimits, ProcessLimitKey } from "../protocol/limits.js";
export type {
  AppDefaultsInfo,
  AppInfo,
  AppMetricsSummary,
  CreateProcessBody,
  Durability,
  FailureInfo,
  FunctionSummary,
  ProcessInfo,
  ProcessListInfo,
  ProcessStateInfo,
  ProcessStatus,
  ProcessSummary,
  ResourcesInfo,
  StateKeyInfo,
} from "../protocol/api.js";
