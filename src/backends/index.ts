export type { ExitInfo, ProcessBackend, ProcessSpec, StartedProcess } from "./backend.js";
export { LocalBackend, type LocalBackendOptions } from "./local-backend.js";
