// The end-to-end scenario against `praas up --backend docker`: every process a container of
// praas-runtime (create, invoke, messages, swap, resume, delete), limits visible in
// `docker inspect`, and no container left once the control plane stops. Skipped, with the
// reason, when no Docker engine or runtime image is there.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { docker, dockerSkipReason, testControlPlaneId, within } from "../helpers/docker.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { startPraaS, type RunningPraaS } from "../helpers/praas-up.js";
import { scenario } from "./scenario.js";

const skip = await dockerSkipReason();
const planeId = testControlPlaneId("e2e");
const ours = { label: [`praas.control-plane=${planeId}`] };

describe.skipIf(skip !== undefined)("praas up --backend docker (memory store, disk blobs)", () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let praas: RunningPraaS | undefined;
  const running = (): RunningPraaS => praas!;

  beforeAll(async () => {
    temp = await makeTempDir("e2e-docker");
    praas = await startPraaS({
      dataDir: temp.dir,
      extraArgs: ["--backend", "docker", "--control-plane-id", planeId],
    });
  });

  afterAll(async () => {
    try {
      await praas?.stop();
    } finally {
      await temp?.remove();
    }
  });

  scenario(running);

  it("runs each process in a labelled container with its vcpus and memory as limits", async () => {
    const client = new PraaS(running().url);
    try {
      const created = await client.createProcess("counter", "limited", { vcpus: 2, memory: 160 });
      const [info] = await docker.listContainers({
        filters: { label: [...ours.label, "praas.app=counter", "praas.process=limited"] },
      });
      expect(info).toBeDefined();
      const inspected = await docker.getContainer(info!.Id).inspect();
      expect(inspected.HostConfig.NanoCpus).toBe(2e9);
      expect(inspected.HostConfig.Memory).toBe(160 * 1024 * 1024);
      const published = inspected.NetworkSettings.Ports["7000/tcp"]?.[0]?.HostPort;
      expect(created.info.connection?.port).toBe(Number(published));
      // The container goes once its process has exited, just after the delete answered.
      const removed = docker.getContainer(info!.Id).wait({ condition: "removed" });
      await client.deleteProcess("counter", "limited");
      await within(removed, 20_000, "the deleted process's container was not removed");
    } finally {
      await client.close();
    }
  });

  it("leaves no container of its own once it stops", async () => {
    expect(await praas!.stop()).toBe(0);
    praas = undefined;
    expect(await docker.listContainers({ all: true, filters: ours })).toEqual([]);
  });
});
