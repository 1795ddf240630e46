/**
 * One control plane for a test file, in the test process (memory store, local backend, real
 * processes), optionally with one application deployed from a fixture directory; it, its
 * client and its data dir are gone after the file.
 */
import { afterAll, beforeAll } from "vitest";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "./process-harness.js";

export interface DeployedPlane {
  plane(): ControlPlane;
  client(): PraaS;
  /** The test's own temporary directory (the data dir is inside it). */
  dir(): string;
}

export function useDeployedPlane(label: string, app?: string, appDir?: string): DeployedPlane {
  let temp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
  let plane: ControlPlane | undefined;
  let client: PraaS | undefined;
  beforeAll(async () => {
    temp = await makeTempDir(label);
    plane = await ControlPlane.start({ port: 0, dataDir: temp.dir, logLevel: "silent" });
    client = new PraaS(plane.url);
    if (app !== undefined && appDir !== undefined) await client.deploy(app, appDir);
  });
  afterAll(async () => {
    await client?.close();
    await plane?.stop();
    await temp?.remove();
  });
  return { plane: () => plane!, client: () => client!, dir: () => temp!.dir };
}
