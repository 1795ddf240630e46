/**
 * One control plane for a test file, in the test process (memory store, local backend, real
 * processes), with one application deployed from a fixture directory; it, its client and its
 * data dir are gone after the file.
 */
import { afterAll, beforeAll } from "vitest";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "./process-harness.js";

export interface DeployedPlane {
  plane(): ControlPlane;
  client(): PraaS;
}

export function useDeployedPlane(label: string, app: string, dir: string): DeployedPlane {
  let temp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
  let plane: ControlPlane | undefined;
  let client: PraaS | undefined;
  beforeAll(async () => {
    temp = await makeTempDir(label);
    plane = await ControlPlane.start({ port: 0, dataDir: temp.dir, logLevel: "warn" });
    client = new PraaS(plane.url);
    await client.deploy(app, dir);
  });
  afterAll(async () => {
    await client?.close();
    await plane?.stop();
    await temp?.remove();
  });
  return { plane: () => plane!, client: () => client! };
}
