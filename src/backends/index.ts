export type { ExitInfo, ProcessBackend, ProcessSpec, StartedProcess } from "./backend.js";
export type { WarmPoolStats } from "./warm-pool.js";
export { LocalBackend, type LocalBackendOptions } from "./local-backend.js";
export { DockerBackend, walVolume, type DockerBackendOptions } from "./docker-backend.js";
