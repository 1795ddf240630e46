/** What the process manager and its parts are given by the control plane. */
import type { Logger } from "pino";
import type { ProcessBackend } from "../../backends/index.js";
import type { BlobStore, MetadataStore } from "../../storage/index.js";
import type { Cluster } from "../cluster.js";
import type { ControlPlaneConfig } from "../config.js";
import type { ControlLinkServer } from "../control-link-server.js";
import type { LifecycleMetrics } from "../lifecycle-metrics.js";

export interface ManagerDeps {
  config: ControlPlaneConfig;
  store: MetadataStore;
  blobs: BlobStore;
  backend: ProcessBackend;
  links: ControlLinkServer;
  /** Commands to processes linked to any replica go through it. */
  cluster: Cluster;
  log: Logger;
  /** The control-link address processes dial. */
  controlAddress(): string;
  /** Counts and times swap-outs and resumes. */
  metrics?: LifecycleMetrics;
}
