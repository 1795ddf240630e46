/**
 * Control planes of one test file over a shared redis-server and blob directory, each start a
 * restart of the same deployment (local backend, real processes). Started lazily by the tests;
 * every plane, client, the redis-server and the directory are gone after the file.
 */
import path from "node:path";
import { afterAll, beforeAll } from "vitest";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import type { ControlPlaneOptions } from "../../src/control-plane/config.js";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "./process-harness.js";
import { startRedis, type RedisServer } from "./redis-server.js";

export interface RedisPlanes {
  /** The data dir every plane shares (blobs under `blobs/`). */
  dir(): string;
  redisUrl(): string;
  /** Starts another control plane; resolves a client of it. */
  start(options?: ControlPlaneOptions): Promise<PraaS>;
  /** Stops the plane started last, as a restart would. */
  stopLatest(): Promise<void>;
  /** The client of the plane started last, if one runs. */
  latest(): PraaS | undefined;
}

export function useRedisPlanes(name: string): RedisPlanes {
  let temp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
  let redis: RedisServer | undefined;
  const planes: ControlPlane[] = [];
  const clients: PraaS[] = [];
  beforeAll(async () => {
    temp = await makeTempDir(name);
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const client of clients) await client.close();
    for (const plane of planes) await plane.stop().catch(() => undefined);
    await redis?.stop();
    await temp?.remove();
  });
  const dir = (): string => temp!.dir;
  return {
    dir,
    redisUrl: () => redis!.url,
    async start(options = {}) {
      const plane = await ControlPlane.start({
        port: 0,
        dataDir: dir(),
        store: { kind: "redis", url: redis!.url },
        blobs: { kind: "disk", root: path.join(dir(), "blobs") },
        logLevel: "silent",
        ...options,
      });
      planes.push(plane);
      const client = new PraaS(plane.url);
      clients.push(client);
      return client;
    },
    stopLatest: () => planes.pop()!.stop(),
    latest: () => (planes.length > 0 ? clients.at(-1) : undefined),
  };
}
