// The end-to-end scenario against `praas up` with its defaults: memory store, disk blobs.
import { afterAll, beforeAll, describe } from "vitest";
import { makeTempDir } from "../helpers/process-harness.js";
import { startPraaS, type RunningPraaS } from "../helpers/praas-up.js";
import { scenario } from "./scenario.js";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let praas: RunningPraaS;

beforeAll(async () => {
  temp = await makeTempDir("e2e-local");
  praas = await startPraaS({ dataDir: temp.dir });
});

afterAll(async () => {
  await praas?.stop();
  await temp?.remove();
});

describe("praas up (memory store, disk blobs)", () => {
  scenario(() => praas);
});
