// A clean stop of the control plane swaps its processes out. When the disk is full, a process
// whose state cannot be stored is left running with it, not stopped: the next control plane
// finds it again, with every update. Real `praas up`, redis-server and a real full disk.
import { rmSync } from "node:fs";
import { expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { runProcessesMatching } from "../helpers/process-harness.js";
import {
  freePort,
  portClosed,
  startPraaS,
  untilLinked,
  type RunningPraaS,
} from "../helpers/praas-up.js";
import { startRedis, type RedisServer } from "../helpers/redis-server.js";
import { fillDisk, mountSmallDisk, type SmallDisk } from "../helpers/small-disk.js";

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");

/** Polls (bounded) until the process answers `add 0` through the control plane. */
async function answering(client: PraaS, name: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answer = await client.invoke("counter", "add", "0", { process: name }).then(
      (bytes) => text(bytes),
      (error: unknown) => {
        if (Date.now() > deadline) throw error;
        return undefined;
      },
    );
    if (answer !== undefined) return answer;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

it("a stop on a full disk leaves a process with unsaved state running; a restart finds it", async () => {
  let disk: SmallDisk | undefined;
  let redis: RedisServer | undefined;
  const planes: RunningPraaS[] = [];
  const clients: PraaS[] = [];
  try {
    disk = await mountSmallDisk("full-stop", 16);
    redis = await startRedis();
    const controlPort = await freePort();
    const up = async (): Promise<PraaS> => {
      const dataDir = disk!.root;
      const extraArgs = ["--warm-pool", "0"];
      const plane = await startPraaS({ dataDir, redis: redis!.url, controlPort, extraArgs });
      planes.push(plane);
      clients.push(new PraaS(plane.url));
      return clients.at(-1)!;
    };
    const first = await up();
    await first.deploy("counter", "examples/counter");
    const { info } = await first.createProcess("counter", "kept");
    expect(text(await first.invoke("counter", "add", "5", { process: "kept" }))).toBe("5");
    const filler = fillDisk(disk.root);

    expect(await planes[0]!.stop()).toBe(0);
    // Not stopped: its state exists nowhere else.
    expect(await portClosed(info.connection!.host, info.connection!.port)).toBe(false);

    rmSync(filler);
    const again = await up();
    expect(await answering(again, "kept")).toBe("5");
    expect(text(await again.invoke("counter", "add", "1", { process: "kept" }))).toBe("6");
    await untilLinked(again, "counter", "kept"); // calls go straight to it; a stop reaches it over its link
    // With room on the disk, the next stop swaps it out as usual, and nothing is left running.
    expect(await planes[1]!.stop()).toBe(0);
    expect(await portClosed(info.connection!.host, info.connection!.port)).toBe(true);
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()));
    await Promise.allSettled(planes.map((plane) => plane.stop()));
    // A process left running by a failed assertion would outlive the test otherwise.
    for (const pid of disk ? runProcessesMatching(disk.root) : []) process.kill(pid, "SIGKILL");
    await redis?.stop();
    await disk?.unmount();
  }
});
