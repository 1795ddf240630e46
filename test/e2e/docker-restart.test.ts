// A docker-backend control plane that dies (SIGKILL) and starts again on the same Redis store
// and control port takes its containers back: a process that re-registers is adopted (state
// and published address intact), a labelled container nobody knows is removed, and after a
// clean stop none is left. Skipped, with the reason, when Docker is not there.
import { describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { docker, dockerSkipReason, testControlPlaneId, within } from "../helpers/docker.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { freePort, startPraaS, type RunningPraaS } from "../helpers/praas-up.js";
import { startRedis, type RedisServer } from "../helpers/redis-server.js";

const skip = await dockerSkipReason();
const planeId = testControlPlaneId("restart");
const ours = { label: [`praas.control-plane=${planeId}`] };
const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");

/** A running container with our labels whose process never registers. */
async function strayContainer(): Promise<string> {
  const container = await docker.createContainer({
    Image: "praas-runtime:latest",
    Entrypoint: ["node", "-e", "setInterval(() => {}, 1000)"],
    Labels: { "praas.control-plane": planeId, "praas.app": "counter", "praas.process": "ghost" },
  });
  await container.start();
  return container.id;
}

async function until(client: PraaS, name: string, status: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await client.getProcess("counter", name)).status !== status) {
    if (Date.now() > deadline) throw new Error(`${name} never became ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(skip !== undefined)("docker backend across a control-plane restart", () => {
  it(
    "adopts re-registering containers, removes unknown ones, leaks none",
    { timeout: 120_000 },
    async () => {
      const temp = await makeTempDir("e2e-docker-restart");
      let redis: RedisServer | undefined;
      const planes: RunningPraaS[] = [];
      const clients: PraaS[] = [];
      try {
        redis = await startRedis();
        const controlPort = await freePort();
        const start = async (): Promise<PraaS> => {
          const plane = await startPraaS({
            dataDir: temp.dir,
            redis: redis!.url,
            controlPort,
            extraArgs: [
              "--backend",
              "docker",
              "--control-plane-id",
              planeId,
              "--reconnect-grace",
              "3000",
            ],
          });
          planes.push(plane);
          clients.push(new PraaS(plane.url));
          return clients.at(-1)!;
        };
        const first = await start();
        await first.deploy("counter", "examples/counter");
        const before = await first.createProcess("counter", "survivor");
        expect(text(await first.invoke("counter", "add", "5", { process: "survivor" }))).toBe("5");
        const ghost = await strayContainer();
        const ghostRemoved = docker.getContainer(ghost).wait({ condition: "removed" });
        await planes[0]!.kill();

        const again = await start();
        await within(ghostRemoved, 30_000, "the unknown container was not removed");
        await until(again, "survivor", "active");
        const after = await again.getProcess("counter", "survivor");
        expect(after.info.connection?.port).toBe(before.info.connection?.port);
        expect(text(await again.invoke("counter", "add", "1", { process: "survivor" }))).toBe("6");
        expect(await planes[1]!.stop()).toBe(0);
        expect(await docker.listContainers({ all: true, filters: ours })).toEqual([]);
      } finally {
        await Promise.allSettled(clients.map((client) => client.close()));
        await Promise.allSettled(planes.map((plane) => plane.stop()));
        for (const info of await docker.listContainers({ all: true, filters: ours }))
          await docker.getContainer(info.Id).remove({ force: true });
        await redis?.stop();
        await temp.remove();
      }
    },
  );
});
