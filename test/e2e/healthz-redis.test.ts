// GET /healthz reports the metadata store: while Redis is gone it says so ("degraded"),
// promptly, and "ok" again once Redis is back. It stays HTTP 200 throughout: every replica
// shares the one Redis, and a load balancer must not take out all of them. Real Redis, real
// `praas up`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../helpers/process-harness.js";
import { startPraaS, type RunningPraaS } from "../helpers/praas-up.js";
import { startRedis, type RedisServer } from "../helpers/redis-server.js";

/** A degraded answer must come well before a load balancer's check gives up. */
const ANSWER_BOUND_MS = 2_000;
/** ioredis retries at most every second; a few attempts and a PING fit easily. */
const RECOVERY_BOUND_MS = 15_000;

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let redisDir: Awaited<ReturnType<typeof makeTempDir>>;
let redis: RedisServer | undefined;
let redisPort = 0;
let praas: RunningPraaS | undefined;

interface Answer {
  status: number;
  body: Record<string, unknown>;
  ms: number;
}

/** One GET /healthz without a token, bounded so a hang fails the test instead of stalling it. */
async function healthz(): Promise<Answer> {
  const started = Date.now();
  const response = await fetch(`${praas!.url}/healthz`, { signal: AbortSignal.timeout(10_000) });
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, body, ms: Date.now() - started };
}

/** Polls /healthz (bounded) until its body's status is `status`. */
async function untilStatus(status: string, boundMs: number): Promise<Answer> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const answer = await healthz();
    if (answer.body.status === status) return answer;
    if (Date.now() > deadline) {
      throw new Error(`/healthz not ${status} after ${boundMs} ms: ${JSON.stringify(answer.body)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  temp = await makeTempDir("e2e-healthz");
  redisDir = await makeTempDir("e2e-healthz-aof");
  redis = await startRedis({ dir: redisDir.dir });
  redisPort = redis.port;
  praas = await startPraaS({ dataDir: temp.dir, redis: redis.url });
});

afterAll(async () => {
  // A failed run may have left Redis stopped: start it so the control plane stops cleanly.
  redis ??= await startRedis({ port: redisPort, dir: redisDir.dir }).catch(() => undefined);
  await praas?.stop();
  await redis?.stop();
  await temp?.remove();
  await redisDir?.remove();
});

describe("GET /healthz with Redis", () => {
  it("says degraded while Redis is down, at once, and ok again once it is back", async () => {
    const up = await healthz();
    expect(up.status).toBe(200);

    await redis!.stop();
    redis = undefined;
    const down = await healthz();
    expect(down.status).toBe(200);
    expect(down.ms).toBeLessThan(ANSWER_BOUND_MS);
    // Same shape as a healthy answer (nothing renamed), plus what is wrong.
    expect(down.body).toMatchObject({
      status: "degraded",
      replica: up.body.replica,
      store: "redis",
      storeStatus: "unreachable",
      blobs: up.body.blobs,
      backend: up.body.backend,
    });
    expect(down.body.reason).toMatch(/metadata store \(Redis\) is unreachable/);

    redis = await startRedis({ port: redisPort, dir: redisDir.dir });
    const back = await untilStatus("ok", RECOVERY_BOUND_MS);
    expect(back.body).toEqual(up.body);
    expect(up.body).toMatchObject({ status: "ok", store: "redis", storeStatus: "reachable" });
    expect(up.body).not.toHaveProperty("reason");
  }, 60_000);
});
