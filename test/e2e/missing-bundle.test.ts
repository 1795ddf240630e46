// An application's bundle gone from the blob store and from the local backend's cache (a
// cleaned data dir, a lost bucket object): creating or resuming one of its processes fails with
// STORAGE_ERROR naming the application, its version and the blob key, from the CLI, HTTP and a
// resume on invoke alike; nothing of the swapped process is lost, and putting the file back is
// all it takes. Real `praas up` (file store, disk blobs, local backend with its warm pool).
import { readdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { cli, failure, startPraaS, type RunningPraaS } from "../helpers/praas-up.js";

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");
const MISSING =
  /bundle of application counter version 1 is missing from the blob store \(apps\/counter\/[0-9a-f]{64}\.mjs\)/;

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let praas: RunningPraaS | undefined;
let client: PraaS | undefined;

beforeAll(async () => {
  temp = await makeTempDir("e2e-missing-bundle");
  praas = await startPraaS({ dataDir: temp.dir });
  client = new PraaS(praas.url);
});

afterAll(async () => {
  for (const name of ["p1", "p2"]) await client?.deleteProcess("counter", name).catch(() => {});
  await client?.close();
  await praas?.stop();
  await temp?.remove();
});

/** The one file in `dir` (the app's bundle, in the blob store or the backend's cache). */
async function onlyFile(dir: string): Promise<string> {
  const files = await readdir(dir);
  expect(files).toHaveLength(1);
  return path.join(dir, files[0]!);
}

describe("an application bundle missing from the blob store and the cache", () => {
  it("fails create and resume with STORAGE_ERROR naming it; the swapped process keeps its state", async () => {
    await client!.deploy("counter", "examples/counter");
    await client!.createProcess("counter", "p1", { memory: 128 });
    await client!.invoke("counter", "add", "5", { process: "p1" });
    await client!.swap("counter", "p1");
    const blob = await onlyFile(path.join(temp.dir, "blobs", "apps", "counter"));
    const cached = await onlyFile(path.join(temp.dir, "bundles"));
    const snapshotFile = path.join(temp.dir, "blobs", "swaps", "counter", "p1");
    const snapshot = await readFile(snapshotFile);
    const aside = path.join(temp.dir, "bundle-aside.mjs");
    await rename(blob, aside);
    await rm(cached);

    const resumed = await cli(["process", "resume", "counter", "p1"], { PRAAS_URL: praas!.url });
    expect(resumed.code).toBe(1);
    expect(resumed.stderr).toContain("STORAGE_ERROR");
    expect(resumed.stderr).toMatch(MISSING);

    const created = await fetch(`${praas!.url}/apps/counter/processes/p2`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ memory: 128 }),
    });
    const body = (await created.json()) as { error: { code: string; message: string } };
    expect(created.status).toBe(500);
    expect(body.error.code).toBe("STORAGE_ERROR");
    expect(body.error.message).toMatch(MISSING);

    const invoked = await failure(client!.invoke("counter", "get", "", { process: "p1" }));
    expect(invoked.code).toBe("STORAGE_ERROR");
    expect(invoked.message).toMatch(MISSING);

    // Nothing lost, nothing half made.
    expect((await client!.getProcess("counter", "p1")).status).toBe("swapped");
    expect(await readFile(snapshotFile)).toEqual(snapshot);
    expect((await failure(client!.getProcess("counter", "p2"))).code).toBe("PROCESS_NOT_FOUND");

    // The blob back (the cache stays gone: the backend writes it again) and p1 resumes as it was.
    await rename(aside, blob);
    expect((await client!.resume("counter", "p1")).status).toBe("active");
    expect(text(await client!.invoke("counter", "get", "", { process: "p1" }))).toBe("5");
  }, 60_000);
});
