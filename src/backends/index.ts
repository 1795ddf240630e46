export type { ExitInfo, ProcessBackend, ProcessSpec, StartedProcess } from "./backend.js";
export { LocalBackend, type LocalBackendOptions } from "./local-backend.js";
export { DockerBackend, walVolume, type DockerBackendOptions } from "./docker-backend.js";
