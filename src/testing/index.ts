/**
 * `praas/testing`: run an application's functions locally, on the real runtime, from a test.
 * `startLocal()` starts a control plane in this process (port 0, memory store, a temporary data
 * directory) whose processes are child processes of this machine, as `praas up` runs them.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ControlPlane } from "../control-plane/control-plane.js";
import type { AppInfo } from "../protocol/index.js";
import { PraaS } from "../sdk/index.js";
import { readManifest } from "../apps/index.js";
import type { LogLevel } from "../logging/index.js";

export interface LocalOptions {
  /** Log level of the embedded control plane; default "warn". */
  logLevel?: LogLevel;
}

export interface LocalPraaS {
  /** The embedded control plane's HTTP URL. */
  readonly url: string;
  /** A client of it. */
  readonly client: PraaS;
  /** Deploys the application in `dir` (default: the current directory). */
  deploy(dir?: string, name?: string): Promise<AppInfo>;
  /** Stops every process, the control plane, and removes the temporary data directory. */
  stop(): Promise<void>;
}

async function appName(dir: string, name: string | undefined): Promise<string> {
  return name ?? (await readManifest(dir)).name ?? path.basename(path.resolve(dir));
}

export async function startLocal(options: LocalOptions = {}): Promise<LocalPraaS> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "praas-local-"));
  const plane = await ControlPlane.start({
    port: 0,
    controlPort: 0,
    dataDir,
    store: { kind: "memory" },
    logLevel: options.logLevel ?? "warn",
  });
  const client = new PraaS(plane.url);
  return {
    url: plane.url,
    client,
    deploy: async (dir = ".", name) => client.deploy(await appName(dir, name), dir),
    stop: async () => {
      await client.close();
      await plane.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
