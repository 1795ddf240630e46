// The end-to-end scenario with metadata in a real redis-server and blobs in a real S3 server.
import S3rver from "../helpers/s3-server.js";
import { afterAll, beforeAll, describe } from "vitest";
import { makeTempDir } from "../helpers/process-harness.js";
import { startPraaS, type RunningPraaS } from "../helpers/praas-up.js";
import { startRedis, type RedisServer } from "../helpers/redis-server.js";
import { scenario } from "./scenario.js";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let redis: RedisServer;
let s3: S3rver;
let s3Endpoint: string;
let praas: RunningPraaS;

beforeAll(async () => {
  temp = await makeTempDir("e2e-redis");
  redis = await startRedis();
  s3 = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: `${temp.dir}/s3` });
  const { port } = await s3.run();
  s3Endpoint = `http://127.0.0.1:${port}`;
  praas = await startPraaS({
    dataDir: `${temp.dir}/data`,
    redis: redis.url,
    s3: { endpoint: s3Endpoint, bucket: "praas-e2e" },
  });
});

afterAll(async () => {
  await praas?.stop();
  await s3?.close();
  await redis?.stop();
  await temp?.remove();
});

describe("praas up --redis with S3 blobs", () => {
  scenario(() => praas);
});
